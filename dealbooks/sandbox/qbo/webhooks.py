"""Outgoing QBO webhooks: legacy ``eventNotifications`` or CloudEvents, signed with ``intuit-signature``.

One endpoint per app (like the Intuit developer portal), registered through
``POST /_sandbox/qbo/webhooks``. Deliveries go through the shared dispatcher, which retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone
from typing import Any

from dealbooks.sandbox.qbo.store import WEBHOOK_ENTITIES, Store
from dealbooks.sandbox.webhooks import WebhookDispatcher

CHUNK = 100
FORMATS = ("legacy", "cloudevents")
CE_OPERATIONS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided",
                 "Emailed": "emailed", "Merge": "merged"}

Event = tuple[str, str, str, str]  # entity, id, operation, LastUpdatedTime (company-local ISO)


def sign(body: bytes, verifier_token: str) -> str:
    """``intuit-signature``: base64 of HMAC-SHA256(verifier token, raw body)."""
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(timezone.utc)


def legacy_body(realm_id: str, events: list[Event]) -> bytes:
    entities = [{"name": e, "id": i, "operation": op,
                 "lastUpdated": _utc(t).strftime("%Y-%m-%dT%H:%M:%S.000Z")} for e, i, op, t in events]
    doc = {"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]}
    return json.dumps(doc, separators=(",", ":")).encode()


def cloudevents_body(realm_id: str, events: list[Event], source: str) -> bytes:
    doc = [{"specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "type": f"qbo.{e.lower()}.{CE_OPERATIONS.get(op, 'updated')}.v1",
            "datacontenttype": "application/json",
            "time": _utc(t).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "intuitentityid": i, "intuitaccountid": realm_id, "data": {}} for e, i, op, t in events]
    return json.dumps(doc, separators=(",", ":")).encode()


class WebhookEmitter:
    """Turns committed changes into signed deliveries on the shared dispatcher."""

    def __init__(self, store: Store, dispatcher: WebhookDispatcher) -> None:
        self.store = store
        self.dispatcher = dispatcher

    @property
    def endpoint(self) -> dict[str, Any] | None:
        return self.store.root.get("webhook")

    def register(self, url: str, verifier_token: str, fmt: str = "legacy",
                 entities: list[str] | None = None) -> dict[str, Any]:
        """Set (replace) the app's webhook endpoint.

        Raises:
            ValueError: on an unknown format or entity.
        """
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        chosen = list(entities or WEBHOOK_ENTITIES)
        unknown = [e for e in chosen if e not in WEBHOOK_ENTITIES]
        if unknown:
            raise ValueError(f"unsupported webhook entities: {unknown}")
        self.store.root["webhook"] = {"url": url, "verifier_token": verifier_token, "format": fmt,
                                      "entities": chosen}
        self.store.state.mark_dirty()
        return self.store.root["webhook"]

    def unregister(self) -> None:
        self.store.root["webhook"] = None
        self.store.state.mark_dirty()

    def emit(self, realm_id: str, events: list[Event]) -> int:
        """Queue deliveries for ``events`` (chunks of 100); returns how many deliveries were queued."""
        endpoint = self.endpoint
        if not endpoint or not events:
            return 0
        wanted = [ev for ev in events if ev[0] in endpoint["entities"]]
        queued = 0
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            if endpoint["format"] == "cloudevents":
                body = cloudevents_body(realm_id, chunk, f"intuit.sandbox.{realm_id}")
            else:
                body = legacy_body(realm_id, chunk)
            headers = {"intuit-signature": sign(body, endpoint["verifier_token"]),
                       "Content-Type": "application/json"}
            if endpoint["format"] == "cloudevents":
                headers["intuit-notification-schema-version"] = "1.0"
            self.dispatcher.enqueue("qbo", endpoint["url"], body, headers)
            queued += 1
        return queued
