"""Invoice actions for people (CLI and UI flows): send, PDF, share link, void, delete, list.

Each action works on one QuickBooks invoice by its Id and refuses, with a message saying what to
change, whatever QuickBooks would refuse (or would do in a way nobody wants: voiding an invoice that
has payments turns them into unapplied credit). When ``InvoiceSettings.allowed_owner_ids`` is set,
send, void and delete are refused for invoices whose deal owner is not in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape
from typing import Any

from dealbooks.clients.qbo import quote
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state
from dealbooks.exceptions import (
    CrmNotFound,
    DealbooksError,
    QboError,
    QboNotFoundError,
    QboValidationError,
)
from dealbooks.notifications import attachment_filename
from dealbooks.tasks.invoicing import today_for
from dealbooks.tasks.reminders import company_profile


class InvoiceActionError(DealbooksError):
    """An action was refused; the message says why and what to change."""

    category = "refused"


@dataclass(frozen=True)
class InvoiceRow:
    """One invoice in a listing."""

    invoice_id: str
    doc_number: str
    txn_date: date | None
    due_date: date | None
    total: Decimal
    balance: Decimal
    currency: str
    status: str
    customer: str
    email: str
    deal: str


def _read(ctx: Any, invoice_id: str, *, include_link: bool = False) -> dict[str, Any]:
    try:
        return ctx.qbo.get_invoice(invoice_id, include_link=include_link)
    except QboNotFoundError as exc:
        raise InvoiceActionError(f"Invoice {invoice_id} does not exist in QuickBooks (it was deleted, or the id is "
                                 "wrong; `dealbooks invoice list` shows the ids).", category="not_found") from exc


def _today(ctx: Any) -> date:
    return today_for(company_profile(ctx.qbo, ctx.settings))  # type: ignore[arg-type]


def _name(invoice: dict[str, Any]) -> str:
    return str(invoice.get("DocNumber") or invoice.get("Id"))


def authorize(ctx: Any, invoice_id: str) -> Any:
    """The invoice's deal link, after checking ``InvoiceSettings.allowed_owner_ids`` (when set).

    Raises:
        InvoiceActionError: the deal's owner may not manage invoices, or the owner cannot be known.
    """
    link = ctx.ledger.links.for_invoice(ctx.qbo.realm_id, invoice_id)
    allowed = list(ctx.settings.allowed_owner_ids or [])
    if not allowed:
        return link
    if link is None:
        raise InvoiceActionError(
            f"Invoice {invoice_id} is not linked to a deal, so its owner cannot be checked against "
            f"InvoiceSettings.allowed_owner_ids ({', '.join(allowed)}); link it to its deal first "
            "(`dealbooks invoice link`) or manage it in QuickBooks.", category="not_allowed")
    try:
        owner = ctx.crm(link.crm).get_deal(link.deal_id).owner_id
    except CrmNotFound as exc:
        raise InvoiceActionError(f"Invoice {invoice_id} is linked to {link.crm} deal {link.deal_id}, which no longer "
                                 "exists, so its owner cannot be checked; unlink it or manage it in QuickBooks.",
                                 category="not_allowed") from exc
    if owner not in allowed:
        raise InvoiceActionError(
            f"Invoice {invoice_id} belongs to {link.crm} deal {link.deal_id}, owned by user {owner or '(none)'}, "
            f"who may not manage invoices (InvoiceSettings.allowed_owner_ids: {', '.join(allowed)}).",
            category="not_allowed")
    return link


def _note(ctx: Any, link: Any, html: str) -> str:
    """Add a note to the linked deal; returns a remark (empty when there is no deal)."""
    if link is None:
        return ""
    try:
        ctx.crm(link.crm).add_note(link.deal_id, html)
    except DealbooksError as exc:
        return f" (the note on {link.crm} deal {link.deal_id} failed: {exc.message})"
    return f" Noted on {link.crm} deal {link.deal_id}."


def _refused(action: str, invoice: dict[str, Any], exc: QboError) -> InvoiceActionError:
    return InvoiceActionError(f"QuickBooks refused to {action} invoice {_name(invoice)}: {exc.message}",
                              category=exc.category)


def send_invoice(ctx: Any, invoice_id: str, to: str | None = None) -> dict[str, Any]:
    """Email the invoice from QuickBooks (to its BillEmail, or ``to``, which replaces it).

    Returns:
        ``{"invoice_id", "doc_number", "to", "email_status", "sent_at", "message"}``.
    """
    link = authorize(ctx, invoice_id)
    invoice = _read(ctx, invoice_id)
    address = (to or (invoice.get("BillEmail") or {}).get("Address") or "").strip()
    if not address:
        raise InvoiceActionError(f"Invoice {_name(invoice)} has no billing email, so QuickBooks cannot send it: pass "
                                 "--to EMAIL (it becomes the invoice's billing email) or add an email to the "
                                 "invoice or its customer in QuickBooks.", category="no_email")
    try:
        sent = ctx.qbo.send_invoice(invoice_id, to=to.strip() if to else None)
    except QboValidationError as exc:
        raise _refused("send", invoice, exc) from exc
    sent_at = (sent.get("DeliveryInfo") or {}).get("DeliveryTime", "")
    message = f"Invoice {_name(sent)} emailed by QuickBooks to {address}."
    message += _note(ctx, link, f"<b>Invoice {escape(_name(sent))}</b> emailed from QuickBooks to {escape(address)}.")
    return {"invoice_id": invoice_id, "doc_number": sent.get("DocNumber", ""), "to": address,
            "email_status": sent.get("EmailStatus", ""), "sent_at": sent_at, "message": message}


def invoice_pdf(ctx: Any, invoice_id: str) -> tuple[bytes, str]:
    """The invoice PDF from QuickBooks and a file name for it (``Invoice-<number>.pdf``)."""
    invoice = _read(ctx, invoice_id)
    try:
        return ctx.qbo.invoice_pdf(invoice_id), attachment_filename(_name(invoice))
    except QboNotFoundError as exc:
        raise _refused("give the PDF of", invoice, exc) from exc


def share_link(ctx: Any, invoice_id: str) -> str:
    """The customer's view/pay link (QBO ``InvoiceLink``).

    Raises:
        InvoiceActionError: QuickBooks gives no link for this invoice; the message says why and what to change.
    """
    invoice = _read(ctx, invoice_id, include_link=True)
    if invoice.get("InvoiceLink"):
        return str(invoice["InvoiceLink"])
    reasons = []
    if invoice_state(invoice, date.today()).status == InvoiceStatus.VOIDED:
        reasons.append("it is voided (a voided invoice has nothing to pay)")
    sales = ctx.qbo.preferences().get("SalesFormsPrefs") or {}
    if not sales.get("ETransactionPaymentEnabled"):
        reasons.append("online payments are off for this QuickBooks company (turn on QuickBooks Payments and "
                       "online invoice payments under Account and Settings → Payments)")
    if not (invoice.get("BillEmail") or {}).get("Address"):
        reasons.append("the invoice has no billing email (add one in QuickBooks, or send it with "
                       f"`dealbooks invoice send {invoice_id} --to EMAIL`, which sets it)")
    if not reasons:
        reasons.append("QuickBooks did not return an InvoiceLink for it (check that the customer can pay online)")
    raise InvoiceActionError(f"QuickBooks gives no share link for invoice {_name(invoice)}: "
                             + "; ".join(reasons) + ".", category="no_share_link")


def void_invoice(ctx: Any, invoice_id: str) -> InvoiceState:
    """Void the invoice in QuickBooks (amounts become 0, the record stays).

    Refused when it is voided already or has payments applied (voiding would silently turn them
    into unapplied credit; unapply or delete the payment in QuickBooks first).
    """
    link = authorize(ctx, invoice_id)
    invoice = _read(ctx, invoice_id)
    state = invoice_state(invoice, date.today())
    if state.status == InvoiceStatus.VOIDED:
        raise InvoiceActionError(f"Invoice {_name(invoice)} is already voided.", category="already_voided")
    if state.payment_ids or state.status == InvoiceStatus.PAID:
        raise InvoiceActionError(
            f"Invoice {_name(invoice)} has payments applied ({state.amount_paid} of {state.total} paid), so it "
            "cannot be voided: voiding would turn the payments into unapplied credit. Unapply or delete the "
            "payment in QuickBooks first (or issue a credit memo).", category="has_payments")
    try:
        voided = ctx.qbo.void_invoice(invoice_id)
    except QboError as exc:
        raise _refused("void", invoice, exc) from exc
    _note(ctx, link, f"<b>Invoice {escape(_name(invoice))}</b> voided in QuickBooks.")
    return invoice_state(voided, date.today())


def delete_invoice(ctx: Any, invoice_id: str) -> dict[str, Any]:
    """Delete the invoice in QuickBooks and remove its deal link from the ledger.

    Returns:
        ``{"invoice_id", "doc_number", "unlinked": "<crm>:<deal>" or "", "message"}``.
    """
    link = authorize(ctx, invoice_id)
    invoice = _read(ctx, invoice_id)
    try:
        ctx.qbo.delete_invoice(invoice_id)
    except QboNotFoundError as exc:
        raise InvoiceActionError(f"Invoice {_name(invoice)} was already deleted in QuickBooks.",
                                 category="not_found") from exc
    except QboError as exc:
        raise _refused("delete", invoice, exc) from exc
    unlinked = ctx.ledger.links.unlink(ctx.qbo.realm_id, invoice_id)
    deal = f"{link.crm}:{link.deal_id}" if link is not None and unlinked else ""
    message = f"Invoice {_name(invoice)} deleted in QuickBooks."
    if deal:
        message += f" Unlinked from deal {deal}."
        message += _note(ctx, link, f"<b>Invoice {escape(_name(invoice))}</b> deleted in QuickBooks and unlinked "
                                    "from this deal.")
    return {"invoice_id": invoice_id, "doc_number": invoice.get("DocNumber", ""), "unlinked": deal, "message": message}


def list_invoices(ctx: Any, *, crm: str | None = None, deal_id: str | None = None, customer_id: str | None = None,
                  since: date | None = None, until: date | None = None) -> list[InvoiceRow]:
    """A deal's invoices (from the ledger links) or a customer's (from QuickBooks), by ``TxnDate`` range.

    Invoices linked to the deal but deleted in QuickBooks are listed as ``deleted`` when no date
    range is given (their date is gone with them).
    """
    if since and until and since > until:
        raise InvoiceActionError(f"--since {since} is after --until {until}.", category="bad_request")
    qbo, realm = ctx.qbo, ctx.qbo.realm_id
    if crm and deal_id:
        links = ctx.ledger.links.for_deal(crm, str(deal_id))
        ids = [link.invoice_id for link in links]
        found = qbo.query_all(f"SELECT * FROM Invoice WHERE Id IN ({', '.join(quote(i) for i in ids)})") if ids else []
        found = [inv for inv in found if _in_range(inv, since, until)]
        deals = {link.invoice_id: f"{link.crm}:{link.deal_id}" for link in links}
    elif customer_id:
        where = [f"CustomerRef = {quote(str(customer_id))}"]
        where += [f"TxnDate >= '{since.isoformat()}'"] if since else []
        where += [f"TxnDate <= '{until.isoformat()}'"] if until else []
        found = qbo.query_all(f"SELECT * FROM Invoice WHERE {' AND '.join(where)} ORDERBY TxnDate")
        ids = [str(inv["Id"]) for inv in found]
        deals = {i: f"{link.crm}:{link.deal_id}" for i, link in ctx.ledger.links.for_invoices(realm, ids).items()}
    else:
        raise InvoiceActionError("Say whose invoices to list: --crm CRM --deal ID, or --customer ID.",
                                 category="bad_request")
    today = _today(ctx)
    rows = [_row(invoice_state(inv, today), inv, deals.get(str(inv["Id"]), "")) for inv in found]
    if crm and deal_id and not since and not until:
        present = {row.invoice_id for row in rows}
        rows += [InvoiceRow(link.invoice_id, link.doc_number, None, None, Decimal(0), Decimal(0), "",
                            str(InvoiceStatus.DELETED), "", "", deals[link.invoice_id])
                 for link in links if link.invoice_id not in present]
    return sorted(rows, key=lambda r: (r.txn_date or date.max, r.invoice_id))


def _in_range(invoice: dict[str, Any], since: date | None, until: date | None) -> bool:
    txn = date.fromisoformat(str(invoice.get("TxnDate"))[:10]) if invoice.get("TxnDate") else None
    return txn is None or ((since is None or txn >= since) and (until is None or txn <= until))


def _row(state: InvoiceState, invoice: dict[str, Any], deal: str) -> InvoiceRow:
    return InvoiceRow(state.invoice_id, state.doc_number, state.txn_date, state.due_date, state.total, state.balance,
                      state.currency, str(state.status), state.customer_name or state.customer_id, state.bill_email,
                      deal)
