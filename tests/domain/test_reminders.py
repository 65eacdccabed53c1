"""Reminder cadence: steps, catch-up, business days, recipients, idempotence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dealbooks.domain.reminders import NO_RECIPIENT, ReminderCadence, due_reminders
from dealbooks.domain.status import InvoiceStatus, company_today, invoice_state

from .qbo_samples import INVOICE_OPEN_130, INVOICE_SENT_PARTIAL_96, invoice

DUE = date(2023, 3, 20)  # a Monday; invoice 130's due date
OVERDUE = invoice_state(INVOICE_OPEN_130, DUE + timedelta(days=1))


def _day(n: int) -> date:
    return DUE + timedelta(days=n)


def _simulate(days: range, cadence: ReminderCadence | None = None, runs_on: set[int] | None = None,
              state=OVERDUE) -> list[tuple[int, int, tuple[int, ...]]]:
    """Run the daily job, recording sends and skips as a ledger would; return (day, step, skipped)."""
    done: set[tuple[str, int]] = set()
    log = []
    for n in days:
        if runs_on is not None and n not in runs_on:
            continue
        for due in due_reminders([state], _day(n), cadence, already_sent=done):
            log.append((n, due.step, due.skipped_steps))
            done |= {due.key, *((due.invoice_id, s) for s in due.skipped_steps)}
    return log


def test_default_cadence_over_a_month_sends_each_step_once() -> None:
    assert _simulate(range(0, 45)) == [(1, 1, ()), (7, 7, ()), (14, 14, ()), (30, 30, ())]


def test_not_due_before_or_on_due_date() -> None:
    assert due_reminders([OVERDUE], DUE) == []
    assert due_reminders([OVERDUE], _day(-3)) == []


def test_rerun_same_day_sends_nothing_more() -> None:
    [first] = due_reminders([OVERDUE], _day(7))
    assert due_reminders([OVERDUE], _day(7), already_sent={first.key, ("130", 1)}) == []


def test_catch_up_sends_only_the_latest_step_and_skips_the_earlier() -> None:
    [due] = due_reminders([OVERDUE], _day(16), already_sent={("130", 1)})
    assert (due.step, due.skipped_steps, due.days_overdue) == (14, (7,), 16)
    assert _simulate(range(0, 45), runs_on={1, 20, 40}) == [(1, 1, ()), (20, 14, (7,)), (40, 30, ())]


def test_latest_step_already_sent_means_nothing_even_if_earlier_missing() -> None:
    assert due_reminders([OVERDUE], _day(8), already_sent={("130", 7)}) == []


@pytest.mark.parametrize("state", [
    replace(OVERDUE, status=InvoiceStatus.PAID, balance=Decimal(0)),
    replace(OVERDUE, status=InvoiceStatus.VOIDED, total=Decimal(0), balance=Decimal(0)),
    replace(OVERDUE, status=InvoiceStatus.DELETED),
    replace(OVERDUE, balance=Decimal(0)),
    replace(OVERDUE, due_date=None),
])
def test_nothing_for_closed_or_settled_invoices(state) -> None:
    assert due_reminders([state], _day(30)) == []


def test_stops_the_moment_the_invoice_is_paid() -> None:
    paid_after_day_10 = [replace(OVERDUE, status=InvoiceStatus.PAID, balance=Decimal(0))]
    assert _simulate(range(0, 10)) == [(1, 1, ()), (7, 7, ())]
    assert due_reminders(paid_after_day_10, _day(14)) == []


def test_partially_paid_overdue_invoice_is_reminded() -> None:
    state = invoice_state(INVOICE_SENT_PARTIAL_96, date(2013, 5, 21))
    [due] = due_reminders([state], date(2013, 5, 21))
    assert due.step == 7 and due.invoice.balance == Decimal("40.0") and due.recipient == "test@intuit.com"


def test_do_not_remind_by_customer_invoice_or_deal() -> None:
    today = _day(7)
    assert due_reminders([OVERDUE], today, do_not_remind={"customer:24"}) == []
    assert due_reminders([OVERDUE], today, do_not_remind={"invoice:130"}) == []
    assert due_reminders([OVERDUE], today, do_not_remind={"pipedrive:42"},
                         deal_keys={"130": "pipedrive:42"}) == []
    # a bare id never matches by accident (customer 24 vs invoice 24)
    assert len(due_reminders([OVERDUE], today, do_not_remind={"24", "130"})) == 1


def test_recipient_fallback_and_failure() -> None:
    no_bill_email = invoice_state(invoice(BillEmail=None), _day(1))
    [mapped] = due_reminders([no_bill_email], _day(1), crm_emails={"130": " ap@sonnenschein.example "})
    assert mapped.recipient == "ap@sonnenschein.example" and mapped.ok
    [failed] = due_reminders([no_bill_email], _day(1))
    assert failed.failure_reason == NO_RECIPIENT and not failed.ok and failed.recipient == ""
    [billed] = due_reminders([OVERDUE], _day(1), crm_emails={"130": "other@example.com"})
    assert billed.recipient == "Familiystore@intuit.com"


def test_one_reminder_per_invoice_sorted_by_invoice() -> None:
    other = replace(OVERDUE, invoice_id="131", due_date=_day(-31))
    dues = due_reminders([other, OVERDUE], _day(1))
    assert [(d.invoice_id, d.step) for d in dues] == [("130", 1), ("131", 30)]
    assert dues[1].skipped_steps == (1, 7, 14)


def test_custom_steps_are_sorted_and_validated() -> None:
    assert ReminderCadence(steps=(14, 3, 3)).steps == (3, 14)
    with pytest.raises(ValueError):
        ReminderCadence(steps=(0, 7))
    with pytest.raises(ValueError):
        ReminderCadence(steps=())


def test_business_days_skip_weekends_and_holidays() -> None:
    friday_due = replace(OVERDUE, due_date=date(2023, 3, 17))
    cadence = ReminderCadence(steps=(1, 5), business_days=True)
    assert due_reminders([friday_due], date(2023, 3, 18), cadence) == []  # Saturday: no sending
    assert due_reminders([friday_due], date(2023, 3, 19), cadence) == []  # Sunday
    [monday] = due_reminders([friday_due], date(2023, 3, 20), cadence)
    assert (monday.step, monday.days_overdue) == (1, 1)
    assert cadence.days_overdue(date(2023, 3, 17), date(2023, 3, 24)) == 5
    with_holiday = ReminderCadence(steps=(1, 5), business_days=True, holidays=frozenset({date(2023, 3, 20)}))
    assert due_reminders([friday_due], date(2023, 3, 20), with_holiday) == []
    [tuesday] = due_reminders([friday_due], date(2023, 3, 21), with_holiday)
    assert tuesday.days_overdue == 1


def test_calendar_days_send_nothing_on_a_holiday_but_count_it() -> None:
    cadence = ReminderCadence(steps=(1, 3), holidays=frozenset({DUE + timedelta(days=1)}))
    assert due_reminders([OVERDUE], DUE + timedelta(days=1), cadence) == []  # the holiday itself
    [next_day] = due_reminders([OVERDUE], DUE + timedelta(days=2), cadence)
    assert (next_day.step, next_day.days_overdue) == (1, 2)


def test_invoice_settings_holidays_reach_the_cadence() -> None:
    from dealbooks.blocks import InvoiceSettings
    from dealbooks.tasks.reminders import cadence_from

    settings = InvoiceSettings(reminder_holidays=["2026-12-25", "2026-12-24"], reminder_business_days=True)
    cadence = cadence_from(settings)
    assert cadence is not None and cadence.holidays == {date(2026, 12, 24), date(2026, 12, 25)}
    assert not cadence.is_sending_day(date(2026, 12, 24)) and cadence.is_sending_day(date(2026, 12, 23))
    with pytest.raises(ValueError):
        InvoiceSettings(reminder_holidays=["Christmas"])


def test_business_day_simulation_over_a_month() -> None:
    cadence = ReminderCadence(steps=(1, 7, 14), business_days=True)
    log = _simulate(range(0, 40), cadence)
    assert [step for _, step, _ in log] == [1, 7, 14]
    assert all(_day(n).weekday() < 5 for n, _, _ in log)
    assert [_day(n) for n, _, _ in log] == [date(2023, 3, 21), date(2023, 3, 29), date(2023, 4, 7)]


def test_calendar_mode_sends_on_weekends() -> None:
    assert [n for n, *_ in _simulate(range(0, 10))] == [1, 7]
    saturday_due = replace(OVERDUE, due_date=date(2023, 3, 24))
    assert due_reminders([saturday_due], date(2023, 3, 25))[0].step == 1  # a Saturday


def test_company_timezone_decides_the_day() -> None:
    now = datetime(2023, 3, 21, 6, 30, tzinfo=UTC)  # 20 March 23:30 in Los Angeles
    assert due_reminders([OVERDUE], company_today(now, "America/Los_Angeles")) == []
    assert due_reminders([OVERDUE], company_today(now, "Europe/London"))[0].step == 1


def test_empty_input() -> None:
    assert due_reminders([], _day(5)) == []
