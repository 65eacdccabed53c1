"""Ledger snapshot rows ↔ ``InvoiceState``: what the sync stores and what reminders, roll-ups and
aging read back without calling QBO again. Overdue is re-derived for ``today`` on the way back,
because a due date passing changes nothing in QBO (no CDC record, no webhook)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from dealbooks.domain.status import (
    CLOSED_STATUSES,
    InvoiceState,
    InvoiceStatus,
    parse_date,
    parse_timestamp,
    to_decimal,
)


def snapshot_row(realm_id: str, state: InvoiceState) -> dict[str, Any]:
    """The ``invoice_snapshots`` row for a state."""
    return {
        "realm_id": realm_id, "invoice_id": state.invoice_id, "doc_number": state.doc_number,
        "customer_id": state.customer_id, "customer_name": state.customer_name[:255],
        "status": str(state.status), "currency": state.currency, "total": state.total,
        "balance": state.balance, "amount_paid": state.amount_paid, "due_date": state.due_date,
        "txn_date": state.txn_date, "bill_email": state.bill_email[:100], "email_status": state.email_status,
        "invoice_link": state.invoice_link, "sync_token": state.sync_token, "last_updated": state.last_updated,
    }


def state_from_row(row: Mapping[str, Any], today: date) -> InvoiceState:
    """An ``InvoiceState`` from a snapshot row (dict or pandas row), with overdue as of ``today``."""
    total, balance = to_decimal(row.get("total")), to_decimal(row.get("balance"))
    due = parse_date(row.get("due_date"))
    stored = InvoiceStatus(str(row.get("status") or "open"))
    state = InvoiceState(
        invoice_id=str(row["invoice_id"]), status=stored, total=total, balance=balance,
        amount_paid=to_decimal(row.get("amount_paid")), due_date=due, currency=_text(row.get("currency")),
        doc_number=_text(row.get("doc_number")), customer_id=_text(row.get("customer_id")),
        customer_name=_text(row.get("customer_name")), email_status=_text(row.get("email_status")),
        bill_email=_text(row.get("bill_email")), invoice_link=_text(row.get("invoice_link")),
        last_updated=parse_timestamp(row.get("last_updated")), sync_token=_text(row.get("sync_token")),
        txn_date=parse_date(row.get("txn_date")))
    return as_of(state, today)


def as_of(state: InvoiceState, today: date) -> InvoiceState:
    """The same invoice seen on ``today``: overdue when a balance is left past the due date."""
    if state.status in CLOSED_STATUSES or state.status == InvoiceStatus.PAID:
        return replace(state, is_overdue=False, days_overdue=0)
    overdue = state.balance > 0 and state.due_date is not None and state.due_date < today
    if overdue:
        return replace(state, status=InvoiceStatus.OVERDUE, is_overdue=True,
                       days_overdue=(today - state.due_date).days)  # type: ignore[operator]
    if state.status == InvoiceStatus.OVERDUE:  # due date moved out, or the clock was set back
        fallback = (InvoiceStatus.PARTIALLY_PAID if state.amount_paid > 0 else
                    InvoiceStatus.SENT if state.email_status == "EmailSent" else InvoiceStatus.OPEN)
        return replace(state, status=fallback, is_overdue=False, days_overdue=0)
    return replace(state, is_overdue=False, days_overdue=0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)
