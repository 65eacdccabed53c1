"""HubSpot webhooks: v3 signature verification and typed events.

HubSpot POSTs a JSON **array** of events. Each request carries
``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(app client secret, method + URI + body + timestamp))
and ``X-HubSpot-Request-Timestamp`` (milliseconds). Requests older than five minutes are rejected
(replay protection), signatures are compared in constant time. The URI is the full URL HubSpot
called (scheme, host, path, query), with the percent-escapes HubSpot's documentation lists decoded.

Usage::

    events = verify_and_parse(client_secret, "POST", str(request.url), await request.body(),
                              request.headers)
    won = [e for e in events if e.is_won_transition(won_stage_ids)]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from dealbooks.exceptions import WebhookAuthError, WebhookPayloadError

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE = timedelta(minutes=5)
_DECODED_ESCAPES = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def normalize_uri(uri: str) -> str:
    """Decode the percent-escapes HubSpot decodes before signing (``%3A`` → ``:`` ...)."""
    for escape in _DECODED_ESCAPES:
        char = unquote(escape)
        uri = uri.replace(escape, char).replace(escape.lower(), char)
    return uri


def compute_signature(client_secret: str, body: bytes | str, *, version: str = "v3", method: str = "POST",
                      uri: str = "", timestamp: str = "") -> str:
    """HubSpot's request signature of the given version.

    Args:
        client_secret: the app's client secret.
        body: the raw request body.
        version: "v3" (HMAC, base64), or the legacy "v1"/"v2" (SHA-256 hex, no replay protection).
        method: HTTP method (v2, v3).
        uri: full request URI (v2, v3).
        timestamp: ``X-HubSpot-Request-Timestamp`` value (v3).

    Raises:
        ValueError: unknown version.
    """
    text = _text(body)
    if version == "v1":
        return hashlib.sha256(f"{client_secret}{text}".encode()).hexdigest()
    if version == "v2":
        return hashlib.sha256(f"{client_secret}{method}{uri}{text}".encode()).hexdigest()
    if version == "v3":
        message = f"{method.upper()}{normalize_uri(uri)}{text}{timestamp}".encode()
        digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()
    raise ValueError(f"unknown HubSpot signature version {version!r}")


def verify_signature_v3(client_secret: str, method: str, uri: str, body: bytes | str, signature: str | None,
                        timestamp: str | None, *, now: datetime | None = None,
                        max_age: timedelta = MAX_AGE) -> None:
    """Check a v3 signature and its timestamp window.

    Raises:
        WebhookAuthError: missing headers, a timestamp outside ``max_age`` (either direction), or a
            signature that does not match. The message never contains the secret.
    """
    if not client_secret:
        raise WebhookAuthError("HubSpot client secret is not configured: set it in the HubSpot block "
                               "(the app's Auth tab) so webhooks can be verified.")
    if not signature or not timestamp:
        raise WebhookAuthError(f"Missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header: the request "
                               "did not come from HubSpot (or the app uses an old signature version).")
    try:
        sent = datetime.fromtimestamp(int(timestamp) / 1000, tz=timezone.utc)
    except (ValueError, OverflowError):
        raise WebhookAuthError(f"Unreadable {TIMESTAMP_HEADER} value.") from None
    current = now or datetime.now(timezone.utc)
    if abs(current - sent) > max_age:
        raise WebhookAuthError(f"Stale HubSpot webhook: timestamp {sent.isoformat()} is more than "
                               f"{int(max_age.total_seconds())} s from now ({current.isoformat()}); "
                               "rejected as a possible replay. Check the server clock if this repeats.")
    expected = compute_signature(client_secret, body, version="v3", method=method, uri=uri, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookAuthError("HubSpot webhook signature does not match: check the app's client secret "
                               "and that the URL HubSpot calls is the URL seen by the receiver.")


@dataclass(frozen=True)
class HubSpotEvent:
    """One webhook event (an element of the delivered array)."""

    event_id: int
    subscription_id: int
    portal_id: int
    app_id: int
    occurred_at: datetime
    subscription_type: str
    attempt_number: int
    object_id: str
    property_name: str = ""
    property_value: str = ""
    change_source: str = ""
    change_flag: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def object_type(self) -> str:
        """``deal``, ``company``, ``contact`` ... (the part before the dot of the subscription type)."""
        return self.subscription_type.split(".", 1)[0]

    @property
    def action(self) -> str:
        """``creation``, ``propertyChange``, ``deletion``, ``associationChange`` ..."""
        return self.subscription_type.split(".", 1)[-1]

    @property
    def dedupe_key(self) -> str:
        """Stable across redeliveries (HubSpot reuses ``eventId`` when it retries)."""
        return f"hubspot:{self.portal_id}:{self.event_id}"

    def is_won_transition(self, won_stage_ids: Collection[str]) -> bool:
        """True when this is a deal's ``dealstage`` changing to one of the closed-won stage ids."""
        return (self.subscription_type == "deal.propertyChange" and self.property_name == "dealstage"
                and self.property_value in set(won_stage_ids))


def _int(item: Mapping[str, Any], key: str, required: bool = True) -> int:
    value = item.get(key)
    if value is None:
        if required:
            raise WebhookPayloadError(f"HubSpot webhook event lacks {key!r}.")
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise WebhookPayloadError(f"HubSpot webhook event field {key!r} is not a number.") from None


def parse_events(body: bytes | str) -> list[HubSpotEvent]:
    """Parse a delivery body (a JSON array of events) into typed events.

    Raises:
        WebhookPayloadError: not JSON, not an array, or an element without the required fields.
    """
    try:
        document = json.loads(_text(body))
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("HubSpot webhook body is not valid JSON.") from None
    if not isinstance(document, list):
        raise WebhookPayloadError("HubSpot webhook body must be a JSON array of events.")
    events = []
    for item in document:
        if not isinstance(item, dict) or not item.get("subscriptionType"):
            raise WebhookPayloadError("HubSpot webhook event is not an object with a subscriptionType.")
        occurred = _int(item, "occurredAt")
        events.append(HubSpotEvent(
            event_id=_int(item, "eventId"),
            subscription_id=_int(item, "subscriptionId", required=False),
            portal_id=_int(item, "portalId"),
            app_id=_int(item, "appId", required=False),
            occurred_at=datetime.fromtimestamp(occurred / 1000, tz=timezone.utc),
            subscription_type=str(item["subscriptionType"]),
            attempt_number=_int(item, "attemptNumber", required=False),
            object_id=str(_int(item, "objectId")),
            property_name=str(item.get("propertyName") or ""),
            property_value="" if item.get("propertyValue") is None else str(item["propertyValue"]),
            change_source=str(item.get("changeSource") or ""),
            change_flag=str(item.get("changeFlag") or ""),
            raw=dict(item),
        ))
    return events


def verify_and_parse(client_secret: str, method: str, uri: str, body: bytes | str,
                     headers: Mapping[str, str], *, now: datetime | None = None) -> list[HubSpotEvent]:
    """Verify the v3 signature from ``headers`` (case-insensitive) and parse the events.

    Raises:
        WebhookAuthError: the sender is not authenticated.
        WebhookPayloadError: authenticated, but not an event array we understand.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    verify_signature_v3(client_secret, method, uri, body, lowered.get(SIGNATURE_HEADER.lower()),
                        lowered.get(TIMESTAMP_HEADER.lower()), now=now)
    return parse_events(body)
