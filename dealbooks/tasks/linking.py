"""Linking QuickBooks invoices created outside dealbooks to a deal, by command or by rule.

A linked invoice is stored as a link with purpose ``linked:<invoice id>`` and origin "linked"; the
status sync then treats it like the deal's own invoice (the deal's fields roll up all of them).

The rule: an invoice of the same QBO customer as the deal's dealbooks invoice, not linked to any
deal, dated (TxnDate) within ``window_days`` of it. When a matching invoice could belong to several
deals, the deal whose invoice is closest in date wins (ties: the oldest link).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dealbooks.clients.qbo_transport import quote
from dealbooks.domain.snapshot_rows import snapshot_row
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state, parse_date
from dealbooks.exceptions import DealbooksError
from dealbooks.ledger import Ledger
from dealbooks.ledger.models import DealInvoiceLink

LINKED_PREFIX = "linked:"


@dataclass(frozen=True)
class LinkedInvoice:
    """The outcome of linking one invoice."""

    crm: str
    deal_id: str
    invoice_id: str
    doc_number: str
    created: bool  # False: it was linked to this deal already


def link_invoice(ledger: Ledger, qbo: Any, crm: str, deal_id: str, invoice_id: str, today: date) -> LinkedInvoice:
    """Link an existing QBO invoice to a deal (idempotent).

    Args:
        ledger: The ledger.
        qbo: The ``QboClient`` (the invoice is read to check it exists).
        crm: "pipedrive" or "hubspot".
        deal_id: The CRM deal.
        invoice_id: The QBO invoice Id.
        today: Company-local day for the invoice's state.

    Raises:
        DealbooksError: ``already_linked`` when the invoice belongs to another deal;
            ``qbo_not_found`` when QBO does not know the invoice (or it was deleted).
    """
    existing = ledger.links.for_invoice(qbo.realm_id, str(invoice_id))
    if existing is not None:
        if (existing.crm, existing.deal_id) != (crm, str(deal_id)):
            raise DealbooksError(f"Invoice {invoice_id} is already linked to {existing.crm} deal {existing.deal_id}; "
                                 "unlink it first (`dealbooks invoice unlink`).", category="already_linked")
        return LinkedInvoice(crm, str(deal_id), str(invoice_id), existing.doc_number, False)
    invoice = qbo.get_invoice(str(invoice_id), include_link=True)
    state = invoice_state(invoice, today)
    return _record(ledger, qbo.realm_id, crm, str(deal_id), state)


def _record(ledger: Ledger, realm_id: str, crm: str, deal_id: str, state: InvoiceState) -> LinkedInvoice:
    result = ledger.links.record(crm=crm, deal_id=deal_id, realm_id=realm_id, invoice_id=state.invoice_id,
                                 purpose=f"{LINKED_PREFIX}{state.invoice_id}", doc_number=state.doc_number,
                                 customer_id=state.customer_id, origin="linked")
    if (result.link.crm, result.link.deal_id) != (crm, deal_id):  # lost a race to another deal
        raise DealbooksError(f"Invoice {state.invoice_id} was just linked to {result.link.crm} deal "
                             f"{result.link.deal_id}.", category="already_linked")
    if ledger.snapshots.get(realm_id, state.invoice_id) is None:  # a known one keeps its snapshot: no change lost
        ledger.snapshots.save([snapshot_row(realm_id, state)])
    return LinkedInvoice(crm, deal_id, state.invoice_id, state.doc_number, result.created)


def unlink_invoice(ledger: Ledger, realm_id: str, invoice_id: str) -> DealInvoiceLink | None:
    """Remove an invoice's link; returns the link removed (None when it was not linked)."""
    link = ledger.links.for_invoice(realm_id, str(invoice_id))
    if link is not None:
        ledger.links.unlink(realm_id, str(invoice_id))
    return link


def matching_invoices(ledger: Ledger, qbo: Any, anchor: DealInvoiceLink, window_days: int,
                      today: date) -> list[tuple[int, InvoiceState]]:
    """Unlinked live invoices of the anchor's customer within ``window_days``, with their distance in days."""
    snap = ledger.snapshots.get(anchor.realm_id, anchor.invoice_id)
    customer_id, txn_date = (snap.customer_id, snap.txn_date) if snap is not None else (anchor.customer_id, None)
    if not customer_id or txn_date is None:
        invoice = qbo.get_invoice(anchor.invoice_id)
        customer_id = str((invoice.get("CustomerRef") or {}).get("value") or customer_id)
        txn_date = parse_date(invoice.get("TxnDate"))
    if not customer_id or txn_date is None:
        return []
    low, high = txn_date - timedelta(days=window_days), txn_date + timedelta(days=window_days)
    rows = qbo.query_all(f"SELECT * FROM Invoice WHERE CustomerRef = {quote(customer_id)} "
                         f"AND TxnDate >= '{low.isoformat()}' AND TxnDate <= '{high.isoformat()}'")
    states = [invoice_state(raw, today) for raw in rows]
    linked = ledger.links.for_invoices(anchor.realm_id, [s.invoice_id for s in states])
    return [(abs((s.txn_date - txn_date).days) if s.txn_date else window_days, s) for s in states
            if s.invoice_id not in linked and s.status not in (InvoiceStatus.VOIDED, InvoiceStatus.DELETED)]


def link_by_rule(ledger: Ledger, qbo: Any, today: date, *, window_days: int = 30,
                 deals: list[tuple[str, str]] | None = None) -> list[LinkedInvoice]:
    """Link every matching unlinked invoice to the deal whose dealbooks invoice it sits next to.

    Args:
        ledger: The ledger.
        qbo: The ``QboClient``.
        today: Company-local day.
        window_days: How far (days of TxnDate) from the deal's invoice a match may be.
        deals: Only these (crm, deal id); every deal with a dealbooks invoice when None.

    Returns:
        The links made.
    """
    anchors = [link for link in ledger.links.all(qbo.realm_id) if link.purpose == "won"]
    if deals is not None:
        wanted = {(c, str(d)) for c, d in deals}
        anchors = [a for a in anchors if (a.crm, a.deal_id) in wanted]
    best: dict[str, tuple[int, int, DealInvoiceLink, InvoiceState]] = {}
    for anchor in anchors:
        for distance, state in matching_invoices(ledger, qbo, anchor, window_days, today):
            candidate = (distance, anchor.id, anchor, state)
            if state.invoice_id not in best or candidate[:2] < best[state.invoice_id][:2]:
                best[state.invoice_id] = candidate
    made = []
    for _, _, anchor, state in sorted(best.values(), key=lambda c: c[3].invoice_id):
        made.append(_record(ledger, anchor.realm_id, anchor.crm, anchor.deal_id, state))
    return made
