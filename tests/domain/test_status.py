"""Status derivation from real QBO invoice shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dealbooks.domain.status import (
    InvoiceStatus,
    company_today,
    derive_status,
    invoice_state,
    parse_timestamp,
    to_decimal,
)

from .qbo_samples import (
    INVOICE_DELETED_33,
    INVOICE_EMAIL_SENT_20246,
    INVOICE_OPEN_130,
    INVOICE_PAID_TWO_PAYMENTS_12,
    INVOICE_SENT_PARTIAL_96,
    INVOICE_VOIDED_129,
    invoice,
)

BEFORE_DUE = date(2023, 3, 1)  # invoice 130 is due 2023-03-20


def test_open_invoice_before_due_date() -> None:
    state = invoice_state(INVOICE_OPEN_130, BEFORE_DUE)
    assert state.status == InvoiceStatus.OPEN
    assert state.total == Decimal("362.07") and state.balance == Decimal("362.07")
    assert state.amount_paid == 0
    assert state.due_date == date(2023, 3, 20)
    assert (state.currency, state.doc_number) == ("USD", "1037")
    assert (state.customer_id, state.customer_name) == ("24", "Sonnenschein Family Store")
    assert state.bill_email == "Familiystore@intuit.com"
    assert state.payment_ids == ()  # the Estimate link is not a payment
    assert state.last_updated == datetime(2023, 2, 18, 21, 16, 17, tzinfo=UTC)
    assert state.sync_token == "0" and state.txn_date == date(2023, 2, 18)
    assert not state.is_overdue and state.days_overdue == 0 and state.is_open


def test_amounts_are_exact_decimals() -> None:
    state = invoice_state(invoice(TotalAmt=0.1 + 0.2, Balance=0.3), BEFORE_DUE)
    assert isinstance(state.total, Decimal)
    assert to_decimal(362.07) == Decimal("362.07")
    assert to_decimal("") == 0 and to_decimal(None) == 0  # python-quickbooks' unset amounts
    with pytest.raises(ValueError):
        to_decimal("twelve")


def test_paid_by_two_payments_keeps_both_payment_ids() -> None:
    state = invoice_state(INVOICE_PAID_TWO_PAYMENTS_12, date(2024, 1, 1))
    assert state.status == InvoiceStatus.PAID
    assert state.amount_paid == Decimal("2369.52") and state.balance == 0
    assert state.payment_ids == ("120", "61")
    assert not state.is_overdue and state.days_overdue == 0  # paid invoices are never overdue


def test_sent_from_email_status() -> None:
    assert derive_status(INVOICE_EMAIL_SENT_20246, date(2015, 8, 10)) == InvoiceStatus.SENT
    assert derive_status(invoice(EmailStatus="EMAIL_SENT"), BEFORE_DUE) == InvoiceStatus.SENT
    assert derive_status(invoice(EmailStatus="NeedToSend"), BEFORE_DUE) == InvoiceStatus.OPEN


def test_partially_paid_beats_sent_and_counts_the_deposit() -> None:
    state = invoice_state(INVOICE_SENT_PARTIAL_96, date(2013, 5, 1))
    assert state.status == InvoiceStatus.PARTIALLY_PAID
    assert state.amount_paid == Decimal("12.0") and state.is_partially_paid


def test_partially_paid_and_overdue_is_overdue_but_keeps_the_payment_fact() -> None:
    state = invoice_state(INVOICE_SENT_PARTIAL_96, date(2013, 5, 20))
    assert state.status == InvoiceStatus.OVERDUE
    assert state.is_overdue and state.days_overdue == 7
    assert state.is_partially_paid and state.amount_paid == Decimal("12.0")


def test_overdue_starts_the_day_after_the_due_date() -> None:
    assert derive_status(INVOICE_OPEN_130, date(2023, 3, 20)) == InvoiceStatus.OPEN
    state = invoice_state(INVOICE_OPEN_130, date(2023, 3, 21))
    assert state.status == InvoiceStatus.OVERDUE and state.days_overdue == 1


def test_voided_official_response() -> None:
    state = invoice_state(INVOICE_VOIDED_129, date(2024, 1, 1))
    assert state.status == InvoiceStatus.VOIDED
    assert state.total == 0 and state.balance == 0 and state.amount_paid == 0
    assert not state.is_overdue and not state.is_open


def test_void_after_partial_payment_is_voided() -> None:
    voided = invoice(TotalAmt=0, Balance=0, PrivateNote="Voided - customer cancelled",
                     LinkedTxn=[{"TxnId": "7", "TxnType": "Payment"}])
    assert derive_status(voided, date(2024, 1, 1)) == InvoiceStatus.VOIDED


def test_voided_needs_a_zero_total() -> None:
    note_only = invoice(PrivateNote="Voided by mistake? no", Balance=0)
    assert derive_status(note_only, BEFORE_DUE) == InvoiceStatus.PAID


def test_zero_amount_invoice_is_not_paid() -> None:
    assert derive_status(invoice(TotalAmt=0, Balance=0), BEFORE_DUE) == InvoiceStatus.OPEN


@pytest.mark.parametrize("payload", [
    INVOICE_DELETED_33,
    {"Invoice": INVOICE_DELETED_33},
    {"Id": "33", "status": "Deleted", "domain": "QBO",
     "MetaData": {"LastUpdatedTime": "2024-05-01T10:00:00-07:00"}},
])
def test_deleted_delete_response_and_cdc_stub(payload: dict) -> None:
    state = invoice_state(payload, date(2024, 1, 1))
    assert state.status == InvoiceStatus.DELETED and state.invoice_id == "33"
    assert state.balance == 0 and not state.is_overdue


def test_wrapped_read_response_is_unwrapped() -> None:
    assert invoice_state({"Invoice": INVOICE_OPEN_130, "time": "x"}, BEFORE_DUE).invoice_id == "130"


def test_python_quickbooks_defaults_do_not_break_parsing() -> None:
    state = invoice_state(invoice(TotalAmt="", Balance="", DueDate="", SyncToken=0), BEFORE_DUE)
    assert state.status == InvoiceStatus.OPEN and state.due_date is None and state.sync_token == "0"


def test_invoice_link_is_carried_when_present() -> None:
    link = "https://connect.intuit.com/portal/app/CommerceNetwork/view/scs-v1-abc"
    assert invoice_state(invoice(InvoiceLink=link), BEFORE_DUE).invoice_link == link


def test_company_today_timezone_boundary_at_midnight() -> None:
    # 06:30 UTC on 21 March is still 20 March in Los Angeles (UTC-7 in DST) but 21 March in Berlin.
    now = datetime(2023, 3, 21, 6, 30, tzinfo=UTC)
    la = company_today(now, "America/Los_Angeles")
    berlin = company_today(now, "Europe/Berlin")
    assert (la, berlin) == (date(2023, 3, 20), date(2023, 3, 21))
    assert derive_status(INVOICE_OPEN_130, la) == InvoiceStatus.OPEN
    assert derive_status(INVOICE_OPEN_130, berlin) == InvoiceStatus.OVERDUE


def test_company_today_accepts_naive_utc_and_other_offsets() -> None:
    assert company_today(datetime(2023, 3, 21, 6, 59), "America/Los_Angeles") == date(2023, 3, 20)
    aware = datetime(2023, 3, 21, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert company_today(aware, "UTC") == date(2023, 3, 20)


def test_parse_timestamp_formats() -> None:
    assert parse_timestamp("2015-08-10T16:30:47-07:00") == datetime(2015, 8, 10, 23, 30, 47, tzinfo=UTC)
    assert parse_timestamp("not a time") is None and parse_timestamp(None) is None
