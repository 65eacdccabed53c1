"""SMTP sink: an aiosmtpd server on ``ctx.host:ctx.smtp_port`` that captures every message.

Any client (smtplib, prefect-email) can send to it with or without ``AUTH`` (PLAIN/LOGIN over the
plain loopback connection; the seeded username and password are accepted, anything else gets
``535``). Each accepted message is parsed and kept in ``state.data["smtp"]["messages"]``: envelope
and header addresses, decoded subject, text and HTML parts, attachments (name, size, content
type), raw size and the raw message itself (up to ``RAW_LIMIT`` bytes) for header checks.

Fault injection through ``state.faults["smtp"]``: ``error_rate`` answers ``451`` (temporary
failure) at end of DATA, ``throttle_next`` answers ``451 4.7.1`` for the next N messages,
``latency_ms`` delays each reply to DATA. Nothing is stored for a refused message.

HTTP (``/mail``): ``GET /mail/messages`` (``?to=`` filters; ``?raw=1`` includes the raw text),
``GET /mail/messages/{id}``, ``DELETE /mail/messages``; the same under ``/_sandbox/smtp/messages``.
The HTTP side is inspection only, so it is deliberately *not* wrapped in ``FaultMiddleware``:
injected SMTP faults must not hide what was (not) captured.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import weakref
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from dealbooks.sandbox.state import SandboxState

NAME = "smtp"
MOUNT = "/mail"
RAW_LIMIT = 2_000_000
MESSAGE_LIMIT = 5000

log = logging.getLogger("dealbooks.sandbox.smtp")

_controllers: weakref.WeakKeyDictionary[SandboxState, Controller] = weakref.WeakKeyDictionary()


def credentials(state: SandboxState) -> tuple[str, str]:
    """The seeded SMTP username and password."""
    return "dealbooks-sandbox", state.secret("smtp_password")


def _data(state: SandboxState) -> dict[str, Any]:
    return state.data.setdefault(NAME, {})


def parse_message(raw: bytes) -> dict[str, Any]:
    """Summarise a raw RFC 5322 message: headers, text/html bodies and attachments."""
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    text: str | None = None
    html: str | None = None
    attachments: list[dict[str, Any]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            payload = part.get_payload(decode=True) or b""
            attachments.append({"filename": filename, "content_type": ctype, "size": len(payload)})
        elif ctype == "text/plain" and text is None:
            text = str(part.get_content()).replace("\r\n", "\n")
        elif ctype == "text/html" and html is None:
            html = str(part.get_content()).replace("\r\n", "\n")
    return {
        "from": str(msg.get("From", "")),
        "to": [addr for _, addr in getaddresses([str(v) for v in msg.get_all("To", [])])],
        "cc": [addr for _, addr in getaddresses([str(v) for v in msg.get_all("Cc", [])])],
        "reply_to": str(msg.get("Reply-To", "")) or None,
        "subject": str(msg.get("Subject", "")),
        "message_id": str(msg.get("Message-ID", "")).strip() or None,
        "date": str(msg.get("Date", "")) or None,
        "content_type": msg.get_content_type(),
        "text": text,
        "html": html,
        "attachments": attachments,
    }


class _Handler:
    """aiosmtpd handler: fault injection, then capture into the sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.random = random.Random()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        faults = self.state.faults[NAME]
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        with self.state.lock:
            stats = _data(self.state).setdefault("stats", {})
            throttled = faults.throttle_next > 0
            if throttled:
                faults.throttle_next -= 1
            failed = not throttled and bool(faults.error_rate) and self.random.random() < faults.error_rate
            if throttled or failed:
                stats["refused"] = stats.get("refused", 0) + 1
                self.state.mark_dirty()
        if throttled:
            return "451 4.7.1 Too many messages, try again later (injected)"
        if failed:
            return "451 4.3.0 Temporary failure, try again later (injected)"
        raw = bytes(envelope.original_content or envelope.content or b"")
        try:
            record = parse_message(raw)
        except Exception as exc:  # noqa: BLE001 - an unparsable message is still a delivery
            log.warning("smtp sink: could not parse message: %s", exc)
            record = {"parse_error": str(exc)}
        login = session.auth_data if session.authenticated else None
        with self.state.lock:
            data = _data(self.state)
            data["next_id"] = data.get("next_id", 0) + 1
            record.update({
                "id": data["next_id"],
                "envelope_from": envelope.mail_from,
                "envelope_to": list(envelope.rcpt_tos),
                "authenticated_as": login.decode() if isinstance(login, bytes) else login,
                "smtputf8": "SMTPUTF8" in (envelope.mail_options or []),
                "raw_size": len(raw),
                "raw": raw.decode("utf-8", errors="replace") if len(raw) <= RAW_LIMIT else None,
                "received_at": self.state.now().isoformat(),
            })
            messages = data.setdefault("messages", [])
            messages.append(record)
            del messages[:-MESSAGE_LIMIT]
            stats = data.setdefault("stats", {})
            stats["accepted"] = stats.get("accepted", 0) + 1
            self.state.mark_dirty()
        return f"250 2.0.0 Ok: queued as {record['id']}"


