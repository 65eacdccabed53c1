"""Every dealbooks deployment, with schedules and triggers from ``InvoiceSettings``.

``dealbooks serve`` serves them all in one process (Prefect ``serve``); ``prefect.yaml`` deploys
the same flows to a work pool. Names match ``dealbooks.deployments.dispatch``.
"""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Interval

from dealbooks.blocks import InvoiceSettings
from dealbooks.deployments.dispatch import DEAL_WON_EVENT, QBO_CHANGED_EVENT


def build_deployments(settings: InvoiceSettings | None = None, *, blocks: dict[str, str] | None = None,
                      triggers: bool = True) -> list[Any]:
    """Runner deployments for ``serve``.

    Args:
        settings: schedules, timezone and cadence (defaults when None).
        blocks: block names passed to every flow (``RunContext``).
        triggers: attach the Prefect event triggers (webhook receiver in ``--dispatch events`` mode).
    """
    from dealbooks.flows.invoice_on_won import invoice_on_deal_won, poll_won_deals
    from dealbooks.flows.status_sync import overdue_summary, payment_alerts, status_sync
    from dealbooks.flows.reminders import overdue_reminders

    settings = settings or InvoiceSettings()
    params: dict[str, Any] = {"blocks": blocks} if blocks else {}
    single = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    # A sync asked for while one runs waits its turn: the running one may have read QuickBooks before
    # the change that triggered the new one (the dispatcher coalesces the waiting ones).
    queued = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    won_trigger = DeploymentEventTrigger(
        name="deal won", expect={DEAL_WON_EVENT}, match={"prefect.resource.id": "dealbooks.deal.*"},
        parameters={"crm": "{{ event.payload.crm }}", "deal_ids": ["{{ event.payload.deal_id }}"], **params})
    qbo_trigger = DeploymentEventTrigger(
        name="quickbooks changed", expect={QBO_CHANGED_EVENT}, match={"prefect.resource.id": "dealbooks.quickbooks.*"},
        parameters={"trigger": "webhook", **params})
    return [
        invoice_on_deal_won.to_deployment(
            name="invoice-on-deal-won", parameters=params, triggers=[won_trigger] if triggers else [],
            tags=["dealbooks"], description="Create the QuickBooks invoice for a won deal (webhook or event)."),
        poll_won_deals.to_deployment(
            name="poll-won-deals", parameters=params,
            schedules=[Interval(settings.poll_interval_minutes * 60, timezone=settings.timezone)],
            concurrency_limit=single, tags=["dealbooks"],
            description="Invoice won deals whose webhooks were lost, and retry failed ones."),
        status_sync.to_deployment(
            name="status-sync", schedules=[Cron(settings.sync_cron, timezone=settings.timezone)], parameters=params,
            triggers=[qbo_trigger] if triggers else [], concurrency_limit=queued, tags=["dealbooks"],
            description="Invoice status and payments from QuickBooks back to the deals; payment alerts."),
        payment_alerts.to_deployment(
            name="payment-alerts", parameters=params, concurrency_limit=single, tags=["dealbooks"],
            description="Post a Slack message per new payment (also runs at the end of every sync)."),
        overdue_reminders.to_deployment(
            name="overdue-reminders", schedules=[Cron(settings.reminders_cron, timezone=settings.timezone)],
            parameters=params, concurrency_limit=single, tags=["dealbooks"],
            description=f"Overdue reminder emails at {', '.join(map(str, settings.reminder_days))} days overdue."),
        overdue_summary.to_deployment(
            name="overdue-summary", schedules=[Cron(settings.reminders_cron, timezone=settings.timezone)],
            parameters=params, concurrency_limit=single, tags=["dealbooks"],
            description="The day's overdue invoices, count and total per owner, to the Slack overdue channel."),
    ]


def serve_all(settings_block: str | None = None, blocks: dict[str, str] | None = None, triggers: bool = True,
              limit: int | None = None) -> None:
    """Serve every deployment in this process until interrupted."""
    from prefect import serve

    from dealbooks.flows.context import load_block

    names = dict(blocks or {})
    if settings_block:
        names["settings"] = settings_block
    settings = load_block("settings", names, required=False) or InvoiceSettings()
    serve(*build_deployments(settings, blocks=blocks, triggers=triggers), limit=limit)
