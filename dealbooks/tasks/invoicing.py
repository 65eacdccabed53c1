"""Invoicing steps: read the company once per run, then turn one won deal into one invoice.

``invoice_one_deal`` is the whole exactly-once path for a deal: ledger link first, then the create
with a deterministic ``requestid``, then the link under its unique constraint. The create is
preceded by QBO's lookup-before-create whenever an earlier attempt may have created the invoice
(the ledger has a record of the deal: an interrupted attempt leaves one behind). Whatever happens,
the deal's outcome is recorded in the ledger.

QBO requests per new invoice: the create, plus a read for the pay link when the company takes
online payments, plus the customer lookup (once per customer and run: ``customers`` caches it).
"""

from __future__ import annotations

import logging
from html import escape
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from dealbooks.clients.crm import CrmClient
from dealbooks.domain.customer import QboCustomer, customer_draft, customer_payload, customer_updates
from dealbooks.domain.deal import Deal, DealInvoiceFields
from dealbooks.domain.status import company_timezone, company_today
from dealbooks.domain.invoice import CENT, CompanyContext, InvoiceDraft, ItemRef, build_invoice, check_issuable
from dealbooks.exceptions import DealbooksError, InvoiceBuildError, QboDuplicateNameError
from dealbooks.ledger import Ledger

log = logging.getLogger("dealbooks.invoicing")
RUN_KIND = "invoice_on_won"
INTERRUPTED = ("The invoice was being created when the run stopped. The next run (or poll-won-deals) looks "
               "the invoice up in QuickBooks before creating one, so retrying is safe.")


@dataclass
class DealOutcome:
    """One deal's result, for the ledger, the flow's artifact and the caller."""

    crm: str
    deal_id: str
    outcome: str  # synced | excluded | failed | preview
    category: str = ""
    message: str = ""
    invoice_id: str = ""
    doc_number: str = ""
    total: Decimal | None = None
    created: bool = False
    draft: InvoiceDraft | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.crm}:{self.deal_id}"


def company_context(qbo: Any, settings: Any) -> CompanyContext:
    """Preferences, items, tax codes and terms: what the invoice builder needs from QBO."""
    info = qbo.company_info()
    prefs = qbo.preferences()
    currency = prefs.get("CurrencyPrefs") or {}
    sales = prefs.get("SalesFormsPrefs") or {}
    items = [i for i in qbo.query_all("SELECT * FROM Item WHERE Active = true") if i.get("Type") != "Category"]
    refs = {str(i["Id"]): ItemRef(str(i["Id"]), i.get("Name", ""), i.get("Sku", "") or "") for i in items}
    fallback = refs.get(settings.fallback_item_id or "") or next(
        (ref for ref in refs.values() if ref.name.lower() == "services"), None)
    terms = {str(t["Id"]): int(t.get("DueDays") or 0) for t in qbo.query_all("SELECT * FROM Term")}
    tax_codes = frozenset(str(t["Id"]) for t in qbo.query_all("SELECT * FROM TaxCode"))
    return CompanyContext(
        country=info.get("Country") or (info.get("CompanyAddr") or {}).get("Country") or "US",
        home_currency=(currency.get("HomeCurrency") or {}).get("value", "USD"),
        multicurrency=bool(currency.get("MultiCurrencyEnabled")),
        custom_txn_numbers=bool(sales.get("CustomTxnNumbers")),
        timezone=company_timezone(prefs, info, settings.timezone),
        items_by_sku={ref.sku: ref for ref in refs.values() if ref.sku},
        items_by_id=refs,
        fallback_item=fallback,
        tax_code_ids=tax_codes,
        term_days=terms,
        online_payments=bool(sales.get("ETransactionPaymentEnabled")),
    )


def today_for(company: CompanyContext, now: datetime | None = None) -> date:
    """Today's date where the company is (invoice dates and overdue are company-local)."""
    return company_today(now or datetime.now(timezone.utc), company.timezone)


