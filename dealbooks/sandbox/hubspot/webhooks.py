"""Webhook subscriptions of the emulated HubSpot app and signed delivery through the dispatcher.

A delivery is a JSON array of up to 100 events, POSTed to the subscription's target URL with
``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(client secret, "POST" + URI + body + timestamp))
and ``X-HubSpot-Request-Timestamp`` (ms, computed at send time by a header factory, so retries
carry fresh timestamps), plus the legacy v1 signature headers HubSpot also sends.

The timestamp is real wall-clock time, as HubSpot's is: the sandbox clock simulates business
dates (due dates, overdue), and a receiver checks signatures against its own clock.
Each attempt's body is rebuilt with ``attemptNumber`` = attempt - 1 (0 on the first delivery).
"""

from __future__ import annotations

import time

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dealbooks.sandbox.hubspot.store import ensure_layout

BATCH_SIZE = 100
_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def signing_uri(url: str) -> str:
    """The URI as HubSpot signs it: the listed percent-escapes decoded, everything else kept."""
    out = url
    for escape in _DECODED:
        out = out.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return out


def v3_signature(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + signing_uri(url).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _header_factory(ctx: Any, url: str) -> Any:
    def headers(body: bytes) -> dict[str, str]:
        secret = ctx.state.secret("hubspot.client_secret")
        timestamp = str(int(time.time() * 1000))
        return {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon",
            "X-HubSpot-Signature-v3": v3_signature(secret, "POST", url, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(),
            "X-HubSpot-Signature-Version": "v1",
        }

    return headers


def _body_factory(items: list[dict[str, Any]]) -> Any:
    def body(attempt: int) -> bytes:
        return json.dumps([{**item, "attemptNumber": attempt - 1} for item in items],
                          separators=(",", ":")).encode()

    return body


def deliver(ctx: Any, events: list[dict[str, Any]]) -> int:
    """Queue the events for every matching active subscription; returns the number of deliveries."""
    if not events:
        return 0
    with ctx.state.lock:
        subscriptions = [dict(s) for s in ensure_layout(ctx.state)["subscriptions"] if s.get("active", True)]
    by_target: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        for sub in subscriptions:
            if sub["subscriptionType"] != event["subscriptionType"]:
                continue
            if sub.get("propertyName") and sub["propertyName"] != event.get("propertyName"):
                continue
            by_target.setdefault(sub["targetUrl"], []).append({**event, "subscriptionId": sub["id"]})
    count = 0
    for url, items in by_target.items():
        for start in range(0, len(items), BATCH_SIZE):
            ctx.dispatcher.enqueue("hubspot", url, _body_factory(items[start:start + BATCH_SIZE]),
                                   _header_factory(ctx, url))
            count += 1
    return count


def control_routes_handlers(ctx: Any) -> dict[str, Any]:
    """Handlers for ``/_sandbox/hubspot/webhooks`` (GET list, POST register, DELETE clear)."""

    async def webhooks(request: Request) -> Response:
        state = ctx.state
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            url = str(body.get("target_url") or body.get("targetUrl") or "")
            if not url.startswith(("http://", "https://")):
                return JSONResponse({"error": "target_url must be an http(s) URL"}, status_code=400)
            wanted = body.get("subscriptions") or [
                {"subscriptionType": "deal.creation"},
                {"subscriptionType": "deal.propertyChange", "propertyName": "dealstage"},
            ]
            created = []
            with state.lock:
                data = ensure_layout(state)
                for spec in wanted:
                    sub_type = str(spec.get("subscriptionType") or spec.get("eventType") or "")
                    if "." not in sub_type:
                        return JSONResponse({"error": f"bad subscriptionType {sub_type!r}"}, status_code=400)
                    sub_id = data["next_subscription_id"]
                    data["next_subscription_id"] = sub_id + 1
                    sub = {"id": sub_id, "targetUrl": url, "subscriptionType": sub_type,
                           "propertyName": spec.get("propertyName"), "active": bool(spec.get("active", True))}
                    data["subscriptions"].append(sub)
                    created.append(sub)
                state.mark_dirty()
            return JSONResponse({"results": created}, status_code=201)
        with state.lock:
            data = ensure_layout(state)
            if request.method == "DELETE":
                data["subscriptions"].clear()
                state.mark_dirty()
            subs = list(data["subscriptions"])
        return JSONResponse({"results": subs})

    return {"webhooks": webhooks}
