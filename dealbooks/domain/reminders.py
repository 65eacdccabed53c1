"""Overdue reminder cadence: which reminder step is due for which invoice today (pure, no I/O).

Rules:

- A step ``n`` is due once the invoice is at least ``n`` days overdue (calendar days, or business
  days with ``ReminderCadence.business_days``). Days are counted from the due date to ``today``, the
  company-local date (``dealbooks.domain.status.company_today``).
- At most one reminder per invoice per run: the latest step due, if it was not sent already.
- Catch-up: when runs were missed (or a step could not be sent), only the latest due step is sent;
  the earlier due steps that were never sent are returned in ``ReminderDue.skipped_steps`` so the
  caller records them as skipped and they never go out late. A rerun after recording the send
  (and the skips) in ``already_sent`` returns nothing.
- Nothing for invoices that are paid, voided or deleted, have no balance or no due date.
- Nothing for invoices matched by ``do_not_remind``.
- Nothing is sent on a listed holiday; business-day mode sends nothing on a weekend day either.
- Recipient: the invoice's ``BillEmail``, else the mapped CRM email, else the reminder comes back
  with ``failure_reason="no_recipient"`` (to be recorded as a failure, not sent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from dealbooks.domain.status import CLOSED_STATUSES, InvoiceState

DEFAULT_STEPS: tuple[int, ...] = (1, 7, 14, 30)
NO_RECIPIENT = "no_recipient"


@dataclass(frozen=True)
class ReminderCadence:
    """When reminders go out.

    Attributes:
        steps: Days overdue at which a reminder is due; sorted and de-duplicated on creation.
        business_days: Count only Monday–Friday days that are not in ``holidays``, and send
            nothing on other days.
        holidays: Company-local non-working dates: nothing is sent on them; in business-day mode
            they do not count as days overdue either.
    """

    steps: tuple[int, ...] = DEFAULT_STEPS
    business_days: bool = False
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        steps = tuple(sorted(set(int(s) for s in self.steps)))
        if not steps or steps[0] < 1:
            raise ValueError(f"reminder steps must be positive day counts, got {self.steps!r}")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    def is_sending_day(self, day: date) -> bool:
        """Whether reminders may go out on ``day`` (always true in calendar-day mode)."""
        return day not in self.holidays and (not self.business_days or day.weekday() < 5)

    def days_overdue(self, due_date: date, today: date) -> int:
        """Days overdue on ``today``: calendar days, or business days after ``due_date`` up to and
        including ``today``. Never negative."""
        if today <= due_date:
            return 0
        if not self.business_days:
            return (today - due_date).days
        holidays = np.array(sorted(self.holidays), dtype="datetime64[D]")
        start = np.datetime64(due_date + timedelta(days=1), "D")
        end = np.datetime64(today + timedelta(days=1), "D")
        return int(np.busday_count(start, end, holidays=holidays))


@dataclass(frozen=True)
class ReminderDue:
    """One reminder to send (or to record as failed when ``failure_reason`` is set)."""

    invoice: InvoiceState
    step: int
    days_overdue: int
    skipped_steps: tuple[int, ...] = ()
    recipient: str = ""
    failure_reason: str = ""

    @property
    def invoice_id(self) -> str:
        """The QBO invoice id."""
        return self.invoice.invoice_id

    @property
    def key(self) -> tuple[str, int]:
        """The (invoice id, step) pair under which the send is recorded."""
        return (self.invoice.invoice_id, self.step)

    @property
    def ok(self) -> bool:
        """True when the reminder can be sent."""
        return not self.failure_reason


def _blocked(state: InvoiceState, do_not_remind: set[str], deal_keys: Mapping[str, str]) -> bool:
    keys = {f"customer:{state.customer_id}", f"invoice:{state.invoice_id}"}
    if state.invoice_id in deal_keys:
        keys.add(deal_keys[state.invoice_id])
    return bool(keys & do_not_remind)


def due_reminders(
    invoices: Iterable[InvoiceState],
    today: date,
    cadence: ReminderCadence | None = None,
    already_sent: Iterable[tuple[str, int]] = (),
    do_not_remind: Iterable[str] = (),
    *,
    crm_emails: Mapping[str, str] | None = None,
    deal_keys: Mapping[str, str] | None = None,
) -> list[ReminderDue]:
    """The reminders due today, at most one per invoice (see module docstring for the rules).

    Args:
        invoices: Current invoice states (from the last sync).
        today: The company-local date.
        cadence: Steps and day counting; the default is 1, 7, 14, 30 calendar days.
        already_sent: (invoice id, step) pairs already sent or recorded as skipped.
        do_not_remind: Keys of things never to remind: ``"customer:<QBO customer id>"``,
            ``"invoice:<QBO invoice id>"``, or a deal key such as ``"pipedrive:42"`` (``Deal.key``).
        crm_emails: Fallback recipient per invoice id (the deal's person email in the CRM).
        deal_keys: Deal key per invoice id, for matching ``do_not_remind``.

    Returns:
        Reminders sorted by invoice id; those without a recipient carry ``failure_reason``.
    """
    cadence = cadence or ReminderCadence()
    if not cadence.is_sending_day(today):
        return []
    sent = set(already_sent)
    blocked = set(do_not_remind)
    emails, deals = crm_emails or {}, deal_keys or {}
    due: list[ReminderDue] = []
    for state in invoices:
        if state.status in CLOSED_STATUSES or state.balance <= 0 or state.due_date is None:
            continue
        if _blocked(state, blocked, deals):
            continue
        overdue = cadence.days_overdue(state.due_date, today)
        steps_due = [s for s in cadence.steps if s <= overdue]
        if not steps_due or (state.invoice_id, steps_due[-1]) in sent:
            continue
        recipient = (state.bill_email or emails.get(state.invoice_id, "")).strip()
        due.append(ReminderDue(
            invoice=state,
            step=steps_due[-1],
            days_overdue=overdue,
            skipped_steps=tuple(s for s in steps_due[:-1] if (state.invoice_id, s) not in sent),
            recipient=recipient,
            failure_reason="" if recipient else NO_RECIPIENT,
        ))
    return sorted(due, key=lambda r: (r.invoice_id, r.step))
