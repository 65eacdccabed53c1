"""Value handling shared by the HubSpot emulator: errors in HubSpot's shape, times, numbers."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any


class HubSpotApiError(Exception):
    """An error answered in HubSpot's JSON error shape.

    Args:
        status: HTTP status code.
        category: HubSpot's error category (``OBJECT_NOT_FOUND``, ``VALIDATION_ERROR`` ...).
        message: the human message.
        context: optional ``context`` block (e.g. ``{"id": ["123"]}``).
        headers: extra response headers.
        extra: extra top-level keys (``errorType``, ``policyName`` for rate limits).
    """

    def __init__(self, status: int, category: str, message: str, *,
                 context: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context = context
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "error", "message": self.message,
                                "correlationId": str(uuid.uuid4()), "category": self.category}
        if self.context:
            body["context"] = self.context
        body.update(self.extra)
        return body


def not_found(object_type: str, object_id: str) -> HubSpotApiError:
    return HubSpotApiError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                           context={"id": [str(object_id)]})


def bad_request(message: str, category: str = "VALIDATION_ERROR") -> HubSpotApiError:
    return HubSpotApiError(400, category, message)


def invalid_properties(problems: list[dict[str, Any]], portal_id: int) -> HubSpotApiError:
    """HubSpot's "Property values were not valid" error with its embedded JSON list."""
    details = [{"isValid": False, "message": p["message"], "error": p["error"], "name": p["name"],
                "localizedErrorMessage": p["message"], "portalId": portal_id} for p in problems]
    return HubSpotApiError(400, "VALIDATION_ERROR",
                           "Property values were not valid: " + json.dumps(details, separators=(",", ":")))


def iso_ms(moment: datetime) -> str:
    """``2024-05-01T12:00:00.123Z`` — how HubSpot writes datetime property values and timestamps."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time_ms(value: Any) -> int | None:
    """Milliseconds since the epoch for an epoch-ms number/string, an ISO datetime or a date."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(parsed.timestamp() * 1000)


def ms_to_iso(ms: int) -> str:
    return iso_ms(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))


def parse_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def format_decimal(value: Decimal) -> str:
    """A plain decimal string without exponent or needless trailing zeros (``300``, ``299.5``)."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def normalize_value(prop: dict[str, Any], value: Any) -> tuple[str | None, str | None]:
    """Validate and normalise one written property value.

    Returns:
        ``(stored_value, None)`` or ``(None, error_code)`` with HubSpot's error code.
    """
    if value is None:
        return "", None
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    kind = prop.get("type", "string")
    if text == "":
        return "", None
    if kind == "number":
        number = parse_decimal(text)
        return (None, "INVALID_FLOAT") if number is None else (text.strip(), None)
    if kind in ("datetime", "date"):
        ms = parse_time_ms(text)
        if ms is None:
            return None, "INVALID_DATE"
        if kind == "date":
            return ms_to_iso(ms)[:10], None
        return ms_to_iso(ms), None
    if kind == "bool":
        lowered = text.lower()
        return (lowered, None) if lowered in ("true", "false") else (None, "INVALID_BOOLEAN")
    if kind == "enumeration" and prop.get("options") and prop.get("fieldType") != "checkbox":
        allowed = {o["value"] for o in prop["options"]}
        return (text, None) if text in allowed else (None, "INVALID_OPTION")
    return text, None