def find_or_create_customer(qbo: Any, deal: Deal, settings: Any, company: CompanyContext,
                            customers: dict[str, QboCustomer] | None = None) -> tuple[QboCustomer, bool]:
    """Match by email, then DisplayName; else create. Optionally update details that differ.

    Args:
        customers: this run's customers by email; a hit costs no QBO request.

    Returns:
        ``(customer, created)``: ``created`` when the customer is new in this call.
    """
    draft = customer_draft(deal, settings)
    key = draft.email.strip().lower()
    if customers is not None and key in customers:
        return customers[key], False
    found = qbo.find_customer_by_email(draft.email) or qbo.find_customer_by_name(draft.display_name)
    created = found is None
    if found is None:
        request_id = f"cust-{deal.crm[:2]}-{deal.id}"[:50]
        try:
            found = qbo.create_customer(customer_payload(draft, multicurrency=company.multicurrency), request_id)
        except QboDuplicateNameError as exc:
            raise InvoiceBuildError(
                f"Deal {deal.id}: the name {draft.display_name!r} is already used by a QuickBooks vendor or "
                "employee (or an inactive customer), so the customer cannot be created. Rename one of them, "
                "or make the existing customer active with this email.", category="duplicate_name") from exc
    customer = QboCustomer.from_qbo(found)
    if not created and settings.update_customer_details:
        changes = customer_updates(customer, draft)
        if changes:
            customer = QboCustomer.from_qbo(qbo.update_customer(customer.id, changes))
    if customers is not None and key:
        customers[key] = customer
    return customer, created


def invoice_one_deal(*, crm_name: str, deal_id: str, crm: CrmClient, qbo: Any, ledger: Ledger, settings: Any,
                     company: CompanyContext, dry_run: bool = False, flow_run_id: str = "",
                     customers: dict[str, QboCustomer] | None = None) -> DealOutcome:
    """Invoice one won deal exactly once and write the invoice back to the deal; never raises.

    ``customers`` is the run's customer cache (see ``find_or_create_customer``).
    """
    try:
        outcome = _invoice(crm_name, deal_id, crm, qbo, ledger, settings, company, dry_run, flow_run_id, customers)
    except DealbooksError as exc:
        outcome = DealOutcome(crm_name, deal_id, "excluded" if exc.category in ("not_won", "not_allowed") else "failed",
                              exc.category, exc.message)
    except Exception as exc:  # one bad record never sinks the run
        log.exception("unexpected failure invoicing %s:%s", crm_name, deal_id)
        outcome = DealOutcome(crm_name, deal_id, "failed", "internal", f"{type(exc).__name__}: {exc}"[:500])
    if not dry_run:
        ledger.records.record(RUN_KIND, "deal", outcome.key, outcome.outcome,  # type: ignore[arg-type]
                              category=outcome.category, message=outcome.message, flow_run_id=flow_run_id)
    return outcome


