"""Vectorised snapshot comparison and payment events."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pandas as pd

from dealbooks.domain.snapshots import (
    SNAPSHOT_COLUMNS,
    EventKind,
    compare_snapshots,
    payment_events,
    snapshot_frame,
)
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state

from .qbo_samples import (
    INVOICE_DELETED_33,
    INVOICE_OPEN_130,
    PAYMENT_120,
    PAYMENT_PARTIAL_101,
    PAYMENT_UNAPPLIED_163,
    PAYMENT_VOIDED_125,
    invoice,
)

TODAY = date(2023, 3, 1)
OPEN = invoice_state(INVOICE_OPEN_130, TODAY)  # 362.07 open, due 2023-03-20


def _paid(state: InvoiceState, amount: str, status: InvoiceStatus, token: str = "1") -> InvoiceState:
    paid = state.amount_paid + Decimal(amount)
    return replace(state, status=status, balance=state.total - paid, amount_paid=paid, sync_token=token)


def _payment(pid: str, *applications: tuple[str, float], date_: str = "2023-03-02") -> dict:
    return {"Id": pid, "TxnDate": date_, "TotalAmt": sum(a for _, a in applications),
            "CustomerRef": {"value": "24", "name": "Sonnenschein Family Store"},
            "CurrencyRef": {"value": "USD"},
            "Line": [{"Amount": a, "LinkedTxn": [{"TxnId": i, "TxnType": "Invoice"}]}
                     for i, a in applications]}


def test_snapshot_frame_columns_and_exact_amounts() -> None:
    frame = snapshot_frame([OPEN])
    assert tuple(frame.columns) == SNAPSHOT_COLUMNS
    assert frame.loc[0, "balance"] == Decimal("362.07") and frame.loc[0, "status"] == "open"


def test_rerun_with_unchanged_invoices_changes_nothing() -> None:
    diff = compare_snapshots([OPEN], snapshot_frame([OPEN]))
    assert diff.changed.empty and diff.events == [] and diff.writeback_ids == []


def test_empty_inputs() -> None:
    assert compare_snapshots([], None).events == []
    assert compare_snapshots([], pd.DataFrame()).changed.empty
    assert compare_snapshots([], snapshot_frame([OPEN])).changed.empty  # absent is not deleted


def test_first_seen_invoice_is_changed_with_a_first_status_event() -> None:
    diff = compare_snapshots([OPEN], pd.DataFrame())
    assert diff.changed["is_new"].tolist() == [True] and diff.writeback_ids == ["130"]
    [event] = diff.events
    assert (event.kind, event.old_status, event.new_status) == (EventKind.STATUS_CHANGED, None, "open")


def test_due_date_passing_is_a_status_change_without_payment() -> None:
    overdue = invoice_state(INVOICE_OPEN_130, date(2023, 3, 21))
    diff = compare_snapshots([overdue], snapshot_frame([OPEN]))
    [event] = diff.events
    assert (event.kind, event.old_status, event.new_status) == ("status_changed", "open", "overdue")
    assert event.doc_number == "1037" and event.balance == Decimal("362.07")
    assert diff.changed.loc[0, "old_status"] == "open"


def test_partial_payment_without_payment_records() -> None:
    partial = _paid(OPEN, "100.00", InvoiceStatus.PARTIALLY_PAID)
    diff = compare_snapshots([partial], snapshot_frame([OPEN]))
    kinds = {e.kind: e for e in diff.events}
    assert set(kinds) == {EventKind.STATUS_CHANGED, EventKind.PAYMENT_RECEIVED}
    payment = kinds[EventKind.PAYMENT_RECEIVED]
    assert payment.amount == Decimal("100.00") and payment.payment_id is None
    assert payment.balance == Decimal("262.07") and payment.new_status == "partially_paid"


def test_two_payments_on_one_invoice_give_two_events_with_ids() -> None:
    paid = _paid(OPEN, "362.07", InvoiceStatus.PAID)
    payments = [_payment("501", ("130", 100.00)), _payment("502", ("130", 262.07))]
    diff = compare_snapshots([paid], snapshot_frame([OPEN]), payments=payments)
    money = [e for e in diff.events if e.kind == EventKind.PAYMENT_RECEIVED]
    assert [(e.payment_id, e.amount) for e in money] == [("501", Decimal("100.0")),
                                                         ("502", Decimal("262.07"))]
    assert all(e.new_status == "paid" and e.old_status == "open" and e.balance == 0 for e in money)
    assert all(e.doc_number == "1037" and e.payment_date == date(2023, 3, 2) for e in money)
    assert [e.kind for e in diff.events].count(EventKind.STATUS_CHANGED) == 1


def test_known_payments_are_not_repeated_on_rerun() -> None:
    paid = _paid(OPEN, "362.07", InvoiceStatus.PAID)
    payments = [_payment("501", ("130", 100.00)), _payment("502", ("130", 262.07))]
    first = compare_snapshots([paid], snapshot_frame([OPEN]), payments=payments)
    known = {e.payment_id for e in first.events if e.payment_id}
    again = compare_snapshots([paid], snapshot_frame([paid]), payments=payments, known_payment_ids=known)
    assert again.events == [] and again.changed.empty


def test_event_keys_are_stable_across_reruns() -> None:
    partial = _paid(OPEN, "50", InvoiceStatus.PARTIALLY_PAID)
    one = compare_snapshots([partial], snapshot_frame([OPEN]))
    two = compare_snapshots([partial], snapshot_frame([OPEN]))
    assert [e.key for e in one.events] == [e.key for e in two.events]
    assert len({e.key for e in one.events}) == len(one.events)


def test_void_after_partial_payment_is_one_voided_event() -> None:
    partial = _paid(OPEN, "100.00", InvoiceStatus.PARTIALLY_PAID)
    voided = invoice_state(invoice(TotalAmt=0, Balance=0, PrivateNote="Voided", SyncToken="2"), TODAY)
    diff = compare_snapshots([voided], snapshot_frame([partial]))
    [event] = diff.events
    assert (event.kind, event.old_status, event.new_status) == ("voided", "partially_paid", "voided")
    assert event.amount == Decimal("362.07") and diff.writeback_ids == ["130"]


def test_deleted_cdc_stub_is_a_deleted_event() -> None:
    deleted = invoice_state(INVOICE_DELETED_33, TODAY)
    previous = snapshot_frame([replace(OPEN, invoice_id="33")])
    [event] = compare_snapshots([deleted], previous).events
    assert (event.kind, event.invoice_id, event.old_status) == ("deleted", "33", "open")


def test_sync_token_only_change_updates_snapshot_without_writeback() -> None:
    edited = replace(OPEN, sync_token="5")
    diff = compare_snapshots([edited], snapshot_frame([OPEN]))
    assert len(diff.changed) == 1 and diff.writeback_ids == [] and diff.events == []


def test_due_date_change_needs_writeback() -> None:
    moved = replace(OPEN, due_date=date(2023, 4, 30), sync_token="1")
    assert compare_snapshots([moved], snapshot_frame([OPEN])).writeback_ids == ["130"]


def test_ledger_shaped_previous_frame_with_floats_and_strings() -> None:
    previous = pd.DataFrame([{"invoice_id": 130, "status": "open", "balance": 362.07000001,
                              "total": "362.07", "amount_paid": 0.0, "due_date": "2023-03-20",
                              "sync_token": "0", "last_updated": "2023-02-18T21:16:17+00:00"}])
    assert compare_snapshots([OPEN], previous).changed.empty


def test_missing_previous_columns_are_not_compared() -> None:
    previous = pd.DataFrame([{"invoice_id": "130", "status": "open"}])
    assert compare_snapshots([OPEN], previous).changed.empty


def test_duplicate_fetch_rows_last_one_wins() -> None:
    partial = _paid(OPEN, "10", InvoiceStatus.PARTIALLY_PAID)
    diff = compare_snapshots([OPEN, partial], snapshot_frame([OPEN]))
    assert len(diff.changed) == 1 and diff.changed.loc[0, "status"] == "partially_paid"


def test_many_invoices_few_changes() -> None:
    base = [replace(OPEN, invoice_id=str(i), doc_number=f"D{i}") for i in range(10_000)]
    previous = snapshot_frame(base)
    current = list(base)
    for i in range(0, 10_000, 200):
        current[i] = _paid(base[i], "12.07", InvoiceStatus.PARTIALLY_PAID)
    diff = compare_snapshots(current, previous)
    assert len(diff.changed) == 50 and len(diff.writeback_ids) == 50
    money = [e for e in diff.events if e.kind == EventKind.PAYMENT_RECEIVED]
    assert len(money) == 50 and {e.amount for e in money} == {Decimal("12.07")}


def test_payment_events_one_payment_several_invoices() -> None:
    events = payment_events([_payment("9", ("130", 100.0), ("131", 50.5), ("130", 1.0))])
    assert [(e.invoice_id, e.amount) for e in events] == [("130", Decimal("101.0")),
                                                          ("131", Decimal("50.5"))]
    assert all(e.payment_id == "9" and e.customer_name == "Sonnenschein Family Store" for e in events)


def test_payment_events_from_real_payments() -> None:
    events = payment_events([PAYMENT_120, {"Payment": PAYMENT_PARTIAL_101}, PAYMENT_UNAPPLIED_163])
    got = {(e.payment_id, e.invoice_id, e.amount) for e in events}
    # 163: 65 received, 10 unapplied; only the 55 applied to invoice 70 is an invoice payment.
    assert got == {("120", "12", Decimal("1675.52")), ("101", "67", Decimal("220.0")),
                   ("163", "70", Decimal("55.0"))}
    first = next(e for e in events if e.payment_id == "120")
    assert first.payment_date == date(2023, 2, 18) and first.currency == "USD"


def test_payment_events_skip_voided_deleted_known_and_duplicates() -> None:
    deleted = {"Id": "77", "status": "Deleted", "domain": "QBO"}
    events = payment_events(
        [PAYMENT_VOIDED_125, deleted, PAYMENT_120, PAYMENT_120,
         _payment("9", ("1", 10.0), ("2", 20.0)), _payment("8", ("3", 5.0))],
        known_payment_ids={("9", "1"), "8"},
    )
    assert [(e.payment_id, e.invoice_id) for e in events] == [("120", "12"), ("9", "2")]


def test_payment_for_invoice_not_fetched_is_still_reported() -> None:
    diff = compare_snapshots([], None, payments=[_payment("5", ("999", 42.0))])
    [event] = diff.events
    assert (event.invoice_id, event.amount, event.new_status) == ("999", Decimal("42.0"), None)
