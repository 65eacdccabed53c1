"""Payment alerts: a QBO webhook brings the Slack message at once; a failing Slack is recorded and retried."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from dealbooks.clients.qbo_webhooks import SIGNATURE_HEADER, sign


class InProcessDispatcher:
    """Runs the status sync in this process, as the deployment would."""

    def __init__(self, blocks: dict[str, str]) -> None:
        self.blocks = blocks
        self.results: list[dict] = []

    def deal_won(self, crm: str, deal_id: str, idempotency_key: str) -> str:
        raise AssertionError("no deal webhook in this test")

    def quickbooks_changed(self, realm_id: str, entities: list[str], idempotency_key: str) -> str:
        from dealbooks.flows.status_sync import status_sync

        self.results.append(status_sync(trigger="webhook", blocks=self.blocks))
        return f"run-{len(self.results)}"


def test_quickbooks_webhook_for_a_payment_posts_the_slack_message(world) -> None:
    from dealbooks.deployments.webhooks import WebhookReceiver

    invoice = world.won_deal("hubspot", "Hook Co", "900")
    world.sync()
    payment = world.pay(invoice, "900")
    config = world.configured.sandbox.config["qbo"]
    body = json.dumps({"eventNotifications": [{"realmId": config["realm_id"], "dataChangeEvent": {"entities": [
        {"name": "Payment", "id": payment, "operation": "Create", "lastUpdated": "2026-01-01T00:00:00.000Z"}]}}]}).encode()
    dispatcher = InProcessDispatcher(world.blocks)
    receiver = WebhookReceiver(dispatcher, world.configured.context())
    with TestClient(receiver.app) as client:
        answer = client.post("/webhooks/quickbooks", content=body,
                             headers={SIGNATURE_HEADER: sign(config["webhook_verifier_token"], body)})
        assert answer.json() == {"received": 1, "dispatched": 1}
        duplicate = client.post("/webhooks/quickbooks", content=body,
                                headers={SIGNATURE_HEADER: sign(config["webhook_verifier_token"], body)})
        assert duplicate.json()["dispatched"] == 0
    assert dispatcher.results[0]["trigger"] == "webhook" and dispatcher.results[0]["alerts"]["sent"] == 1
    [message] = world.slack_messages()
    assert "paid in full" in message["text"] and message["channel_name"] == "payments"
    assert world.fields("Hook Co")["status"] == "paid"


def test_failing_slack_is_recorded_never_blocks_the_sync_and_is_retried(world) -> None:
    from dealbooks.flows.status_sync import payment_alerts

    first = world.won_deal("pipedrive", "Storm Co", "500")
    second = world.won_deal("hubspot", "Outage Co", "600")
    world.sync()
    world.pay(first, "100")

    world.control("POST", "faults/slack", json={"throttle_next": 50})  # a 429 storm beyond the retries
    stormy = world.sync()
    assert stormy["deals"]["written"] == 1 and world.fields("Storm Co")["status"] == "partially_paid"
    assert stormy["alerts"]["failed"] == 1 and stormy["alerts"]["failures"][0]["category"] == "slack_rate_limited"
    [record] = world.ledger.records.failed("payment_alerts")
    assert record.category == "slack_rate_limited"

    world.control("POST", "faults/slack", json={"throttle_next": 0, "error_rate": 1.0})  # 5xx
    world.pay(second, "600")
    down = world.sync()
    assert down["deals"]["written"] == 1 and world.fields("Outage Co")["status"] == "paid"
    assert down["alerts"]["failed"] == 2 and {f["category"] for f in down["alerts"]["failures"]} == {"slack_unavailable"}
    assert world.slack_messages() == []

    world.control("POST", "faults/slack", json={"error_rate": 0.0})
    retried = payment_alerts(blocks=world.blocks)
    assert retried["sent"] == 2 and retried["failed"] == 0
    assert payment_alerts(blocks=world.blocks)["sent"] == 0  # at most once
    assert len(world.slack_messages()) == 2 and world.ledger.records.failed("payment_alerts") == []


def test_slack_refusing_the_channel_is_recorded_and_retried_once_fixed(world) -> None:
    from dealbooks.blocks import SlackWorkspace
    from dealbooks.flows.status_sync import payment_alerts

    invoice = world.won_deal("pipedrive", "Refused Co", "400")
    world.sync()
    slack = SlackWorkspace.load(world.blocks["slack"])
    good = slack.payments_channel
    slack.payments_channel = "#no-such-channel"
    slack.save(world.blocks["slack"], overwrite=True)
    world.pay(invoice, "400")
    refused = world.sync()
    assert refused["deals"]["written"] == 1
    assert refused["alerts"]["failures"][0]["category"] == "slack_rejected"
    assert "channel_not_found" in refused["alerts"]["failures"][0]["message"]

    slack.payments_channel = good
    slack.save(world.blocks["slack"], overwrite=True)
    assert payment_alerts(blocks=world.blocks)["sent"] == 1
    assert len(world.slack_messages()) == 1