def _invoice(crm_name: str, deal_id: str, crm: CrmClient, qbo: Any, ledger: Ledger, settings: Any,
             company: CompanyContext, dry_run: bool, flow_run_id: str,
             customers: dict[str, QboCustomer] | None) -> DealOutcome:
    key = f"{crm_name}:{deal_id}"
    link = ledger.links.get(crm_name, deal_id)
    previous = ledger.records.get(RUN_KIND, key)
    if link is not None and previous is not None and previous.outcome == "synced":
        return DealOutcome(crm_name, deal_id, "synced", message="already invoiced",
                           invoice_id=link.invoice_id, doc_number=link.doc_number)
    deal = crm.get_deal(deal_id)
    check_issuable(deal, settings)
    created = False
    invoice: dict[str, Any] | None = None
    if link is None:
        if dry_run:
            customer, new_customer = _preview_customer(deal, settings), True
        else:
            customer, new_customer = find_or_create_customer(qbo, deal, settings, company, customers)
        draft = build_invoice(deal, settings, company, customer, customer_draft(deal, settings),
                              realm_id=qbo.realm_id, today=today_for(company))
        if dry_run:
            return DealOutcome(crm_name, deal_id, "preview", total=draft.total, draft=draft,
                               message=f"would invoice {customer.display_name}")
        # An earlier attempt (a record exists) may have created the invoice; a customer created just
        # now cannot have one. Otherwise the lookup is skipped and the requestid covers retries.
        ledger.records.begin(RUN_KIND, "deal", key, flow_run_id=flow_run_id, message=INTERRUPTED)
        invoice, made = qbo.create_invoice_once(draft.payload, draft.request_id, draft.marker,
                                                lookup=previous is not None and not new_customer)
        result = ledger.links.record(crm=crm_name, deal_id=deal_id, realm_id=qbo.realm_id, invoice_id=str(invoice["Id"]),
                                   doc_number=invoice.get("DocNumber", ""), customer_id=customer.id,
                                   request_id=draft.request_id)
        link, created = result.link, made and result.created
        if created and settings.send_on_create:
            invoice = qbo.send_invoice(link.invoice_id)
        if not created or (company.online_payments and (invoice.get("BillEmail") or {}).get("Address")):
            invoice = None  # read it back: another attempt's invoice, or QBO adds the pay link on reads only
    if invoice is None:
        invoice = qbo.get_invoice(link.invoice_id, include_link=True)
    write_back(crm, deal, invoice, qbo)
    return DealOutcome(crm_name, deal_id, "synced", invoice_id=link.invoice_id, doc_number=invoice.get("DocNumber", ""),
                       total=money(invoice.get("TotalAmt")), created=created)


def _preview_customer(deal: Deal, settings: Any) -> QboCustomer:
    draft = customer_draft(deal, settings)
    return QboCustomer("(new or matched)", draft.display_name, draft.currency, draft.email)


def invoice_fields(invoice: dict[str, Any], qbo: Any) -> DealInvoiceFields:
    """Write-back fields for a freshly created invoice."""
    total = money(invoice.get("TotalAmt", 0))
    balance = money(invoice.get("Balance", total))
    return DealInvoiceFields(
        invoice_id=str(invoice["Id"]), invoice_number=invoice.get("DocNumber", ""),
        invoice_url=invoice.get("InvoiceLink") or invoice_app_url(qbo, str(invoice["Id"])),
        status="sent" if invoice.get("EmailStatus") == "EmailSent" else "open",
        amount_billed=total, amount_paid=total - balance, balance=balance,
        currency=(invoice.get("CurrencyRef") or {}).get("value", ""),
        due_date=date.fromisoformat(invoice["DueDate"]) if invoice.get("DueDate") else None)


def money(value: Any) -> Decimal:
    """A QBO amount (float or string) as a Decimal in cents."""
    return Decimal(str(value or 0)).quantize(CENT)


def invoice_app_url(qbo: Any, invoice_id: str) -> str:
    """Where a person opens the invoice in QuickBooks (the sandbox serves its own page)."""
    connection = getattr(getattr(qbo, "transport", None), "connection", None)
    base = getattr(connection, "api_base", "") or ""
    if "127.0.0.1" in base or "localhost" in base:
        return f"{base.rsplit('/v3', 1)[0]}/app/invoice?txnId={invoice_id}"
    return f"https://app.qbo.intuit.com/app/invoice?txnId={invoice_id}"


def write_back(crm: CrmClient, deal: Deal, invoice: dict[str, Any], qbo: Any) -> None:
    """Invoice fields on the deal and a timeline note; raises the CRM's error for the deal."""
    fields = invoice_fields(invoice, qbo)
    crm.ensure_invoice_fields()
    errors = crm.write_invoice_fields({deal.id: fields})
    if errors.get(deal.id) is not None:
        raise errors[deal.id]  # type: ignore[misc]
    number = escape(fields.invoice_number or fields.invoice_id)
    crm.add_note(deal.id, f"<b>Invoice {number}</b> created in QuickBooks: {fields.amount_billed} "
                          f"{escape(fields.currency)}, due {fields.due_date or '-'}. "
                          f'<a href="{escape(fields.invoice_url)}">Open invoice</a>')
