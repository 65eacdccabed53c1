"""QuickBooks Online webhooks: ``intuit-signature`` verification and both payload forms.

Legacy: ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
"operation", "lastUpdated"}]}}]}``. CloudEvents (mandatory from 2026): a JSON array of
``{"specversion": "1.0", "id", "type": "qbo.invoice.updated.v1", "intuitaccountid",
"intuitentityid", "time", ...}``. Both become ``QboChange`` records.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from dealbooks.exceptions import WebhookAuthError, WebhookPayloadError

SIGNATURE_HEADER = "intuit-signature"


def sign(verifier_token: str, body: bytes) -> str:
    """base64(HMAC-SHA256(verifier token, raw body)) — what QBO puts in ``intuit-signature``."""
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(verifier_token: str, body: bytes, signature: str | None) -> None:
    """Raise ``WebhookAuthError`` unless ``signature`` signs ``body`` (constant-time compare)."""
    if not verifier_token:
        raise WebhookAuthError("No QuickBooks webhook verifier token is configured "
                               "(QuickBooksCredentials.webhook_verifier_token): refusing the delivery.")
    if not signature or not hmac.compare_digest(sign(verifier_token, body).encode(), signature.strip().encode()):
        raise WebhookAuthError("QuickBooks webhook signature does not match: not from Intuit, or the "
                               "verifier token in QuickBooksCredentials is not this app's.")


@dataclass(frozen=True)
class QboChange:
    """One changed entity: ``entity`` is QBO's name (Invoice, Payment, Customer)."""

    event_id: str
    realm_id: str
    entity: str
    entity_id: str
    operation: str  # Create | Update | Delete | Void | Merge | Emailed ...
    occurred_at: str


def parse_changes(body: bytes) -> list[QboChange]:
    """Both payload forms → changes. Raises ``WebhookPayloadError`` for anything else."""
    try:
        document: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"QuickBooks webhook body is not JSON: {exc}") from exc
    if isinstance(document, list):
        return [_cloud_event(item) for item in document]
    if isinstance(document, dict) and isinstance(document.get("eventNotifications"), list):
        return [change for note in document["eventNotifications"] for change in _legacy(note)]
    raise WebhookPayloadError("QuickBooks webhook body is neither eventNotifications nor a CloudEvents array.")


def _cloud_event(item: Any) -> QboChange:
    if not isinstance(item, dict) or not all(item.get(k) for k in ("id", "type", "intuitaccountid", "intuitentityid")):
        raise WebhookPayloadError("CloudEvent without id, type, intuitaccountid or intuitentityid.")
    parts = str(item["type"]).split(".")  # qbo.invoice.updated.v1
    if len(parts) < 3 or parts[0] != "qbo":
        raise WebhookPayloadError(f"Unknown CloudEvent type {str(item['type'])[:80]!r}.")
    return QboChange(str(item["id"]), str(item["intuitaccountid"]), parts[1].capitalize(),
                     str(item["intuitentityid"]), parts[2].capitalize(), str(item.get("time", "")))


def _legacy(note: Any) -> list[QboChange]:
    if not isinstance(note, dict) or not note.get("realmId"):
        raise WebhookPayloadError("eventNotifications entry without realmId.")
    entities = ((note.get("dataChangeEvent") or {}).get("entities")) or []
    changes = []
    for entity in entities:
        if not isinstance(entity, dict) or not entity.get("name") or not entity.get("id"):
            raise WebhookPayloadError("dataChangeEvent entity without name or id.")
        realm = str(note["realmId"])
        key = f"{realm}:{entity['name']}:{entity['id']}:{entity.get('operation', '')}:{entity.get('lastUpdated', '')}"
        changes.append(QboChange(key, realm, str(entity["name"]), str(entity["id"]),
                                 str(entity.get("operation", "")), str(entity.get("lastUpdated", ""))))
    return changes
