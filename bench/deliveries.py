"""Webhook deliveries as the senders make them (bodies, basic auth, signatures), for the receiver app.

Used by the fault matrix (duplicate and out-of-order deliveries) and the bad-input corpus.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from dealbooks.clients import hubspot_webhooks, qbo_webhooks

RECEIVER_BASE = "http://testserver"  # starlette TestClient's host: HubSpot signs the full URI


@dataclass
class Delivery:
    """One HTTP POST to the receiver."""

    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def pipedrive_event(deal_id: str, status: str = "won", previous: str | None = "open", *, action: str = "change",
                    event_id: str | None = None, attempt: int = 1) -> dict[str, Any]:
    """A Pipedrive webhooks v2 deal event."""
    return {"meta": {"action": action, "entity": "deal", "entity_id": str(deal_id), "id": event_id or str(uuid.uuid4()),
                     "attempt": attempt, "timestamp": "2026-01-05T10:00:00Z", "version": "2.0"},
            "data": {"id": int(deal_id) if str(deal_id).isdigit() else deal_id, "status": status},
            "previous": {"status": previous} if previous is not None else None}


def pipedrive(document: Any, password: str, user: str = "dealbooks", *, raw: bytes | None = None,
              label: str = "") -> Delivery:
    body = raw if raw is not None else json.dumps(document).encode()
    return Delivery("/webhooks/pipedrive", body, {"authorization": basic_auth(user, password),
                                                  "content-type": "application/json"}, label)


def hubspot_event(deal_id: str, value: str = "closedwon", *, event_id: int | None = None,
                  portal_id: int = 1, name: str = "dealstage") -> dict[str, Any]:
    """A HubSpot ``deal.propertyChange`` event."""
    return {"eventId": event_id if event_id is not None else uuid.uuid4().int % 10**12, "subscriptionId": 1,
            "portalId": portal_id, "appId": 1, "occurredAt": int(time.time() * 1000),
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": int(deal_id),
            "propertyName": name, "propertyValue": value, "changeSource": "CRM"}


def hubspot(events: Any, client_secret: str, *, raw: bytes | None = None, timestamp_ms: int | None = None,
            label: str = "") -> Delivery:
    """A signed (v3) HubSpot delivery; ``timestamp_ms`` in the past makes a stale (replayed) one."""
    body = raw if raw is not None else json.dumps(events).encode()
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = hubspot_webhooks.compute_signature(client_secret, body, method="POST",
                                                   uri=f"{RECEIVER_BASE}/webhooks/hubspot", timestamp=stamp)
    return Delivery("/webhooks/hubspot", body, {hubspot_webhooks.SIGNATURE_HEADER: signature,
                                                hubspot_webhooks.TIMESTAMP_HEADER: stamp,
                                                "content-type": "application/json"}, label)


def quickbooks(document: Any, verifier_token: str, *, raw: bytes | None = None, label: str = "") -> Delivery:
    body = raw if raw is not None else json.dumps(document).encode()
    return Delivery("/webhooks/quickbooks", body, {qbo_webhooks.SIGNATURE_HEADER: qbo_webhooks.sign(verifier_token, body),
                                                   "content-type": "application/json"}, label)


def qbo_invoice_change(realm_id: str, invoice_id: str, operation: str = "Update") -> dict[str, Any]:
    return {"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": [
        {"name": "Invoice", "id": str(invoice_id), "operation": operation, "lastUpdated": "2026-01-05T10:00:00.000Z"}]}}]}


class CollectingDispatcher:
    """A dispatcher that records what it was asked to start (no Prefect)."""

    def __init__(self) -> None:
        self.deals: list[tuple[str, str, str]] = []
        self.syncs: list[tuple[str, list[str], str]] = []

    def deal_won(self, crm: str, deal_id: str, idempotency_key: str) -> str:
        self.deals.append((crm, deal_id, idempotency_key))
        return f"run-{len(self.deals)}"

    def quickbooks_changed(self, realm_id: str, entities: list[str], idempotency_key: str) -> str:
        self.syncs.append((realm_id, entities, idempotency_key))
        return f"sync-{len(self.syncs)}"
