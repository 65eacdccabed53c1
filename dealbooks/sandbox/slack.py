"""Slack Web API emulator, served under ``/slack`` so ``slack_sdk.WebClient`` works unmodified.

``WebClient(token, base_url="http://HOST:PORT/slack/api/")`` reaches ``/slack/api/{method}``.
slack_sdk sends every method as a POST: JSON for ``chat.postMessage``, form-urlencoded otherwise
(multipart for uploads), the token as ``Authorization: Bearer``. Like Slack, errors are HTTP 200
with ``{"ok": false, "error": "..."}`` (``not_authed``, ``invalid_auth``, ``channel_not_found``,
``not_in_channel``, ``no_text``, ``invalid_blocks``, ``msg_too_long``, ``unknown_method``), and
``chat.postMessage`` is limited to about one message per second per channel with a short burst
allowance: beyond it HTTP 429, ``{"ok": false, "error": "ratelimited"}`` and ``Retry-After``.

Implemented methods: ``api.test``, ``auth.test``, ``chat.postMessage``, ``conversations.list``,
``conversations.info``, ``conversations.join``. Control routes (under ``/_sandbox/slack``):
``GET|DELETE /messages`` (captured messages, ``?channel=`` filters), ``GET|DELETE /stats``,
``GET|POST /channels`` (list / add a channel), ``GET|POST /limits`` (rate-limit settings).
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
import weakref
from email import message_from_bytes
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from dealbooks.sandbox.faults import FaultMiddleware
from dealbooks.sandbox.state import SandboxState

NAME = "slack"
MOUNT = "/slack"

TEAM = {"id": "T0DEALBKS", "name": "Dealbooks Sandbox", "domain": "dealbooks-sandbox"}
BOT = {"user_id": "U0DEALBOT", "bot_id": "B0DEALBOT", "app_id": "A0DEALAPP", "name": "dealbooks"}
SEED_CHANNELS = (
    ("C0REVENUE01", "revenue", True),
    ("C0PAYMENTS1", "payments", True),
    ("C0AROVERDUE", "ar-overdue", True),
    ("C0GENERAL01", "general", True),
    ("C0FINANCE01", "finance-leads", False),  # the bot is not a member: not_in_channel
)
DEFAULT_LIMITS = {"per_second": 1.0, "burst": 3}
MAX_TEXT = 40000
MAX_BLOCKS = 50
MESSAGE_LIMIT = 10000


def bot_token(state: SandboxState) -> str:
    """The seeded bot token (``xoxb-...``), stable across restarts of a persisted sandbox."""
    return f"xoxb-sandbox-{state.secret('slack_bot_token')}"


class _RateLimiter:
    """Token bucket per channel (wall-clock time; the sandbox clock may be frozen)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str, per_second: float, burst: float) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        now = time.monotonic()
        with self.lock:
            tokens, stamp = self.buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - stamp) * per_second)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / per_second

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()


_limiters: weakref.WeakKeyDictionary[SandboxState, _RateLimiter] = weakref.WeakKeyDictionary()


def _limiter(state: SandboxState) -> _RateLimiter:
    with state.lock:
        return _limiters.setdefault(state, _RateLimiter())


def _data(state: SandboxState) -> dict[str, Any]:
    return state.data.setdefault(NAME, {})


def _ok(**fields: Any) -> JSONResponse:
    return JSONResponse({"ok": True, **fields})


def _error(error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error, **extra}, status_code=status, headers=headers)


def _count(state: SandboxState, key: str, sub: str | None = None) -> None:
    stats = _data(state).setdefault("stats", {})
    if sub is None:
        stats[key] = stats.get(key, 0) + 1
    else:
        bucket = stats.setdefault(key, {})
        bucket[sub] = bucket.get(sub, 0) + 1


