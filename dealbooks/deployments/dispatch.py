"""How a received webhook becomes a flow run.

``DeploymentDispatcher`` calls ``run_deployment`` with ``timeout=0`` and an idempotency key, so a
redelivered event never starts a second run. QuickBooks changes coalesce: while a status sync is
waiting to start (queued behind a running one), it will read every change so far, so no new run is
created. ``EventDispatcher`` emits a Prefect event instead, for deployments that carry an event
trigger (``dealbooks serve --dispatch events``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment
from prefect.events import emit_event

WAITING_HORIZON = timedelta(minutes=2)
"""A sync scheduled to start within this horizon (or queued for a concurrency slot) takes new changes."""

INVOICE_DEPLOYMENT = "invoice-on-deal-won/invoice-on-deal-won"
SYNC_DEPLOYMENT = "status-sync/status-sync"
DEAL_WON_EVENT = "dealbooks.deal.won"
QBO_CHANGED_EVENT = "dealbooks.quickbooks.changed"


class Dispatcher(Protocol):
    def deal_won(self, crm: str, deal_id: str, idempotency_key: str) -> str:
        """Start invoicing one won deal; returns a reference (flow run id or event id)."""

    def quickbooks_changed(self, realm_id: str, entities: list[str], idempotency_key: str) -> str:
        """Start a status sync for a realm whose invoices or payments changed."""


class DeploymentDispatcher:
    """Creates flow runs of the served/deployed flows (idempotent per key)."""

    def __init__(self, invoice_deployment: str = INVOICE_DEPLOYMENT, sync_deployment: str = SYNC_DEPLOYMENT,
                 blocks: dict[str, str] | None = None) -> None:
        self.invoice_deployment = invoice_deployment
        self.sync_deployment = sync_deployment
        self.blocks = blocks or {}

    def _run(self, name: str, parameters: dict[str, Any], key: str) -> str:
        if self.blocks:
            parameters = {**parameters, "blocks": self.blocks}
        run = run_deployment(name, parameters=parameters, timeout=0, idempotency_key=key, as_subflow=False)
        return str(run.id)

    def deal_won(self, crm: str, deal_id: str, idempotency_key: str) -> str:
        return self._run(self.invoice_deployment, {"crm": crm, "deal_ids": [deal_id]}, idempotency_key)

    def quickbooks_changed(self, realm_id: str, entities: list[str], idempotency_key: str) -> str:
        return self.waiting_sync() or self._run(self.sync_deployment, {"trigger": "webhook"}, idempotency_key)

    def waiting_sync(self) -> str | None:
        """The id of a status-sync run that has not started yet and is due soon, if there is one."""
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(self.sync_deployment)
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED,
                                                                                StateType.PENDING])),
                    next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(
                        before_=datetime.now(timezone.utc) + WAITING_HORIZON)),
                limit=1)
        return str(runs[0].id) if runs else None


class EventDispatcher:
    """Emits Prefect events; deployment triggers turn them into runs."""

    def deal_won(self, crm: str, deal_id: str, idempotency_key: str) -> str:
        event = emit_event(DEAL_WON_EVENT, resource={"prefect.resource.id": f"dealbooks.deal.{crm}.{deal_id}",
                                                     "dealbooks.crm": crm, "dealbooks.deal-id": deal_id},
                           payload={"crm": crm, "deal_id": deal_id, "key": idempotency_key})
        return str(event.id) if event else ""

    def quickbooks_changed(self, realm_id: str, entities: list[str], idempotency_key: str) -> str:
        event = emit_event(QBO_CHANGED_EVENT, resource={"prefect.resource.id": f"dealbooks.quickbooks.{realm_id}"},
                           payload={"realm_id": realm_id, "entities": entities[:100], "key": idempotency_key})
        return str(event.id) if event else ""
