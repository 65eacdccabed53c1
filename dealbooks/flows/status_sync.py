"""Status sync: invoice states and payments come back from QuickBooks to the deals; Slack hears about money.

Nightly (schedule) and on QuickBooks webhooks (near real time), the sync:

1. reads what changed in QBO since the last run (CDC; paged queries past CDC's limits; every invoice
   on the periodic full reconcile),
2. compares it with the ledger's snapshots (plus invoices whose due date has just passed) and stores
   the status changes and payments as events,
3. writes the roll-up of all of a deal's invoices back to every deal with a change, with a note per
   change, recording each invoice as synced, excluded or failed,
4. publishes the sync health and the AR aging report as artifacts,
5. posts the payment alerts (a subflow that never fails the sync).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from dealbooks.domain.aging import aging_markdown, aging_report, aging_rows
from dealbooks.domain.status import company_timezone, company_today
from dealbooks.flows.context import RunContext
from dealbooks.tasks.alerts import send_payment_alerts
from dealbooks.tasks.invoicing import invoice_app_url
from dealbooks.tasks.sync import (
    RUN_KIND,
    SyncChanges,
    detect_changes,
    failed_invoice_ids,
    health_rows,
    record_invoice_outcomes,
)
from dealbooks.tasks.sync_fetch import Fetched, fetch_changes
from dealbooks.tasks.writeback import DealResult, deals_of, note_items, write_back_deals

HEALTH_ARTIFACT = "status-sync-health"
AGING_ARTIFACT = "ar-aging"


def _run_id() -> str:
    return str(flow_run.get_id() or "")


def _cursor(ctx: RunContext, name: str) -> datetime | None:
    value = ctx.ledger.cursors.get(f"status-sync:{ctx.qbo.realm_id}:{name}")
    return datetime.fromisoformat(value) if value else None


@task(name="company-today", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def company_day(ctx: RunContext, as_of: date | None) -> date:
    """The company-local day overdue is decided against (``as_of`` when given)."""
    if as_of is not None:
        return as_of
    zone = company_timezone(ctx.qbo.preferences(), None, ctx.settings.timezone)
    return company_today(datetime.now(UTC), zone)


@task(name="fetch-quickbooks-changes", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def fetch_quickbooks_changes(ctx: RunContext, full: bool) -> Fetched:
    """Invoices and payments changed since the cursor (all invoices on a full reconcile)."""
    last_full = _cursor(ctx, "last-full")
    every = timedelta(days=ctx.settings.full_reconcile_every_days)
    due = last_full is None or datetime.now(UTC) - last_full >= every
    reason = "asked for (--full)" if full else f"periodic (every {ctx.settings.full_reconcile_every_days} days)"
    return fetch_changes(ctx.qbo, _cursor(ctx, "changed-since"), full=full or due, full_reason=reason)


@task(name="compare-with-ledger", cache_policy=NO_CACHE)
def compare_with_ledger(ctx: RunContext, fetched: Fetched, today: date) -> SyncChanges:
    """States, newly overdue invoices, events and snapshots, in bulk."""
    return detect_changes(ctx.ledger, ctx.qbo.realm_id, fetched, today, invoice_app_url(ctx.qbo, "{id}"))


@task(name="write-back-deals", cache_policy=NO_CACHE)
def write_back_changed_deals(ctx: RunContext, changes: SyncChanges) -> tuple[list[DealResult], list[str]]:
    """Roll-ups and notes for deals with a changed invoice, and deals whose last write-back failed."""
    realm = changes.realm_id
    retry = [i for i in failed_invoice_ids(ctx.ledger, realm) if i not in set(changes.changed_ids)]
    deals = deals_of(ctx.ledger, realm, changes.writeback_ids + retry)
    retry_deals = deals_of(ctx.ledger, realm, retry) if retry else {}
    changed = set(changes.changed_ids)
    notes: dict[tuple[str, str], list[Any]] = {}
    for key, links in deals.items():
        ids = {link.invoice_id for link in links}
        items = note_items(e for e in changes.events if e.invoice_id in ids and e.invoice_id in changed)
        if key in retry_deals:  # the notes of a failed write-back were never posted
            items += note_items(ctx.ledger.events.list(invoice_ids=sorted(ids), limit=10_000))
        notes[key] = items
    results = write_back_deals(ledger=ctx.ledger, qbo=ctx.qbo, crm_for=ctx.crm, realm_id=realm, deals=deals,
                               current=changes.states, today=changes.today,
                               url_template=invoice_app_url(ctx.qbo, "{id}"), notes=notes)
    return results, retry


@task(name="record-outcomes", cache_policy=NO_CACHE)
def record_outcomes(ctx: RunContext, changes: SyncChanges, results: list[DealResult],
                    retried: list[str]) -> dict[str, tuple[str, str, str]]:
    """Every changed (or retried) invoice: synced with its deal, excluded when unlinked, or failed."""
    by_invoice = {i: r for r in results for i in r.invoice_ids}
    outcomes: dict[str, tuple[str, str, str]] = {}
    for invoice_id in dict.fromkeys(changes.changed_ids + retried):
        result = by_invoice.get(invoice_id)
        if result is None:
            linked = ctx.ledger.links.for_invoice(changes.realm_id, invoice_id) is not None
            outcomes[invoice_id] = (("synced", "", "no deal field changed") if linked else
                                    ("excluded", "not_linked", "not linked to a deal"))
        elif result.outcome == "failed":
            outcomes[invoice_id] = ("failed", result.category, f"{result.key}: {result.message}")
        else:
            outcomes[invoice_id] = ("synced", "", f"{result.key}: {result.fields.status if result.fields else ''}")
    record_invoice_outcomes(ctx.ledger, changes.realm_id, outcomes, _run_id())
    return outcomes


@task(name="publish-reports", cache_policy=NO_CACHE)
def publish_reports(ctx: RunContext, outcomes: dict[str, tuple[str, str, str]], today: date) -> dict[str, Any]:
    """The sync-health table (stable key) and the AR aging report as artifacts."""
    run_counts = Counter((RUN_KIND, outcome, category) for outcome, category, _ in outcomes.values())
    health = health_rows(ctx.ledger, dict(run_counts), run_kinds=(RUN_KIND,))
    create_table_artifact(key=HEALTH_ARTIFACT, table=health or [{"run": RUN_KIND, "outcome": "-", "category": "-",
                                                                 "records": 0, "this run": 0}],
                          description=f"Status sync health on {today}: invoices by outcome and error category")
    aging = aging_report(ctx.ledger.snapshots.load(ctx.qbo.realm_id), today, by="customer")
    create_table_artifact(key=AGING_ARTIFACT, table=aging_rows(aging) or [{"customer": "No open receivables"}],
                          description=aging_markdown(aging))
    create_markdown_artifact(key=f"{AGING_ARTIFACT}-report", markdown=aging_markdown(aging),
                             description="Accounts receivable aging by customer")
    return {"health": health, "open_customers": len(aging)}


@flow(name="payment-alerts", log_prints=True)
def payment_alerts(blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Post one Slack message per new payment, at most once; failures are recorded and retried next run.

    Args:
        blocks: block document names overriding the defaults (see ``dealbooks.flows.context``).

    Returns:
        Counts of sent, failed, excluded and already-sent alerts, with the failures.
    """
    logger = get_run_logger()
    ctx = RunContext(blocks or {})
    if ctx.slack is None:
        logger.warning("No Slack block configured: payment alerts wait until one is saved.")
        return {"sent": 0, "failed": 0, "excluded": 0, "already_sent": 0, "skipped": "no slack block"}
    configured = set(ctx.configured_crms())
    report = send_payment_alerts(ledger=ctx.ledger, slack=ctx.slack, flow_run_id=_run_id(),
                                 crm_for=lambda name: ctx.crm(name) if name in configured else None)
    for key, category, message in report.failed:
        logger.warning("payment alert %s failed (%s): %s", key, category, message)
    return report.as_dict()