async def _arguments(request: Request) -> dict[str, Any]:
    """Merge query string and body (JSON, form-urlencoded or multipart) like Slack does."""
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    ctype = request.headers.get("content-type", "").lower()
    if not body:
        return args
    if ctype.startswith("application/json"):
        loaded = json.loads(body)
        if isinstance(loaded, dict):
            args.update(loaded)
    elif ctype.startswith("multipart/form-data"):
        parsed = message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body, policy=HTTP)
        for part in parsed.iter_parts():
            key = part.get_param("name", header="content-disposition")
            if key:
                payload = part.get_payload(decode=True) or b""
                args[str(key)] = payload.decode("utf-8", errors="replace")
    else:
        args.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return args


def _find_channel(state: SandboxState, ref: str) -> dict[str, Any] | None:
    channels = _data(state).get("channels", {})
    ref = ref.strip()
    if ref in channels:
        return channels[ref]
    name = ref.lstrip("#").lower()
    return next((c for c in channels.values() if c["name"] == name), None)


def _next_ts(state: SandboxState) -> str:
    data = _data(state)
    seconds = int(state.now().timestamp())
    seq = data.get("ts_seq", 0) + 1 if data.get("ts_second") == seconds else 1
    data["ts_second"], data["ts_seq"] = seconds, seq
    return f"{seconds}.{seq:06d}"


