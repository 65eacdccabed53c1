"""Overdue reminder steps: plan from the synced snapshots, then re-check, render and send each one.

The plan reads only the ledger (the status sync's ``invoice_snapshots``) and, for the few invoices
that are due, the deals behind them. Sending re-reads each invoice from QuickBooks first (one GET
with ``include=invoiceLink``), so a payment made since the last sync stops its reminder. Each
(invoice, step) is claimed in the ledger's notifications before the email goes out and marked
sent or failed afterwards: a step goes out at most once, and a failed one is retried next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

from dealbooks.clients.crm import CrmClient
from dealbooks.domain.customer import resolve_source
from dealbooks.domain.deal import Deal
from dealbooks.domain.reminders import (
    NO_RECIPIENT,
    ReminderCadence,
    ReminderDue,
    due_reminders,
)
from dealbooks.domain.snapshot_rows import state_from_row
from dealbooks.domain.status import CLOSED_STATUSES, InvoiceState, company_timezone, invoice_state
from dealbooks.exceptions import (
    ConfigurationError,
    CrmNotFound,
    DealbooksError,
    QboNotFoundError,
)
from dealbooks.notifications import (
    EmailDeliveryError,
    ReminderData,
    RenderedReminder,
    SmtpEmailSender,
    SmtpSettings,
    attachment_filename,
    build_reminder_message,
    format_money,
    mailbox,
    render_reminder,
)

log = logging.getLogger("dealbooks.reminders")
RUN_KIND = "reminders"
NOTIFICATION_KIND = "reminder"
FALSE_WORDS = frozenset({"", "0", "false", "no", "off", "none", "null"})


@dataclass(frozen=True)
class CompanyProfile:
    """Who sends the reminders and where "today" is."""

    name: str
    timezone: str
    home_currency: str = "USD"


@dataclass(frozen=True)
class PlannedReminder:
    """A reminder due today according to the last sync, with what the deal adds to it."""

    due: ReminderDue
    deal_key: str = ""
    contact_name: str = ""
    crm_email: str = ""


@dataclass
class ReminderPlan:
    """Today's reminders, the ones stopped before sending, and the steps already done."""

    today: date
    realm_id: str
    cadence: ReminderCadence | None
    reminders: list[PlannedReminder] = field(default_factory=list)
    stopped: list[ReminderOutcome] = field(default_factory=list)
    done: set[tuple[str, int]] = field(default_factory=set)


@dataclass
class ReminderOutcome:
    """What happened to one (invoice, step): sent, preview, skipped, excluded or failed."""

    invoice_id: str
    step: int
    outcome: str
    category: str = ""
    message: str = ""
    doc_number: str = ""
    recipient: str = ""
    subject: str = ""
    rendered: RenderedReminder | None = field(default=None, repr=False)
    pay_link: str = ""

    def key(self, realm_id: str) -> str:
        """The ledger key ``<realm>:<invoice>:<step>``."""
        return reminder_key(realm_id, self.invoice_id, self.step)


def reminder_key(realm_id: str, invoice_id: str, step: int) -> str:
    """The notification / record key of one reminder step."""
    return f"{realm_id}:{invoice_id}:{step}"


def company_profile(qbo: Any, settings: Any) -> CompanyProfile:
    """The company's name, timezone (QBO's ``CompanyTimeZone``) and home currency."""
    info = qbo.company_info()
    prefs = qbo.preferences()
    home = ((prefs.get("CurrencyPrefs") or {}).get("HomeCurrency") or {}).get("value") or "USD"
    return CompanyProfile(name=info.get("CompanyName") or info.get("LegalName") or "",
                          timezone=company_timezone(prefs, info, settings.timezone), home_currency=home)


def cadence_from(settings: Any) -> ReminderCadence | None:
    """The cadence of ``InvoiceSettings`` (``reminder_days``, business days, holidays); None when it is empty.

    A 0 in ``reminder_days`` is ignored: on the due date an invoice is not overdue yet.
    """
    steps = tuple(day for day in settings.reminder_days if day >= 1)
    if not steps:
        return None
    return ReminderCadence(steps=steps, business_days=bool(settings.reminder_business_days),
                           holidays=frozenset(getattr(settings, "reminder_holidays", None) or ()))


