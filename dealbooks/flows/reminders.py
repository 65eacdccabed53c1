"""Overdue reminders: the day's reminder emails for invoices the status sync saw overdue.

Daily (``InvoiceSettings.reminders_cron``). Reads the synced snapshots, leaves out do-not-remind
customers and deals, re-checks every invoice with QuickBooks just before its email, attaches the
invoice PDF, and records each send in the ledger and on the deal. ``dry_run`` shows the emails that
would go out as a markdown artifact and sends nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from dealbooks.flows.context import RunContext
from dealbooks.tasks.invoicing import today_for
from dealbooks.tasks.reminders import (
    RUN_KIND,
    CompanyProfile,
    ReminderOutcome,
    ReminderPlan,
    ReminderSender,
    company_profile,
    plan_reminders,
)

LEDGER_OUTCOME = {"sent": "synced", "failed": "failed", "excluded": "excluded", "skipped": "excluded"}


@task(name="read-quickbooks-company", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def read_company(ctx: RunContext) -> CompanyProfile:
    """The sending company: name, timezone, home currency (from QuickBooks)."""
    return company_profile(ctx.qbo, ctx.settings)


@task(name="plan-reminders", cache_policy=NO_CACHE)
def plan(ctx: RunContext, today: date) -> ReminderPlan:
    """Today's reminders from the synced snapshots, minus do-not-remind customers and deals."""
    return plan_reminders(qbo=ctx.qbo, ledger=ctx.ledger, settings=ctx.settings, crm=ctx.crm, today=today)


@task(name="send-reminders", cache_policy=NO_CACHE)
def send(ctx: RunContext, profile: CompanyProfile, reminders: ReminderPlan, dry_run: bool) -> list[ReminderOutcome]:
    """Re-check each planned reminder with QuickBooks and send it (or render it, in a dry run)."""
    if not reminders.reminders:
        return []
    sender = ReminderSender(qbo=ctx.qbo, ledger=ctx.ledger, settings=ctx.settings, crm=ctx.crm, profile=profile,
                            smtp_block=None if dry_run else ctx.smtp, dry_run=dry_run)
    return sender.send_all(reminders)


@flow(name="overdue-reminders", log_prints=True)
def overdue_reminders(as_of: date | None = None, dry_run: bool = False,
                      blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Email today's overdue reminders, each cadence step at most once per invoice.

    Args:
        as_of: the company-local day to act as (default: today in the QuickBooks company's timezone).
        dry_run: show the emails that would go out (markdown artifact); send and record nothing.
        blocks: block document names overriding the defaults (see ``dealbooks.flows.context``).

    Returns:
        ``{"date", "counts", "reminders"}``: counts per outcome and one row per (invoice, step).
    """
    logger = get_run_logger()
    ctx = RunContext(blocks or {})
    profile = read_company(ctx)
    today = as_of or today_for(profile)
    reminders = plan(ctx, today)
    if reminders.cadence is None:
        logger.info("InvoiceSettings.reminder_days is empty: reminders are off.")
    elif not reminders.cadence.is_sending_day(today):
        logger.info("%s is not a business day: no reminders today.", today)
    logger.info("%s: %d reminders due, %d stopped before sending", today, len(reminders.reminders),
                len(reminders.stopped))
    outcomes = reminders.stopped + send(ctx, profile, reminders, dry_run)
    if not dry_run:
        ctx.ledger.records.record_many(RUN_KIND, "reminder", [
            (o.key(reminders.realm_id), LEDGER_OUTCOME[o.outcome], o.category, o.message)  # type: ignore[misc]
            for o in outcomes], flow_run_id=str(flow_run.get_id() or ""))
    return report(outcomes, today, dry_run)


def report(outcomes: list[ReminderOutcome], today: date, dry_run: bool) -> dict[str, Any]:
    """Counts, a table artifact of every reminder, and the rendered emails of a dry run."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    rows = [{"invoice": o.doc_number or o.invoice_id, "invoice_id": o.invoice_id, "step": o.step,
             "outcome": o.outcome, "category": o.category, "to": o.recipient, "subject": o.subject,
             "message": o.message} for o in outcomes]
    if rows:
        create_table_artifact(key="overdue-reminders" if not dry_run else "overdue-reminders-preview", table=rows,
                              description=f"Reminders on {today}: {counts}")
    if dry_run:
        create_markdown_artifact(key="overdue-reminders-emails", markdown=preview_markdown(outcomes, today),
                                 description=f"Reminder emails that would go out on {today} (dry run)")
    return {"date": today.isoformat(), "counts": counts, "reminders": rows}


def preview_markdown(outcomes: list[ReminderOutcome], today: date) -> str:
    """The emails a dry run would send: recipient, subject and plain-text body of each."""
    previews = [o for o in outcomes if o.outcome == "preview" and o.rendered is not None]
    parts = [f"# Overdue reminders for {today} (dry run: nothing was sent)\n",
             f"{len(previews)} email(s) would go out.\n"]
    for o in previews:
        assert o.rendered is not None
        parts.append(f"## Invoice {_md(o.doc_number)}, step {o.step}\n\n"
                     f"- **To:** {_md(o.recipient)}\n- **Subject:** {_md(o.subject)}\n"
                     f"- **Attachment:** the invoice PDF from QuickBooks\n"
                     f"- **Pay link:** {_md(o.pay_link) or 'none (QuickBooks gives no InvoiceLink)'}\n\n"
                     f"```text\n{o.rendered.text.replace('```', '` ` `')}\n```\n")
    others = [o for o in outcomes if o.outcome != "preview"]
    if others:
        parts.append("## Not sent\n\n| Invoice | Step | Outcome | Why |\n|---|---:|---|---|\n")
        parts += [f"| {_md(o.doc_number or o.invoice_id)} | {o.step} | {o.outcome} | {_md(o.message)} |\n"
                  for o in others]
    return "\n".join(parts)


def _md(text: str) -> str:
    """Text safe in markdown (no pipes breaking tables, no raw HTML)."""
    return (text or "").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


__all__ = ["overdue_reminders"]
