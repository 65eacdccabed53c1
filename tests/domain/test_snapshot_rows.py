"""Snapshot rows round-trip to InvoiceState; overdue is re-derived for the day asked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dealbooks.domain.snapshot_rows import as_of, snapshot_row, state_from_row
from dealbooks.domain.status import InvoiceState, InvoiceStatus


def _state(**kw: object) -> InvoiceState:
    base = dict(invoice_id="130", status=InvoiceStatus.SENT, total=Decimal("100"), balance=Decimal("100"),
                amount_paid=Decimal("0"), due_date=date(2026, 11, 30), currency="USD", doc_number="1037",
                customer_id="3", customer_name="Cool Cars", email_status="EmailSent", bill_email="a@b.example")
    return InvoiceState(**(base | kw))  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    state = _state()
    row = snapshot_row("9130", state)
    assert row["realm_id"] == "9130" and row["status"] == "sent"
    back = state_from_row(row, date(2026, 11, 21))
    assert back == state


def test_due_date_passing_makes_it_overdue_without_qbo() -> None:
    row = snapshot_row("r", _state())
    later = state_from_row(row, date(2026, 12, 3))
    assert later.status == InvoiceStatus.OVERDUE and later.is_overdue and later.days_overdue == 3
    assert state_from_row(row, date(2026, 11, 30)).status == InvoiceStatus.SENT  # due today is not overdue


def test_paid_voided_and_moved_due_dates() -> None:
    assert as_of(_state(status=InvoiceStatus.PAID, balance=Decimal(0)), date(2027, 1, 1)).status == InvoiceStatus.PAID
    assert as_of(_state(status=InvoiceStatus.VOIDED, total=Decimal(0), balance=Decimal(0)),
                 date(2027, 1, 1)).status == InvoiceStatus.VOIDED
    overdue = as_of(_state(amount_paid=Decimal(40), balance=Decimal(60)), date(2026, 12, 5))
    assert overdue.status == InvoiceStatus.OVERDUE
    assert as_of(overdue, date(2026, 11, 1)).status == InvoiceStatus.PARTIALLY_PAID


def test_company_timezone_is_read_from_qbo_name_value_lists() -> None:
    from dealbooks.domain.status import company_timezone

    prefs = {"OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": "x"},
                                          {"Name": "CompanyTimeZone", "Value": "Europe/Berlin"}]}}
    assert company_timezone(prefs, None, "America/New_York") == "Europe/Berlin"
    info = {"NameValue": [{"Name": "CompanyTimeZone", "Value": "Asia/Tokyo"}]}
    assert company_timezone({}, info, "America/New_York") == "Asia/Tokyo"
    assert company_timezone({}, None, "America/New_York") == "America/New_York"
    assert company_timezone({"OtherPrefs": {"NameValue": [{"Name": "CompanyTimeZone", "Value": "Mars/Base"}]}},
                            None, "America/New_York") == "UTC"