def _decode_json_arg(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return json.loads(value)
    return value or None


def _channel_json(channel: dict[str, Any]) -> dict[str, Any]:
    return {"id": channel["id"], "name": channel["name"], "is_channel": True, "is_private": channel["is_private"],
            "is_archived": channel["is_archived"], "is_member": channel["is_member"], "created": channel["created"],
            "is_general": channel["name"] == "general", "name_normalized": channel["name"],
            "num_members": len(channel.get("members", []))}


def build(ctx: Any) -> ASGIApp:
    """The Slack Web API app, wrapped in fault injection with Slack's 429 and 5xx shapes."""
    state: SandboxState = ctx.state

    def authorize(request: Request, args: dict[str, Any]) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else str(args.get("token", ""))
        if not token:
            return _error("not_authed")
        if token != bot_token(state):
            return _error("invalid_auth")
        return None

    def post_message(args: dict[str, Any]) -> JSONResponse:
        channel_ref = str(args.get("channel") or "")
        channel = _find_channel(state, channel_ref) if channel_ref else None
        if channel is None:
            return _error("channel_not_found")
        if channel["is_archived"]:
            return _error("is_archived")
        if not channel["is_member"]:
            return _error("not_in_channel")
        try:
            blocks = _decode_json_arg(args.get("blocks"))
            attachments = _decode_json_arg(args.get("attachments"))
        except ValueError:
            return _error("invalid_blocks")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS
                                   or not all(isinstance(b, dict) and b.get("type") for b in blocks)):
            return _error("invalid_blocks")
        text = str(args.get("text") or "")
        if not text and not blocks and not attachments:
            return _error("no_text")
        if len(text) > MAX_TEXT:
            return _error("msg_too_long")
        limits = _data(state).get("limits", DEFAULT_LIMITS)
        if state.faults[NAME].throttle_enabled:
            wait = _limiter(state).acquire(channel["id"], float(limits["per_second"]), float(limits["burst"]))
            if wait > 0:
                _count(state, "ratelimited", channel["name"])
                state.mark_dirty()
                return _error("ratelimited", 429, {"Retry-After": str(max(1, math.ceil(wait)))})
        ts = _next_ts(state)
        message: dict[str, Any] = {"type": "message", "subtype": "bot_message", "text": text, "ts": ts,
                                   "user": BOT["user_id"], "bot_id": BOT["bot_id"], "app_id": BOT["app_id"],
                                   "team": TEAM["id"]}
        for key, value in (("blocks", blocks), ("attachments", attachments)):
            if value is not None:
                message[key] = value
        for key in ("thread_ts", "username", "icon_emoji", "icon_url"):
            if args.get(key):
                message[key] = str(args[key])
        record = {**message, "channel": channel["id"], "channel_name": channel["name"],
                  "received_at": state.now().isoformat(),
                  "unfurl_links": args.get("unfurl_links"), "mrkdwn": args.get("mrkdwn", True)}
        messages = _data(state).setdefault("messages", [])
        messages.append(record)
        del messages[:-MESSAGE_LIMIT]
        _count(state, "messages_posted")
        _count(state, "messages_by_channel", channel["name"])
        state.mark_dirty()
        return _ok(channel=channel["id"], ts=ts, message=message)

    def conversations_list(args: dict[str, Any]) -> JSONResponse:
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
        exclude_archived = str(args.get("exclude_archived", "false")).lower() in ("true", "1")
        channels = [c for c in _data(state).get("channels", {}).values()
                    if ("private_channel" if c["is_private"] else "public_channel") in types
                    and not (exclude_archived and c["is_archived"])]
        channels.sort(key=lambda c: c["name"])
        try:
            limit = max(1, min(1000, int(args.get("limit") or 100)))
            start = int(args.get("cursor") or 0)
        except ValueError:
            return _error("invalid_cursor")
        page = channels[start:start + limit]
        cursor = str(start + limit) if start + limit < len(channels) else ""
        return _ok(channels=[_channel_json(c) for c in page], response_metadata={"next_cursor": cursor})

    def conversation(args: dict[str, Any], join: bool) -> JSONResponse:
        channel = _find_channel(state, str(args.get("channel") or ""))
        if channel is None:
            return _error("channel_not_found")
        if join:
            if channel["is_private"]:
                return _error("method_not_supported_for_channel_type")
            channel["is_member"] = True
            if BOT["user_id"] not in channel.setdefault("members", []):
                channel["members"].append(BOT["user_id"])
            state.mark_dirty()
        return _ok(channel=_channel_json(channel))

    async def api(request: Request) -> Response:
        method = request.path_params["method"]
        try:
            args = await _arguments(request)
        except ValueError:
            return _error("invalid_json")
        with state.lock:
            _count(state, "requests", method)
            if method == "api.test":
                return _ok(args={k: v for k, v in args.items() if k != "token"})
            denied = authorize(request, args)
            if denied is not None:
                _count(state, "errors", json.loads(denied.body)["error"])
                return denied
            if method == "auth.test":
                response = _ok(url=f"https://{TEAM['domain']}.slack.com/", team=TEAM["name"], user=BOT["name"],
                               team_id=TEAM["id"], user_id=BOT["user_id"], bot_id=BOT["bot_id"],
                               is_enterprise_install=False)
            elif method == "chat.postMessage":
                response = post_message(args)
            elif method == "conversations.list":
                response = conversations_list(args)
            elif method in ("conversations.info", "conversations.join"):
                response = conversation(args, join=method == "conversations.join")
            else:
                response = _error("unknown_method", 404)
            body = json.loads(response.body)
            if not body["ok"] and body["error"] != "ratelimited":
                _count(state, "errors", body["error"])
            return response

    app = Starlette(routes=[Route("/api/{method}", api, methods=["GET", "POST"])])
    return FaultMiddleware(
        app, state, NAME,
        throttle_response=lambda: _error("ratelimited", 429, {"Retry-After": "1"}),
        error_response=lambda: _error("service_unavailable", 503),
    )


