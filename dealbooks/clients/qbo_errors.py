"""Turn whatever python-quickbooks, intuitlib or requests raised into a typed dealbooks exception.

python-quickbooks 0.9.12 classifies by code range, not meaning: 5000–9999 (5010 stale, 6000
business validation, 6240 duplicate name) arrive as the base ``QuickbooksException``; a body that is
not JSON (QBO's XML throttle and auth replies) arrives as code 10000 with the body in the message;
a JSON error without a ``Fault`` key (``{"fault": {"error": [...]}}`` on 401/403) also becomes 10000.
So we classify by QBO code, re-parsing the body when the library could not, and fall back to the
HTTP status the transport recorded.

Every message is for a revenue-ops person (what happened, what to do) and passes through
``redact`` so that no token or secret ever reaches a log, an artifact or the ledger.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import requests
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException, QuickbooksException

from dealbooks.exceptions import (
    QboAuthError,
    QboDuplicateNameError,
    QboError,
    QboNotFoundError,
    QboRetryableError,
    QboStaleObjectError,
    QboValidationError,
)

MAX_TEXT = 500

#: What a person should do, by QBO code.
HINTS: dict[str, str] = {
    "610": "The QuickBooks record does not exist or was deleted/made inactive; re-link or recreate it.",
    "2020": "A required field is missing; check the deal's data and the invoice settings mapping.",
    "2500": "A value is invalid; check the deal's data and the invoice settings mapping.",
    "3001": "QuickBooks is throttling this company (500 requests/min, 10 at once); it will be retried.",
    "3100": "The QuickBooks connection lacks permission for this company; reconnect QuickBooks.",
    "3200": "QuickBooks rejected the access token; dealbooks refreshes it automatically — reconnect "
            "QuickBooks if this persists.",
    "5010": "Someone changed this record in QuickBooks at the same time; it will be re-read and retried.",
    "6000": "QuickBooks rejected the data (business rule); fix the record as the detail says.",
    "6070": "A line amount is not quantity × unit price; check the deal's products and discounts.",
    "6190": "The QuickBooks subscription has ended or has a billing problem; fix it in QuickBooks.",
    "6240": "That name is already used by another customer, vendor or employee in QuickBooks; rename "
            "one of them or map the deal to the existing customer.",
}

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/=]+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]+"),
    re.compile(r"(?i)((?:refresh_token|access_token|client_secret|id_token|code)[\"']?\s*[=:]\s*[\"']?)"
               r"[^\s&\"',}]+"),
)
_STATUS_IN_TEXT = re.compile(r"status code '(\d{3})'")
_CODE_IN_TEXT = re.compile(r"errorCode=0*(\d+)")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secrets and anything that looks like a token from ``text`` and shorten it.

    Args:
        text: any message or response body.
        secrets: literal values that must never appear (tokens, client secret).

    Returns:
        The text, safe to log.
    """
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True)
class Fault:
    """One QBO error: code, message and detail (any of them may be empty)."""

    code: str
    message: str
    detail: str


def parse_fault_body(body: str) -> Fault | None:
    """Read a QBO fault from a JSON (``Fault`` or lower-case ``fault``) or XML body.

    Args:
        body: the raw response text.

    Returns:
        The first error in the body, or ``None`` when the body holds no QBO fault.
    """
    body = body.strip()
    if body.startswith("<"):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return None
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == "Error":
                fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element}
                return Fault(str(element.get("code", "")), fields.get("Message", ""), fields.get("Detail", ""))
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, list):  # a bare error list, as some SDKs log it
        errors = data
    elif isinstance(data, dict):
        fault = data.get("Fault") or data.get("fault") or {}
        errors = (fault.get("Error") or fault.get("error") or []) if isinstance(fault, dict) else []
    else:
        return None
    if not errors or not isinstance(errors[0], dict):
        return None
    first = {key.lower(): value for key, value in errors[0].items()}
    return Fault(str(first.get("code") or ""), str(first.get("message") or ""), str(first.get("detail") or ""))


def _code_from(fault: Fault) -> str:
    match = _CODE_IN_TEXT.search(fault.message)
    return fault.code.lstrip("0") or (match.group(1) if match else "")


def _build(code: str, status: int | None, message: str, detail: str, secrets: Iterable[str]) -> QboError:
    """Pick the exception class for a QBO code / HTTP status and write the person-facing message."""
    secrets = tuple(secrets)
    message, detail = redact(message, secrets), redact(detail, secrets)
    hint = HINTS.get(code, "")
    label = f"QBO {code}" if code else f"HTTP {status}" if status else "QBO"
    text = f"QuickBooks error ({label}): {message}"
    if detail and detail not in message:
        text += f" — {detail}"
    if hint:
        text += f". {hint}"
    kwargs = {"code": code, "detail": detail, "status": status}
    if code == "3001" or status == 429 or (status is not None and status >= 500) or code == "10000":
        return QboRetryableError(text, **kwargs)
    if code == "5010":
        return QboStaleObjectError(text, **kwargs)
    if code == "610":
        return QboNotFoundError(text, **kwargs)
    if code == "6240":
        return QboDuplicateNameError(text, **kwargs)
    if code in ("100", "3200", "3100") or status in (401, 403):
        return QboAuthError(text, **kwargs)
    if code.isdigit() and 500 <= int(code) < 600:
        return QboValidationError(text, category="qbo_unsupported", **kwargs)
    return QboValidationError(text, **kwargs)