def _authenticator(state: SandboxState) -> Any:
    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username, password = credentials(state)
        ok = hmac.compare_digest(auth_data.login, username.encode()) and hmac.compare_digest(
            auth_data.password, password.encode())
        with state.lock:
            stats = _data(state).setdefault("stats", {})
            key = "auth_ok" if ok else "auth_failed"
            stats[key] = stats.get(key, 0) + 1
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    return authenticate


def start(ctx: Any) -> None:
    """Start the SMTP listener on ``ctx.host:ctx.smtp_port`` (a thread with its own event loop)."""
    state: SandboxState = ctx.state
    if state in _controllers:
        return
    controller = Controller(
        _Handler(state), hostname=ctx.host, port=ctx.smtp_port, server_hostname="sandbox.dealbooks.local",
        authenticator=_authenticator(state), auth_required=False, auth_require_tls=False,
        enable_SMTPUTF8=True, ident="dealbooks sandbox SMTP sink",
    )
    controller.start()
    _controllers[state] = controller
    state.smtp_host, state.smtp_port = ctx.host, ctx.smtp_port


def stop(ctx: Any) -> None:
    """Stop the SMTP listener (no-op when it is not running)."""
    controller = _controllers.pop(ctx.state, None)
    if controller is not None:
        controller.stop()


def _messages_endpoint(state: SandboxState) -> Any:
    async def messages(request: Request) -> JSONResponse:
        with state.lock:
            data = _data(state)
            if request.method == "DELETE":
                removed = len(data.get("messages", []))
                data["messages"] = []
                state.mark_dirty()
                return JSONResponse({"deleted": removed})
            items = list(data.get("messages", []))
        to = request.query_params.get("to", "").lower()
        if to:
            items = [m for m in items if to in [a.lower() for a in m.get("envelope_to", []) + m.get("to", [])]]
        if request.query_params.get("raw", "") not in ("1", "true"):
            items = [{k: v for k, v in m.items() if k != "raw"} for m in items]
        return JSONResponse({"messages": items, "count": len(items)})

    return messages


def _routes(state: SandboxState) -> list[Route]:
    async def one(request: Request) -> JSONResponse:
        wanted = request.path_params["message_id"]
        with state.lock:
            found = next((m for m in _data(state).get("messages", []) if str(m.get("id")) == wanted), None)
        if found is None:
            return JSONResponse({"error": f"no message {wanted}"}, status_code=404)
        return JSONResponse(found)

    async def stats(_: Request) -> JSONResponse:
        with state.lock:
            data = _data(state)
            return JSONResponse({**data.get("stats", {}), "messages_stored": len(data.get("messages", [])),
                                 "listening": state in _controllers})

    return [
        Route("/messages", _messages_endpoint(state), methods=["GET", "DELETE"]),
        Route("/messages/{message_id}", one),
        Route("/stats", stats),
    ]


def build(ctx: Any) -> ASGIApp:
    """``/mail``: read and clear captured messages (inspection only, no fault injection)."""
    return Starlette(routes=_routes(ctx.state))


def control_routes(ctx: Any) -> list[Route]:
    """The same inspection routes under ``/_sandbox/smtp``."""
    return _routes(ctx.state)


def seed(ctx: Any) -> None:
    """Create the SMTP credentials and the empty mailbox (idempotent)."""
    credentials(ctx.state)
    with ctx.state.lock:
        data = _data(ctx.state)
        data.setdefault("messages", [])
        data.setdefault("stats", {})


def config(ctx: Any) -> dict[str, Any]:
    """Where to send mail: host, port and the accepted (optional) AUTH credentials."""
    username, password = credentials(ctx.state)
    return {"host": ctx.host, "port": ctx.smtp_port, "username": username, "password": password,
            "security": "plain", "messages_url": f"{ctx.base_url}{MOUNT}/messages"}
