"""Pipedrive webhooks v2: HTTP Basic auth verification and parsing into a typed event.

Pipedrive signs nothing; a webhook is authenticated by the HTTP Basic credentials it was
registered with (``http_auth_user`` / ``http_auth_password`` on ``POST /v1/webhooks``). The
comparison is constant-time and checks user and password together.

A v2 body is ``{"meta": {...}, "data": {...} | null, "previous": {...} | null}``; ``meta`` carries
``action`` (create/change/delete), ``entity`` (deal, person, ...), ``entity_id``, ``id`` (unique
per event, kept across retries — the dedupe key), ``attempt`` and ``timestamp``. ``previous``
holds only the fields that changed. v1 bodies (``current``, ``event``, ``meta.object``) are
refused with a message saying to register the webhook with ``version: "2.0"``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dealbooks.exceptions import WebhookAuthError, WebhookPayloadError

ACTIONS = ("create", "change", "delete")


@dataclass(frozen=True)
class PipedriveWebhookEvent:
    """One Pipedrive webhooks v2 event.

    Attributes:
        event_id: ``meta.id``, unique per event (the same on every retry).
        action: ``create``, ``change`` or ``delete``.
        entity: ``deal``, ``person``, ``organization``, ``product``, ``note`` ...
        entity_id: the object's id, as a string.
        status: ``data.status`` (deals), if present.
        previous_status: ``previous.status`` if the status changed with this event.
        timestamp: ``meta.timestamp`` (UTC), if present.
        attempt: ``meta.attempt`` (1 for the first delivery).
        data: the object after the event (empty for deletes).
        previous: the changed fields' old values (the whole object for deletes).
    """

    event_id: str
    action: str
    entity: str
    entity_id: str
    status: str | None = None
    previous_status: str | None = None
    timestamp: datetime | None = None
    attempt: int = 1
    data: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)

    @property
    def is_won_transition(self) -> bool:
        """True when this event moved a deal to won (or created it as won)."""
        if self.entity != "deal" or self.status != "won":
            return False
        if self.action == "create":
            return True
        return self.action == "change" and self.previous_status is not None and self.previous_status != "won"

    @property
    def dedupe_key(self) -> str:
        """``pipedrive:<event id>`` for the ledger's webhook inbox."""
        return f"pipedrive:{self.event_id}"


def verify_basic_auth(authorization: str | None, username: str, password: str) -> None:
    """Check an ``Authorization: Basic ...`` header against the registered credentials.

    Raises:
        WebhookAuthError: header missing, malformed or not matching (the message never echoes
            the received or expected credentials).
    """
    if not password:
        raise WebhookAuthError("No webhook password is configured for Pipedrive: set webhook_password on the "
                               "Pipedrive block and register the webhook with the same http_auth_password.")
    if not authorization:
        raise WebhookAuthError("Pipedrive webhook without HTTP Basic credentials: register the webhook with "
                               "http_auth_user and http_auth_password.")
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookAuthError("Pipedrive webhook Authorization header is not HTTP Basic.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookAuthError("Pipedrive webhook Authorization header is not valid base64.") from None
    user, sep, secret = decoded.partition(b":")
    user_ok = hmac.compare_digest(user, username.encode("utf-8"))
    password_ok = hmac.compare_digest(secret, password.encode("utf-8"))
    if not (sep and user_ok & password_ok):
        raise WebhookAuthError("Pipedrive webhook credentials do not match the block's webhook_username / "
                               "webhook_password.")


def parse_event(body: bytes | str) -> PipedriveWebhookEvent:
    """Parse a webhooks v2 body.

    Raises:
        WebhookPayloadError: not JSON, a v1 body, or ``meta`` lacking action/entity/entity_id/id.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("Pipedrive webhook body is not JSON.") from None
    if not isinstance(document, dict) or not isinstance(document.get("meta"), dict):
        raise WebhookPayloadError("Pipedrive webhook body has no meta object.")
    meta = document["meta"]
    if "current" in document or "event" in document or ("object" in meta and "entity" not in meta):
        raise WebhookPayloadError("This is a Pipedrive webhooks v1 body; register the webhook with "
                                  "version \"2.0\" (POST /v1/webhooks).")
    missing = [k for k in ("action", "entity", "entity_id", "id") if meta.get(k) in (None, "")]
    if missing:
        raise WebhookPayloadError(f"Pipedrive webhook meta lacks {', '.join(missing)}.")
    action = str(meta["action"])
    if action not in ACTIONS:
        raise WebhookPayloadError(f"Unknown Pipedrive webhook action {action!r}.")
    data = document.get("data")
    previous = document.get("previous")
    if data is not None and not isinstance(data, dict) or previous is not None and not isinstance(previous, dict):
        raise WebhookPayloadError("Pipedrive webhook data/previous must be objects or null.")
    data = data or {}
    previous = previous or {}
    status = data.get("status")
    previous_status = previous.get("status") if "status" in previous else None
    try:
        attempt = int(meta.get("attempt") or 1)
    except (TypeError, ValueError):
        raise WebhookPayloadError("Pipedrive webhook meta.attempt is not a number.") from None
    return PipedriveWebhookEvent(
        event_id=str(meta["id"]), action=action, entity=str(meta["entity"]), entity_id=str(meta["entity_id"]),
        status=str(status) if status is not None else None,
        previous_status=str(previous_status) if previous_status is not None else None,
        timestamp=_timestamp(meta.get("timestamp")), attempt=attempt, data=data, previous=previous)


def verify_and_parse(headers: Mapping[str, str], body: bytes | str, username: str,
                     password: str) -> PipedriveWebhookEvent:
    """Authenticate (first) and parse a delivery; ``headers`` is case-insensitive or lower-case."""
    authorization = headers.get("authorization") or headers.get("Authorization")
    verify_basic_auth(authorization, username, password)
    return parse_event(body)


def _timestamp(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, tz=timezone.utc)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise WebhookPayloadError(f"Pipedrive webhook meta.timestamp {value!r} is not a time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