def classify(
    exc: BaseException,
    *,
    status: int | None = None,
    secrets: Iterable[str] = (),
) -> QboError:
    """Map an exception from a QBO call to a typed ``QboError``.

    Args:
        exc: what python-quickbooks, intuitlib or requests raised.
        status: the HTTP status of the response, when the transport recorded one.
        secrets: literal values to scrub from the message.

    Returns:
        A ``QboRetryableError``, ``QboStaleObjectError``, ``QboNotFoundError``,
        ``QboDuplicateNameError``, ``QboValidationError`` or ``QboAuthError``.
    """
    if isinstance(exc, QboError):
        return exc
    if isinstance(exc, AuthClientError):
        return classify_auth_error(exc, secrets=secrets)
    if isinstance(exc, requests.Timeout):
        return QboRetryableError("QuickBooks did not answer in time (timeout); it will be retried.",
                                 code="timeout", status=status)
    if isinstance(exc, requests.ConnectionError):
        return QboRetryableError("Could not reach QuickBooks (connection error); it will be retried.",
                                 code="connection", status=status)
    if isinstance(exc, requests.RequestException):
        return QboRetryableError(f"QuickBooks request failed: {redact(type(exc).__name__)}; it will be retried.",
                                 code="transport", status=status)
    if not isinstance(exc, QuickbooksException):
        return QboError(f"Unexpected error talking to QuickBooks: {type(exc).__name__}: "
                        f"{redact(str(exc), secrets)}", status=status)
    code = str(exc.error_code or "")
    message, detail = str(exc.message or ""), str(exc.detail or "")
    if isinstance(exc, AuthorizationException) and code == "401":
        status = 401
        fault = parse_fault_body(detail)
        code = _code_from(fault) if fault else "3200"
        if fault:
            message, detail = fault.message or message, fault.detail or ""
        else:
            detail = ""
    elif code == "10000":
        match = _STATUS_IN_TEXT.search(message)
        if match and status is None:
            status = int(match.group(1))
        body = message.split(": ", 1)[1] if ": " in message else message
        fault = parse_fault_body(body)
        if fault:
            code, message, detail = _code_from(fault) or code, fault.message, fault.detail
        else:
            message = "QuickBooks sent an unreadable reply" + (f" (HTTP {status})" if status else "")
            detail = redact(body, secrets)[:200]
            if status is not None and status < 500 and status != 429:
                code = ""
    return _build(code, status, message, detail, secrets)


def classify_auth_error(exc: AuthClientError, *, secrets: Iterable[str] = (), block_name: str = "") -> QboError:
    """Map an intuitlib ``AuthClientError`` (token endpoint said no) to a typed error.

    Args:
        exc: the intuitlib error; it carries the token endpoint's response.
        secrets: literal values to scrub from the message.
        block_name: the credentials block to name in the message, if known.

    Returns:
        ``QboAuthError`` for ``invalid_grant``/``invalid_client``, ``QboRetryableError`` for 429/5xx.
    """
    status = int(getattr(exc, "status_code", 0) or 0)
    try:
        body: Mapping[str, object] = json.loads(exc.content or b"{}")
    except ValueError:
        body = {}
    error = str(body.get("error", "")) if isinstance(body, Mapping) else ""
    where = f"the QuickBooks credentials block '{block_name}'" if block_name else "the QuickBooks credentials"
    if status == 429 or status >= 500:
        return QboRetryableError(f"The Intuit token service is unavailable (HTTP {status}); it will be retried.",
                                 code=error or str(status), status=status)
    if error == "invalid_grant":
        return QboAuthError(
            "QuickBooks refused the stored refresh token (invalid_grant): it was revoked, expired or already "
            f"rotated by a process that did not save it. Reconnect QuickBooks and update {where}.",
            code="invalid_grant", status=status)
    if error == "invalid_client" or status == 401:
        return QboAuthError(
            f"Intuit rejected the app's client id or client secret (invalid_client). Check {where}.",
            code=error or "invalid_client", status=status)
    return QboAuthError(
        f"The Intuit token service refused the refresh (HTTP {status}, {redact(error, secrets) or 'no reason'}). "
        f"Reconnect QuickBooks and update {where}.", code=error or str(status), status=status)