@flow(name="status-sync", log_prints=True)
def status_sync(trigger: str = "schedule", full: bool = False, as_of: date | None = None,
                blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Bring invoice states and payments from QuickBooks back to the deals, then alert on payments.

    Args:
        trigger: "schedule", "webhook" or "manual" (shown in the result and logs).
        full: read every invoice (a full reconcile), not only the changes.
        as_of: the company-local day overdue is decided against (default: today in the company's timezone).
        blocks: block document names overriding the defaults (see ``dealbooks.flows.context``).

    Returns:
        What was fetched, changed, written back, the outcome counts and the payment alerts.
    """
    logger = get_run_logger()
    ctx = RunContext(blocks or {})
    today = company_day(ctx, as_of)
    fetched = fetch_quickbooks_changes(ctx, full)
    logger.info("%s sync (%s): %d invoices, %d payments in %d QBO requests — %s", trigger, fetched.mode,
                len(fetched.invoices), len(fetched.payments), fetched.requests, fetched.reason)
    changes = compare_with_ledger(ctx, fetched, today)
    results, retried = write_back_changed_deals(ctx, changes)
    outcomes = record_outcomes(ctx, changes, results, retried)
    ctx.ledger.cursors.set(f"status-sync:{ctx.qbo.realm_id}:changed-since", fetched.next_cursor.isoformat())
    if fetched.mode == "full":
        ctx.ledger.cursors.set(f"status-sync:{ctx.qbo.realm_id}:last-full", datetime.now(UTC).isoformat())
    reports = publish_reports(ctx, outcomes, today)
    alerts = _alerts_never_failing(blocks)
    counts = Counter(outcome for outcome, _, _ in outcomes.values())
    return {"trigger": trigger, "mode": fetched.mode, "reason": fetched.reason, "as_of": today.isoformat(),
            "fetched": {"invoices": len(fetched.invoices), "payments": len(fetched.payments),
                        "requests": fetched.requests},
            "changed": len(changes.changed_ids), "newly_overdue": len(changes.overdue_ids),
            "events": {"found": len(changes.events), "new": changes.appended},
            "deals": {"written": sum(r.outcome == "synced" for r in results),
                      "failed": [{"deal": r.key, "category": r.category, "message": r.message}
                                 for r in results if r.outcome == "failed"],
                      "notes": sum(r.notes for r in results)},
            "outcomes": dict(counts), "health": reports["health"], "alerts": alerts}


def _alerts_never_failing(blocks: dict[str, str] | None) -> dict[str, Any]:
    """The payment-alerts subflow; its failure is logged and returned, never raised."""
    try:
        return payment_alerts(blocks=blocks)
    except Exception as exc:
        get_run_logger().error("payment alerts failed: %s: %s", type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


@flow(name="overdue-summary", log_prints=True)
def overdue_summary(as_of: date | None = None, blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Post the overdue summary (count and total per owner) to the overdue channel, once per day."""
    from dealbooks.tasks.overdue import post_overdue_summary

    ctx = RunContext(blocks or {})
    today = company_day(ctx, as_of)
    return post_overdue_summary(ctx, today)


__all__ = ["overdue_summary", "payment_alerts", "status_sync"]
