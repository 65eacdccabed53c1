"""Rolling a deal's invoices up into the deal's write-back fields."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from dealbooks.domain.deal import DealInvoiceFields
from dealbooks.domain.rollup import rollup_deal
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state

from .qbo_samples import INVOICE_OPEN_130, INVOICE_PAID_TWO_PAYMENTS_12, INVOICE_VOIDED_129

TODAY = date(2023, 3, 1)


def _inv(iid: str, status: InvoiceStatus, total: str, balance: str, **kw: object) -> InvoiceState:
    t, b = Decimal(total), Decimal(balance)
    defaults: dict = {"currency": "USD", "doc_number": f"10{iid}", "txn_date": date(2023, 1, int(iid)),
                      "due_date": date(2023, 2, int(iid))}
    defaults.update(kw)
    return InvoiceState(invoice_id=iid, status=status, total=t, balance=b, amount_paid=t - b, **defaults)


def test_no_invoices_gives_empty_fields() -> None:
    assert rollup_deal([]) == DealInvoiceFields()


def test_single_real_invoice() -> None:
    fields = rollup_deal([invoice_state(INVOICE_OPEN_130, TODAY)])
    assert fields.invoice_id == "130" and fields.invoice_number == "1037"
    assert fields.status == "open" and fields.currency == "USD"
    assert (fields.amount_billed, fields.amount_paid, fields.balance) == (
        Decimal("362.07"), Decimal("0.00"), Decimal("362.07"))
    assert fields.due_date == date(2023, 3, 20) and fields.last_payment_date is None


def test_all_paid_is_paid_and_amounts_are_summed() -> None:
    paid = [_inv("1", InvoiceStatus.PAID, "100", "0"), _inv("2", InvoiceStatus.PAID, "50.5", "0")]
    fields = rollup_deal(paid,
                         payment_dates={"1": date(2023, 2, 1), "2": date(2023, 2, 9)})
    assert fields.status == "paid"
    assert (fields.amount_billed, fields.amount_paid) == (Decimal("150.5"), Decimal("150.5"))
    assert fields.balance == 0
    assert fields.due_date is None and fields.last_payment_date == date(2023, 2, 9)


def test_any_overdue_wins() -> None:
    invoices = [_inv("1", InvoiceStatus.PAID, "100", "0"),
                _inv("2", InvoiceStatus.OVERDUE, "80", "30", is_overdue=True),
                _inv("3", InvoiceStatus.SENT, "20", "20")]
    fields = rollup_deal(invoices)
    assert fields.status == "overdue" and fields.balance == Decimal("50")
    assert fields.due_date == date(2023, 2, 2)  # earliest due date with a balance (1 is paid)


def test_paid_plus_unpaid_is_partially_paid() -> None:
    fields = rollup_deal([_inv("1", InvoiceStatus.PAID, "100", "0"),
                          _inv("2", InvoiceStatus.OPEN, "50", "50")])
    assert fields.status == "partially_paid"


def test_sent_only_when_every_unpaid_invoice_was_sent() -> None:
    sent = _inv("1", InvoiceStatus.SENT, "10", "10")
    assert rollup_deal([sent, _inv("2", InvoiceStatus.SENT, "10", "10")]).status == "sent"
    assert rollup_deal([sent, _inv("2", InvoiceStatus.OPEN, "10", "10")]).status == "open"


def test_voided_invoices_are_excluded_from_amounts_and_numbers() -> None:
    voided = invoice_state(INVOICE_VOIDED_129, TODAY)
    live = replace(_inv("5", InvoiceStatus.OPEN, "200", "200"), currency="")
    fields = rollup_deal([voided, live])
    assert fields.status == "open" and fields.amount_billed == Decimal("200")
    assert fields.invoice_number == "105" and fields.invoice_id == "5"


def test_only_voided_or_deleted() -> None:
    voided = invoice_state(INVOICE_VOIDED_129, TODAY)
    deleted = _inv("3", InvoiceStatus.DELETED, "0", "0")
    assert rollup_deal([voided, deleted]).status == "voided"
    only_deleted = rollup_deal([deleted])
    assert only_deleted.status == "deleted" and only_deleted.balance == 0


def test_payment_on_a_voided_invoice_is_not_the_last_payment() -> None:
    voided = _inv("1", InvoiceStatus.VOIDED, "0", "0")
    fields = rollup_deal([voided, _inv("2", InvoiceStatus.PAID, "10", "0")],
                         payment_dates={"1": date(2023, 3, 1), "2": date(2023, 2, 1)})
    assert fields.last_payment_date == date(2023, 2, 1)


def test_all_invoices_count_not_only_the_latest_updated() -> None:
    paid = invoice_state(INVOICE_PAID_TWO_PAYMENTS_12, TODAY)
    still_open = invoice_state(INVOICE_OPEN_130, TODAY)
    fields = rollup_deal([still_open, paid])
    assert fields.status == "partially_paid"
    assert fields.amount_billed == Decimal("2731.59") and fields.balance == Decimal("362.07")
    assert fields.invoice_number == "1004, 1037"  # oldest first
    assert fields.invoice_id == "130"  # latest by TxnDate is primary


def test_primary_invoice_and_url() -> None:
    one = _inv("1", InvoiceStatus.OPEN, "10", "10", invoice_link="https://pay.example/1")
    two = _inv("2", InvoiceStatus.OPEN, "10", "10")
    assert rollup_deal([one, two], primary_invoice_id="1").invoice_url == "https://pay.example/1"
    templated = rollup_deal([one, two], url_template="https://app.qbo.intuit.com/app/invoice?txnId={id}")
    assert templated.invoice_id == "2" and templated.invoice_url.endswith("txnId=2")
    voided_primary = replace(one, status=InvoiceStatus.VOIDED)
    assert rollup_deal([voided_primary, two], primary_invoice_id="1").invoice_id == "2"


def test_other_currency_is_left_out_of_the_sums() -> None:
    eur = _inv("1", InvoiceStatus.OPEN, "999", "999", currency="EUR")
    usd = _inv("2", InvoiceStatus.OPEN, "10", "10")
    fields = rollup_deal([eur, usd])
    assert fields.currency == "USD" and fields.amount_billed == Decimal("10")


def test_as_strings_round_trip() -> None:
    fields = rollup_deal([_inv("1", InvoiceStatus.PARTIALLY_PAID, "100", "40")],
                         payment_dates={"1": date(2023, 1, 20)})
    assert fields.as_strings() == {
        "invoice_id": "1", "invoice_number": "101", "status": "partially_paid",
        "amount_billed": "100", "amount_paid": "60", "balance": "40", "currency": "USD",
        "due_date": "2023-02-01", "last_payment_date": "2023-01-20",
    }