def truthy(value: Any) -> bool:
    """Whether a CRM field value means "yes" (checkboxes, "true"/"false" strings, option labels)."""
    if value is None or value is False:
        return False
    if isinstance(value, (list, tuple, set, dict)):
        return bool(value)
    return str(value).strip().lower() not in FALSE_WORDS


def plan_reminders(*, qbo: Any, ledger: Any, settings: Any, crm: Any, today: date) -> ReminderPlan:
    """Today's reminders from the synced snapshots, minus do-not-remind customers and deals.

    Args:
        qbo: the ``QboClient`` (only its realm id is used).
        ledger: the ``Ledger``.
        settings: ``InvoiceSettings``.
        crm: a function CRM name → ``CrmClient`` (deals are read only for due invoices that need it).
        today: the company-local date.

    Returns:
        The plan; reminders whose deal could not be read are in ``stopped`` as failures.
    """
    realm = qbo.realm_id
    cadence = cadence_from(settings)
    plan = ReminderPlan(today=today, realm_id=realm, cadence=cadence)
    if cadence is None:
        return plan
    for key in ledger.notifications.keys(NOTIFICATION_KIND):
        key_realm, invoice_id, step = key.rsplit(":", 2)
        if key_realm == realm:
            plan.done.add((invoice_id, int(step)))
    frame = ledger.snapshots.load(realm)
    states = [state_from_row(row, today) for row in frame.to_dict("records")]
    candidates = due_reminders(states, today, cadence, plan.done)
    links = ledger.links.for_invoices(realm, [c.invoice_id for c in candidates])
    blocked = {f"customer:{c}" for c in settings.do_not_remind_customer_ids}
    deal_keys: dict[str, str] = {}
    crm_emails: dict[str, str] = {}
    contacts: dict[str, str] = {}
    readable: list[InvoiceState] = []
    for candidate in candidates:
        link = links.get(candidate.invoice_id)
        if link is not None:
            deal_keys[candidate.invoice_id] = f"{link.crm}:{link.deal_id}"
        needs_deal = bool(settings.do_not_remind_field) or not candidate.invoice.bill_email
        if link is not None and needs_deal:
            try:
                deal = crm(link.crm).get_deal(link.deal_id)
            except CrmNotFound:
                deal = None  # the deal is gone; the invoice is still owed
            except DealbooksError as exc:
                plan.stopped.append(ReminderOutcome(
                    candidate.invoice_id, candidate.step, "failed", exc.category,
                    f"Could not read deal {link.crm}:{link.deal_id} to check do-not-remind and the email "
                    f"({exc.message}); will retry next run.", candidate.invoice.doc_number))
                continue
            if deal is not None:
                if settings.do_not_remind_field and truthy(resolve_source(deal, settings.do_not_remind_field)):
                    blocked.add(deal.key)
                crm_emails[candidate.invoice_id] = _deal_email(deal, settings)
                contacts[candidate.invoice_id] = deal.person.name if deal.person else ""
        readable.append(candidate.invoice)
    readable_ids = {state.invoice_id for state in readable}
    final = due_reminders(readable, today, cadence, plan.done, blocked, crm_emails=crm_emails, deal_keys=deal_keys)
    kept = {r.invoice_id for r in final}
    for candidate in candidates:
        if candidate.invoice_id in readable_ids and candidate.invoice_id not in kept:
            plan.stopped.append(ReminderOutcome(
                candidate.invoice_id, candidate.step, "excluded", "do_not_remind",
                _blocked_reason(candidate.invoice, deal_keys.get(candidate.invoice_id, "")),
                candidate.invoice.doc_number))
    plan.reminders = [PlannedReminder(r, deal_keys.get(r.invoice_id, ""), contacts.get(r.invoice_id, ""),
                                      crm_emails.get(r.invoice_id, "")) for r in final]
    return plan


def _deal_email(deal: Deal, settings: Any) -> str:
    value = resolve_source(deal, settings.email_source) if settings.email_source else None
    return str(value or (deal.person.email if deal.person else "") or "").strip()


def _blocked_reason(state: InvoiceState, deal_key: str) -> str:
    return (f"Invoice {state.doc_number or state.invoice_id} is not reminded: its customer "
            f"({state.customer_name or state.customer_id}) or deal {deal_key or '(none)'} is marked do-not-remind.")


