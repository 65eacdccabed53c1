"""Roll all invoices of one deal up into the fields written back onto the deal (pure, no I/O).

HubSpot's legacy QuickBooks app shows only the most recently updated invoice on a deal; dealbooks
shows the deal's whole billing picture instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from dealbooks.domain.deal import DealInvoiceFields
from dealbooks.domain.status import InvoiceState, InvoiceStatus

_INACTIVE = (InvoiceStatus.VOIDED, InvoiceStatus.DELETED)


def _recency(state: InvoiceState) -> tuple[date, int, str]:
    numeric_id = int(state.invoice_id) if state.invoice_id.isdigit() else -1
    return (state.txn_date or date.min, numeric_id, state.invoice_id)


def _rollup_status(
    active: list[InvoiceState], billed: Decimal, paid: Decimal, balance: Decimal
) -> str:
    if any(s.status == InvoiceStatus.OVERDUE for s in active):
        return InvoiceStatus.OVERDUE.value
    if balance == 0 and billed > 0:
        return InvoiceStatus.PAID.value
    if paid > 0 and balance > 0:
        return InvoiceStatus.PARTIALLY_PAID.value
    unpaid = [s for s in active if s.status != InvoiceStatus.PAID]
    if unpaid and all(s.status == InvoiceStatus.SENT for s in unpaid):
        return InvoiceStatus.SENT.value
    return InvoiceStatus.OPEN.value


def rollup_deal(
    invoices: Iterable[InvoiceState],
    *,
    payment_dates: Mapping[str, date] | None = None,
    primary_invoice_id: str | None = None,
    url_template: str = "",
) -> DealInvoiceFields:
    """Roll the states of all invoices linked to one deal into one ``DealInvoiceFields``.

    Rules:

    - *Active* invoices are those neither voided nor deleted; only they count in amounts, due date
      and payments. With no active invoice the status is ``voided`` if any invoice was voided, else
      ``deleted``, and the amounts are 0.
    - Status over the active invoices, first match wins: any overdue → ``overdue``; nothing left
      to pay on a non-zero total → ``paid``; something paid and something left → ``partially_paid``;
      every unpaid invoice emailed → ``sent``; else ``open``.
    - ``amount_billed`` / ``amount_paid`` / ``balance``: sums of ``total`` / ``amount_paid`` /
      ``balance`` over the active invoices in the primary invoice's currency (a deal's invoices
      normally share one QBO customer and so one currency; others are left out of the sums).
    - ``due_date``: the earliest due date among active invoices with a balance; ``None`` if none.
    - ``last_payment_date``: the latest of ``payment_dates`` over the active invoices.
    - ``invoice_id`` / ``invoice_url``: the primary invoice — ``primary_invoice_id`` when it is
      among the invoices and active (or none is), else the latest active (by TxnDate, then
      numeric id), else the latest. ``invoice_url`` is its ``invoice_link`` (customer pay link),
      else ``url_template`` filled with ``{id}``, else "".
    - ``invoice_number``: the doc numbers of the active invoices, oldest first, joined with ", "
      (the primary's number alone when no invoice is active).

    Args:
        invoices: States of every invoice linked to the deal.
        payment_dates: Latest known payment date per invoice id (from the ledger's events).
        primary_invoice_id: The invoice dealbooks created for the deal, if known.
        url_template: E.g. "https://app.qbo.intuit.com/app/invoice?txnId={id}".

    Returns:
        The fields; all empty when ``invoices`` is empty.
    """
    states = sorted(invoices, key=_recency)
    if not states:
        return DealInvoiceFields()
    active = [s for s in states if s.status not in _INACTIVE]
    by_id = {s.invoice_id: s for s in states}
    primary = by_id.get(primary_invoice_id or "")
    if primary is None or (active and primary.status in _INACTIVE):
        primary = (active or states)[-1]
    url = primary.invoice_link or (url_template.format(id=primary.invoice_id) if url_template else "")
    if not active:
        voided = any(s.status == InvoiceStatus.VOIDED for s in states)
        zero = Decimal(0)
        return DealInvoiceFields(
            invoice_id=primary.invoice_id, invoice_number=primary.doc_number, invoice_url=url,
            status=(InvoiceStatus.VOIDED if voided else InvoiceStatus.DELETED).value,
            amount_billed=zero, amount_paid=zero, balance=zero, currency=primary.currency,
        )
    counted = [s for s in active if s.currency == primary.currency]
    billed = sum((s.total for s in counted), Decimal(0))
    paid = sum((s.amount_paid for s in counted), Decimal(0))
    balance = sum((s.balance for s in counted), Decimal(0))
    open_dues = [s.due_date for s in active if s.balance > 0 and s.due_date is not None]
    dates = payment_dates or {}
    paid_on = [dates[s.invoice_id] for s in active if s.invoice_id in dates]
    return DealInvoiceFields(
        invoice_id=primary.invoice_id,
        invoice_number=", ".join(s.doc_number for s in active if s.doc_number),
        invoice_url=url,
        status=_rollup_status(active, billed, paid, balance),
        amount_billed=billed,
        amount_paid=paid,
        balance=balance,
        currency=primary.currency,
        due_date=min(open_dues) if open_dues else None,
        last_payment_date=max(paid_on) if paid_on else None,
    )
