"""The webhook receiver with the real DeploymentDispatcher: deployments registered in the Prefect
test API, so each accepted event must create exactly one flow run and nothing else may."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client
from starlette.testclient import TestClient

from dealbooks.clients.hubspot_webhooks import compute_signature
from dealbooks.clients.qbo_webhooks import sign
from dealbooks.deployments.dispatch import DeploymentDispatcher
from dealbooks.deployments.webhooks import MAX_BODY, WebhookReceiver


@pytest.fixture
def receiver(configured: Any) -> tuple[TestClient, Any, dict[str, str]]:
    from dealbooks.flows.invoice_on_won import invoice_on_deal_won
    from dealbooks.flows.status_sync import status_sync

    suffix = uuid.uuid4().hex[:6]
    names = {"invoice": f"invoice-{suffix}", "sync": f"sync-{suffix}"}
    invoice_on_deal_won.to_deployment(name=names["invoice"]).apply()
    status_sync.to_deployment(name=names["sync"]).apply()
    dispatcher = DeploymentDispatcher(f"invoice-on-deal-won/{names['invoice']}", f"status-sync/{names['sync']}",
                                      blocks=configured.blocks)
    app = WebhookReceiver(dispatcher, configured.context()).app
    return TestClient(app), configured, names


def _runs(deployment: str) -> list[Any]:
    async def read() -> list[Any]:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(deployment)
            from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

            return await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))

    return anyio.run(read)


def _pipedrive_body(event_id: str, deal_id: int, status: str = "won", previous: str = "open") -> bytes:
    return json.dumps({"meta": {"action": "change", "entity": "deal", "entity_id": str(deal_id), "id": event_id,
                                "attempt": 1, "timestamp": "2026-11-21T10:00:00Z", "version": "2.0"},
                       "data": {"id": deal_id, "status": status, "title": "Deal"},
                       "previous": {"status": previous}}).encode()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_pipedrive_won_creates_one_run_per_event(receiver: Any) -> None:
    client, configured, names = receiver
    auth = _basic("dealbooks", "hook-pass-" + configured.blocks["qbo"].split("-", 1)[1])
    body = _pipedrive_body("evt-1", 42)
    first = client.post("/webhooks/pipedrive", content=body, headers=auth)
    assert first.status_code == 200 and first.json()["dispatched"] == 1
    again = client.post("/webhooks/pipedrive", content=body, headers=auth)  # Pipedrive retries the same event
    assert again.status_code == 200 and again.json()["dispatched"] == 0
    ignored = client.post("/webhooks/pipedrive", content=_pipedrive_body("evt-2", 43, "open", "open"), headers=auth)
    assert ignored.json()["dispatched"] == 0
    (run,) = _runs(f"invoice-on-deal-won/{names['invoice']}")
    assert run.parameters["crm"] == "pipedrive" and run.parameters["deal_ids"] == ["42"]
    assert configured.ledger.inbox.get("pipedrive", "evt-1").status == "dispatched"
    assert configured.ledger.inbox.get("pipedrive", "evt-2").status == "ignored"


@pytest.mark.parametrize("headers", [{}, _basic("dealbooks", "wrong"), {"Authorization": "Bearer x"}])
def test_pipedrive_without_the_right_basic_auth_creates_nothing(receiver: Any, headers: dict[str, str]) -> None:
    client, configured, names = receiver
    response = client.post("/webhooks/pipedrive", content=_pipedrive_body("evt-x", 7), headers=headers)
    assert response.status_code == 401
    assert configured.ledger.inbox.list() == []
    assert _runs(f"invoice-on-deal-won/{names['invoice']}") == []


def _hubspot(client: TestClient, configured: Any, events: list[dict[str, Any]], *, age_ms: int = 0,
             secret: str | None = None) -> Any:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000) - age_ms)
    secret = secret or configured.sandbox.config["hubspot"]["client_secret"]
    uri = "http://testserver/webhooks/hubspot"
    signature = compute_signature(secret, body, method="POST", uri=uri, timestamp=timestamp)
    return client.post("/webhooks/hubspot", content=body, headers={
        "X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp,
        "Content-Type": "application/json"})


def _stage_change(event_id: int, deal_id: int, stage: str) -> dict[str, Any]:
    return {"eventId": event_id, "subscriptionId": 1, "portalId": 24681357, "appId": 3141592,
            "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
            "objectId": deal_id, "propertyName": "dealstage", "propertyValue": stage, "changeSource": "CRM_UI"}


def test_hubspot_signed_won_stage_creates_one_run(receiver: Any) -> None:
    client, configured, names = receiver
    response = _hubspot(client, configured, [_stage_change(1, 500, "closedwon"), _stage_change(2, 501, "qualifiedtobuy")])
    assert response.status_code == 200 and response.json()["dispatched"] == 1
    assert _hubspot(client, configured, [_stage_change(1, 500, "closedwon")]).json()["duplicates"] == 1
    (run,) = _runs(f"invoice-on-deal-won/{names['invoice']}")
    assert run.parameters["deal_ids"] == ["500"] and run.parameters["crm"] == "hubspot"


@pytest.mark.parametrize("case", ["stale", "wrong-secret", "unsigned"])
def test_hubspot_unauthenticated_or_replayed_creates_nothing(receiver: Any, case: str) -> None:
    client, configured, names = receiver
    event = [_stage_change(9, 900, "closedwon")]
    if case == "stale":
        response = _hubspot(client, configured, event, age_ms=6 * 60 * 1000)
    elif case == "wrong-secret":
        response = _hubspot(client, configured, event, secret="not-the-app-secret")
    else:
        response = client.post("/webhooks/hubspot", content=json.dumps(event).encode())
    assert response.status_code == 401
    assert configured.ledger.inbox.list() == [] and _runs(f"invoice-on-deal-won/{names['invoice']}") == []


def test_quickbooks_signed_payment_starts_one_sync(receiver: Any) -> None:
    client, configured, names = receiver
    qbo = configured.sandbox.config["qbo"]
    body = json.dumps({"eventNotifications": [{"realmId": qbo["realm_id"], "dataChangeEvent": {"entities": [
        {"name": "Payment", "id": "77", "operation": "Create", "lastUpdated": "2026-11-21T10:00:00.000Z"},
        {"name": "Customer", "id": "3", "operation": "Update", "lastUpdated": "2026-11-21T10:00:00.000Z"}]}}]}).encode()
    good = client.post("/webhooks/quickbooks", content=body, headers={"intuit-signature": sign(qbo["webhook_verifier_token"], body)})
    assert good.status_code == 200 and good.json()["dispatched"] == 1
    bad = client.post("/webhooks/quickbooks", content=body, headers={"intuit-signature": sign("other", body)})
    assert bad.status_code == 401
    (run,) = _runs(f"status-sync/{names['sync']}")
    assert run.parameters["trigger"] == "webhook"


def test_oversized_and_malformed_bodies_are_refused(receiver: Any) -> None:
    client, configured, _ = receiver
    auth = _basic("dealbooks", "hook-pass-" + configured.blocks["qbo"].split("-", 1)[1])
    assert client.post("/webhooks/pipedrive", content=b"x" * (MAX_BODY + 1), headers=auth).status_code == 413
    assert client.post("/webhooks/pipedrive", content=b"{not json", headers=auth).status_code == 400
    assert configured.ledger.inbox.list() == []


def _qbo_change(configured: Any, payment_id: str) -> tuple[bytes, dict[str, str]]:
    qbo = configured.sandbox.config["qbo"]
    body = json.dumps({"eventNotifications": [{"realmId": qbo["realm_id"], "dataChangeEvent": {"entities": [
        {"name": "Payment", "id": payment_id, "operation": "Create",
         "lastUpdated": "2026-11-21T10:00:00.000Z"}]}}]}).encode()
    return body, {"intuit-signature": sign(qbo["webhook_verifier_token"], body)}


def test_quickbooks_changes_join_a_sync_that_has_not_started(receiver: Any) -> None:
    from prefect.states import Running

    client, configured, names = receiver
    deployment = f"status-sync/{names['sync']}"
    for payment_id in ("81", "82"):
        body, headers = _qbo_change(configured, payment_id)
        assert client.post("/webhooks/quickbooks", content=body, headers=headers).status_code == 200
    (waiting,) = _runs(deployment)  # the second change joins the run that will read both

    async def start(run_id: Any) -> None:
        async with get_client() as prefect:
            await prefect.set_flow_run_state(run_id, Running(), force=True)

    anyio.run(start, waiting.id)
    body, headers = _qbo_change(configured, "83")  # the running sync may have read QuickBooks already
    assert client.post("/webhooks/quickbooks", content=body, headers=headers).status_code == 200
    runs = _runs(deployment)
    assert len(runs) == 2 and {r.state_type.value for r in runs} == {"RUNNING", "SCHEDULED"}
    deliveries = {d.subject: d for d in configured.ledger.inbox.list("quickbooks")}
    assert {s: d.status for s, d in deliveries.items()} == {f"Payment:{i}": "dispatched" for i in ("81", "82", "83")}
    assert deliveries["Payment:81"].detail == deliveries["Payment:82"].detail == str(waiting.id)
    assert deliveries["Payment:83"].detail not in (str(waiting.id), "")