def control_routes(ctx: Any) -> list[Route]:
    """Captured messages, stats, channels and rate-limit settings under ``/_sandbox/slack``."""
    state: SandboxState = ctx.state

    async def messages(request: Request) -> JSONResponse:
        with state.lock:
            data = _data(state)
            if request.method == "DELETE":
                removed = len(data.get("messages", []))
                data["messages"] = []
                state.mark_dirty()
                return JSONResponse({"deleted": removed})
            wanted = request.query_params.get("channel")
            found = _find_channel(state, wanted) if wanted else None
            items = [m for m in data.get("messages", [])
                     if not wanted or (found is not None and m["channel"] == found["id"])]
            return JSONResponse({"messages": items, "count": len(items)})

    async def stats(request: Request) -> JSONResponse:
        with state.lock:
            data = _data(state)
            if request.method == "DELETE":
                data["stats"] = {}
                _limiter(state).reset()
                state.mark_dirty()
            return JSONResponse({**data.get("stats", {}), "messages_stored": len(data.get("messages", [])),
                                 "limits": data.get("limits", DEFAULT_LIMITS),
                                 "throttle_enabled": state.faults[NAME].throttle_enabled})

    async def channels(request: Request) -> JSONResponse:
        body = await request.json() if request.method == "POST" else {}
        with state.lock:
            if request.method == "POST":
                name = str(body.get("name", "")).lstrip("#").lower()
                if not name or _find_channel(state, name) is not None:
                    return JSONResponse({"error": "name missing or taken"}, status_code=400)
                _add_channel(state, str(body.get("id") or f"C0{secrets.token_hex(5).upper()}"), name,
                             member=bool(body.get("is_member", True)), private=bool(body.get("is_private", False)),
                             archived=bool(body.get("is_archived", False)))
            items = [_channel_json(c) for c in _data(state).get("channels", {}).values()]
        return JSONResponse({"channels": items})

    async def limits(request: Request) -> JSONResponse:
        body = await request.json() if request.method == "POST" else {}
        with state.lock:
            data = _data(state)
            if request.method == "POST":
                current = dict(data.get("limits", DEFAULT_LIMITS))
                try:
                    current.update({k: float(body[k]) for k in ("per_second", "burst") if k in body})
                except (TypeError, ValueError) as exc:
                    return JSONResponse({"error": f"bad limit: {exc}"}, status_code=400)
                if current["per_second"] <= 0 or current["burst"] < 1:
                    return JSONResponse({"error": "per_second must be > 0 and burst >= 1"}, status_code=400)
                data["limits"] = current
                _limiter(state).reset()
                state.mark_dirty()
            return JSONResponse(data.get("limits", DEFAULT_LIMITS))

    return [
        Route("/messages", messages, methods=["GET", "DELETE"]),
        Route("/stats", stats, methods=["GET", "DELETE"]),
        Route("/channels", channels, methods=["GET", "POST"]),
        Route("/limits", limits, methods=["GET", "POST"]),
    ]


def _add_channel(state: SandboxState, channel_id: str, name: str, *, member: bool = True,
                 private: bool = False, archived: bool = False) -> None:
    _data(state).setdefault("channels", {})[channel_id] = {
        "id": channel_id, "name": name, "is_private": private, "is_archived": archived, "is_member": member,
        "created": int(state.now().timestamp()), "members": [BOT["user_id"]] if member else [],
    }
    state.mark_dirty()


def seed(ctx: Any) -> None:
    """Bot token, team and the demo channels (``#revenue``, ``#payments``, ``#ar-overdue`` ...)."""
    state: SandboxState = ctx.state
    bot_token(state)
    with state.lock:
        data = _data(state)
        data.setdefault("messages", [])
        data.setdefault("stats", {})
        data.setdefault("limits", dict(DEFAULT_LIMITS))
        if not data.get("channels"):
            for channel_id, name, member in SEED_CHANNELS:
                _add_channel(state, channel_id, name, member=member)


def config(ctx: Any) -> dict[str, Any]:
    """``base_url`` for ``WebClient(base_url=...)``, the bot token and the seeded channel names."""
    with ctx.state.lock:
        names = sorted(c["name"] for c in _data(ctx.state).get("channels", {}).values())
    return {"base_url": f"{ctx.base_url}{MOUNT}/api/", "token": bot_token(ctx.state),
            "team_id": TEAM["id"], "bot_user_id": BOT["user_id"], "channels": names}
