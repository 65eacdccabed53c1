"""Small helpers shared by the QBO emulator: money rounding, company-local time, field coercion."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from dealbooks.sandbox.qbo.errors import QboFault

CENT = Decimal("0.01")


def money(value: Any) -> float:
    """Round to cents (half up) and return a float, the way QBO prints amounts."""
    return float(Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def number(value: Any, element: str) -> float:
    """Coerce a JSON number or numeric string; ``""``/``None`` become 0 (python-quickbooks defaults).

    Raises:
        QboFault: 2010 when the value is not numeric.
    """
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise QboFault(2010, "Request has invalid or unsupported property",
                       f"Property Name:{element} specified is unsupported or invalid", element)
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError) as exc:
        raise QboFault(2010, "Request has invalid or unsupported property",
                       f"Property Name:{element} specified is unsupported or invalid", element) from exc


def blank(value: Any) -> bool:
    """True for the "unset" values python-quickbooks sends (``None``, ``""``, empty dict/list)."""
    return value is None or value == "" or value == {} or value == []


def tz(name: str) -> ZoneInfo:
    """The company's timezone."""
    return ZoneInfo(name)


def local_now(now: datetime, zone: str) -> datetime:
    """``now`` (UTC-aware) in the company timezone, to the second."""
    return now.astimezone(tz(zone)).replace(microsecond=0)


def stamp(now: datetime, zone: str) -> str:
    """A MetaData timestamp: ``2015-07-24T10:33:39-07:00``."""
    return local_now(now, zone).isoformat()


def today(now: datetime, zone: str) -> date:
    """The company's current date."""
    return now.astimezone(tz(zone)).date()


def parse_date(value: Any, element: str) -> date:
    """Parse ``YYYY-MM-DD``.

    Raises:
        QboFault: 2010 on a malformed date.
    """
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise QboFault(2010, "Request has invalid or unsupported property",
                       f"Property Name:{element} specified is unsupported or invalid", element) from exc


def parse_instant(value: str, zone: str) -> datetime:
    """Parse an ISO date/time; naive values are in the company timezone (how QBO reads them).

    Raises:
        ValueError: when the text is not an ISO date or date-time.
    """
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":" and "T" in text:
        text = text[:-2] + ":" + text[-2:]  # -0700 -> -07:00
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz(zone))
    return parsed.astimezone(timezone.utc)


def epoch_of(text: str) -> float:
    """Epoch seconds of a MetaData timestamp with offset."""
    return datetime.fromisoformat(text).timestamp()


def add_days(day: date, days: int) -> str:
    """``day + days`` as ``YYYY-MM-DD``."""
    return (day + timedelta(days=days)).isoformat()


def ref_value(ref: Any) -> str:
    """The ``value`` of a reference (``{"value": "1", "name": ""}``), as a string, or ``""``."""
    if isinstance(ref, dict):
        value = ref.get("value")
        return "" if value is None else str(value)
    if ref is None:
        return ""
    return str(ref)