class ReminderSender:
    """Re-checks, renders and sends the planned reminders; every outcome is returned, nothing raises.

    Args:
        qbo: the ``QboClient``.
        ledger: the ``Ledger`` (notifications claimed and marked here).
        settings: ``InvoiceSettings`` (from, reply-to).
        crm: a function CRM name → ``CrmClient`` for the deal notes.
        profile: the sending company.
        smtp_block: the prefect-email ``EmailServerCredentials`` block (unused in a dry run).
        dry_run: render only; nothing is claimed, sent, noted or recorded.
    """

    def __init__(self, *, qbo: Any, ledger: Any, settings: Any, crm: Any, profile: CompanyProfile,
                 smtp_block: Any, dry_run: bool) -> None:
        self.qbo, self.ledger, self.settings, self.crm = qbo, ledger, settings, crm
        self.profile, self.dry_run = profile, dry_run
        self.sender: SmtpEmailSender | None = None
        if not dry_run:
            if smtp_block is None:
                raise ConfigurationError("No SMTP credentials block: create one (dealbooks setup, or "
                                         "blocks={'smtp': '<name>'}) before sending reminders.")
            self.sender = SmtpEmailSender(SmtpSettings.from_prefect_email(smtp_block))

    def send_all(self, plan: ReminderPlan) -> list[ReminderOutcome]:
        """One outcome per planned reminder (plus the skipped steps of the sent ones)."""
        outcomes: list[ReminderOutcome] = []
        for planned in plan.reminders:
            try:
                outcomes += self.send_one(planned, plan)
            except Exception as exc:  # one bad invoice never stops the others
                log.exception("unexpected failure sending reminder for invoice %s", planned.due.invoice_id)
                outcomes.append(ReminderOutcome(planned.due.invoice_id, planned.due.step, "failed", "internal",
                                                f"{type(exc).__name__}: {exc}"[:500]))
        return outcomes

    def send_one(self, planned: PlannedReminder, plan: ReminderPlan) -> list[ReminderOutcome]:
        """Re-read the invoice, then send (or preview) the step still due; returns its outcomes."""
        due = planned.due
        number = due.invoice.doc_number
        try:
            raw = self.qbo.get_invoice(due.invoice_id, include_link=True)
        except QboNotFoundError:
            return [ReminderOutcome(due.invoice_id, due.step, "excluded", "deleted",
                                    f"Invoice {number or due.invoice_id} was deleted in QuickBooks since the last sync.",
                                    number)]
        except DealbooksError as exc:
            return [ReminderOutcome(due.invoice_id, due.step, "failed", exc.category,
                                    f"Could not re-read the invoice from QuickBooks: {exc.message}", number)]
        fresh = invoice_state(raw, plan.today)
        number = fresh.doc_number or number
        still = due_reminders([fresh], plan.today, plan.cadence, plan.done,
                              crm_emails={fresh.invoice_id: planned.crm_email})
        if not still:
            closed = fresh.status in CLOSED_STATUSES or fresh.balance <= 0
            return [ReminderOutcome(due.invoice_id, due.step, "excluded", "closed" if closed else "not_due",
                                    f"Invoice {number} is {fresh.status} now (balance {fresh.balance}): "
                                    "no reminder." if closed else
                                    f"Invoice {number} is no longer due for a reminder (due {fresh.due_date}).",
                                    number)]
        due = still[0]
        if due.failure_reason == NO_RECIPIENT:
            return [ReminderOutcome(due.invoice_id, due.step, "failed", NO_RECIPIENT,
                                    f"Invoice {number} has no billing email in QuickBooks and its deal "
                                    f"{planned.deal_key or '(not linked)'} has no email: add one to the "
                                    "invoice or the customer; the reminder is retried next run.", number)]
        outcome = self._deliver(due, fresh, planned, plan.realm_id, plan.today)
        skipped = [ReminderOutcome(due.invoice_id, step, "skipped", "skipped_step",
                                   f"Step {step} was due but not sent in time; step {due.step} went out instead.",
                                   number) for step in due.skipped_steps]
        return [outcome] + (skipped if outcome.outcome == "sent" else [])

    def _deliver(self, due: ReminderDue, fresh: InvoiceState, planned: PlannedReminder, realm: str,
                 today: date) -> ReminderOutcome:
        number = fresh.doc_number or fresh.invoice_id
        data = ReminderData(
            customer_name=fresh.customer_name or planned.contact_name or "customer", invoice_number=number,
            amount_due=fresh.balance, due_date=fresh.due_date, days_overdue=due.days_overdue,  # type: ignore[arg-type]
            company_name=self.profile.name, currency=fresh.currency or self.profile.home_currency,
            contact_name=planned.contact_name or None, pay_link=fresh.invoice_link or None,
            invoice_total=fresh.total, company_email=self.settings.reminder_reply_to or self.settings.reminder_from)
        rendered = render_reminder(data, due.step, has_attachment=True)
        outcome = ReminderOutcome(due.invoice_id, due.step, "preview", doc_number=number, recipient=due.recipient,
                                  subject=rendered.subject, rendered=rendered, pay_link=fresh.invoice_link)
        try:
            sender = mailbox(self.settings.reminder_from, self.profile.name)
            to = mailbox(due.recipient, planned.contact_name or fresh.customer_name)
            reply_to = mailbox(self.settings.reminder_reply_to) if self.settings.reminder_reply_to else None
        except ValueError as exc:
            return _fail(outcome, "invalid_address", f"Invoice {number}: {exc}; fix the address in QuickBooks "
                                                     "or InvoiceSettings (reminder_from / reminder_reply_to).")
        if self.dry_run:
            outcome.message = f"would send step {due.step} to {due.recipient}"
            return outcome
        key = reminder_key(realm, due.invoice_id, due.step)
        if not self.ledger.notifications.claim(NOTIFICATION_KIND, key, {"invoice": due.invoice_id, "step": due.step,
                                                                      "to": due.recipient, "doc_number": number}):
            outcome.outcome, outcome.category = "excluded", "already_sent"
            outcome.message = f"Step {due.step} of invoice {number} was already sent (or is being sent elsewhere)."
            return outcome
        try:
            pdf = self.qbo.invoice_pdf(due.invoice_id)
            message = build_reminder_message(rendered, sender=sender, to=to, invoice_number=number, pdf=pdf,
                                             reply_to=reply_to)
            assert self.sender is not None
            sent = self.sender.send(message)
        except EmailDeliveryError as exc:
            self.ledger.notifications.mark_failed(NOTIFICATION_KIND, key, exc.message)
            return _fail(outcome, exc.category, f"{exc.message} The reminder is retried next run.")
        except DealbooksError as exc:
            self.ledger.notifications.mark_failed(NOTIFICATION_KIND, key, exc.message)
            return _fail(outcome, exc.category, f"Could not get the invoice PDF from QuickBooks: {exc.message}")
        except Exception as exc:
            self.ledger.notifications.mark_failed(NOTIFICATION_KIND, key, f"{type(exc).__name__}: {exc}")
            raise
        self.ledger.notifications.mark_sent(NOTIFICATION_KIND, key, {
            "invoice": due.invoice_id, "step": due.step, "to": due.recipient, "doc_number": number,
            "message_id": sent.message_id or "", "subject": rendered.subject, "sent_on": today.isoformat(),
            "days_overdue": due.days_overdue})
        outcome.outcome, outcome.category = "sent", ""
        outcome.message = f"step {due.step} sent to {due.recipient} ({attachment_filename(number)} attached)"
        outcome.message += self._note(planned.deal_key, due, fresh, number)
        return outcome

    def _note(self, deal_key: str, due: ReminderDue, fresh: InvoiceState, number: str) -> str:
        """Add the send to the deal's timeline; returns a remark for the outcome message."""
        if not deal_key:
            return ""
        crm_name, deal_id = deal_key.split(":", 1)
        amount = format_money(fresh.balance, fresh.currency or self.profile.home_currency)
        try:
            client: CrmClient = self.crm(crm_name)
            client.add_note(deal_id, f"<b>Overdue reminder (step {due.step})</b> emailed to "
                                     f"{escape(due.recipient)} for invoice {escape(number)}: {escape(amount)} due "
                                     f"since {fresh.due_date}, {due.days_overdue} days overdue.")
        except DealbooksError as exc:
            return f"; the note on deal {deal_key} failed: {exc.message}"
        return f"; noted on deal {deal_key}"


def _fail(outcome: ReminderOutcome, category: str, message: str) -> ReminderOutcome:
    outcome.outcome, outcome.category, outcome.message = "failed", category, message
    return outcome
