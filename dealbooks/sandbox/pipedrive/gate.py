"""What every Pipedrive request passes: API-token auth, the burst and daily limits, request stats.

Pipedrive's documented behaviour, as emulated here:

- auth: ``x-api-token`` header or ``api_token`` query parameter; otherwise 401 with
  ``{"success": false, "error": "unauthorized access", "errorCode": 401, ...}``;
- burst limit per token in a 2-second window (default 80 = the Professional plan's api_token
  limit; settable through ``POST /_sandbox/pipedrive/limits``), answered with 429 and
  ``x-ratelimit-limit`` / ``x-ratelimit-remaining`` / ``x-ratelimit-reset`` (seconds) plus
  ``Retry-After``; every response carries the three headers;
- a daily request budget per UTC day of the sandbox clock, reported in ``x-daily-requests-left``;
- limits are enforced only while ``state.faults["pipedrive"].throttle_enabled`` is true.

Stats count every request per endpoint template (``"GET /api/v2/deals/{id}"``) and per status.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dealbooks.sandbox.state import SandboxState
from dealbooks.sandbox.pipedrive.store import ApiError, Store

Handler = Callable[[Request, Store], Awaitable[Any]]

WINDOW_SECONDS = 2.0
DEFAULT_BURST = 80
DEFAULT_DAILY = 100_000
TOKEN_SECRET = "pipedrive_api_token"

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."


def error_body(message: str, status: int, code: str = "") -> dict[str, Any]:
    """Pipedrive's error shape (see reference/pipedrive/v1_error_404_deal_not_found_gosdk.json)."""
    body: dict[str, Any] = {"success": False, "error": message, "error_info": ERROR_INFO,
                            "data": None, "additional_data": None}
    if status in (401, 429):
        body["errorCode"] = status
    if code:
        body["code"] = code
    return body


class Runtime:
    """Per-sandbox, in-memory counters: the current burst window and the request stats."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.store = Store(state)
        self.lock = threading.Lock()
        self.window_start = time.monotonic()
        self.window_count = 0
        self.stats: dict[str, Any] = _empty_stats()

    # -- limits ---------------------------------------------------------------------------------
    def limits(self) -> dict[str, int]:
        with self.state.lock:
            stored = self.store.root.setdefault("limits", {})
            return {"burst_limit": int(stored.get("burst_limit", DEFAULT_BURST)),
                    "daily_limit": int(stored.get("daily_limit", DEFAULT_DAILY))}

    def set_limits(self, values: dict[str, Any]) -> dict[str, int]:
        allowed = {"burst_limit", "daily_limit", "reset_daily"}
        unknown = set(values) - allowed
        if unknown:
            raise ApiError(400, f"unknown limit(s): {', '.join(sorted(unknown))}; "
                                "allowed: burst_limit, daily_limit, reset_daily")
        with self.state.lock:
            stored = self.store.root.setdefault("limits", {})
            for key, value in values.items():
                if key == "reset_daily":
                    continue
                if not isinstance(value, (int, float, str)) or int(value) < 1:
                    raise ApiError(400, f"{key} must be at least 1")
                stored[key] = int(value)
            if "reset_daily" in values:
                self.store.root.pop("daily", None)
            self.state.mark_dirty()
        return self.limits()

    def take(self) -> tuple[bool, dict[str, str], str]:
        """Count one request against the burst window and the daily budget.

        Returns:
            (allowed, rate-limit headers, reason when refused).
        """
        limits = self.limits()
        enforce = self.state.faults["pipedrive"].throttle_enabled
        now = time.monotonic()
        with self.lock:
            if now - self.window_start >= WINDOW_SECONDS:
                self.window_start = now
                self.window_count = 0
            reset = max(1, math.ceil(WINDOW_SECONDS - (now - self.window_start)))
            over_burst = enforce and self.window_count >= limits["burst_limit"]
            if not over_burst:
                self.window_count += 1
            # With limits off nothing is refused, so report the whole window as left: a client that
            # paces itself on x-ratelimit-remaining must not wait for a limit that does not apply.
            remaining = max(0, limits["burst_limit"] - self.window_count) if enforce else limits["burst_limit"]
        day = self.state.now().date().isoformat()
        with self.state.lock:
            daily = self.store.root.setdefault("daily", {"day": day, "used": 0})
            if daily.get("day") != day:
                daily.update(day=day, used=0)
            over_daily = enforce and not over_burst and daily["used"] >= limits["daily_limit"]
            if not over_burst and not over_daily:
                daily["used"] += 1
            daily_left = max(0, limits["daily_limit"] - daily["used"])
        headers = {"x-ratelimit-limit": str(limits["burst_limit"]), "x-ratelimit-remaining": str(remaining),
                   "x-ratelimit-reset": str(reset), "x-daily-requests-left": str(daily_left)}
        if over_burst:
            headers["Retry-After"] = str(reset)
            return False, headers, "Request over limit"
        if over_daily:
            headers["Retry-After"] = str(_seconds_to_midnight(self.state))
            return False, headers, "Daily request budget exhausted"
        return True, headers, ""

    # -- stats ----------------------------------------------------------------------------------
    def count(self, endpoint: str, status: int) -> None:
        with self.lock:
            self.stats["total"] += 1
            self.stats["endpoints"][endpoint] = self.stats["endpoints"].get(endpoint, 0) + 1
            key = str(status)
            self.stats["statuses"][key] = self.stats["statuses"].get(key, 0) + 1
            if status == 429:
                self.stats["throttled"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def reset_stats(self) -> dict[str, Any]:
        with self.lock:
            self.stats = _empty_stats()
            return json.loads(json.dumps(self.stats))


_RUNTIMES: weakref.WeakKeyDictionary[SandboxState, Runtime] = weakref.WeakKeyDictionary()
_RUNTIMES_LOCK = threading.Lock()


def runtime_for(state: SandboxState) -> Runtime:
    """The one ``Runtime`` of a sandbox state (shared by the API app and the control routes)."""
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(state)
        if runtime is None:
            runtime = _RUNTIMES[state] = Runtime(state)
        return runtime


def throttle_response() -> Response:
    """The 429 that fault injection (``throttle_next``) answers with, in Pipedrive's shape."""
    return JSONResponse(error_body("Request over limit", 429), status_code=429,
                        headers={"Retry-After": "2", "x-ratelimit-limit": str(DEFAULT_BURST),
                                 "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"})


def endpoint(runtime: Runtime, template: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with auth, limits, stats and ``ApiError`` → Pipedrive error responses.

    The handler returns a JSON-able body (status 200), or a ``(status, body)`` pair.
    """

    async def run(request: Request) -> Response:
        name = f"{request.method} {template}"
        status, body, headers = await _dispatch(runtime, request, handler)
        runtime.count(name, status)
        return JSONResponse(body, status_code=status, headers=headers)

    return run


async def _dispatch(runtime: Runtime, request: Request, handler: Handler) -> tuple[int, Any, dict[str, str]]:
    token = request.headers.get("x-api-token") or request.query_params.get("api_token") or ""
    expected = runtime.state.secret(TOKEN_SECRET)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return 401, error_body("unauthorized access", 401), {}
    allowed, headers, reason = runtime.take()
    if not allowed:
        return 429, error_body(reason, 429), headers
    try:
        result = await handler(request, runtime.store)
    except ApiError as exc:
        return exc.status, error_body(exc.message, exc.status, exc.code), headers
    if isinstance(result, tuple):
        status, body = result
        return status, body, headers
    return 200, result, headers


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (form bodies are accepted too, as Pipedrive does for v1)."""
    raw = await request.body()
    if not raw:
        return {}
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        form = await request.form()
        return {k: v for k, v in form.items()}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "Request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _empty_stats() -> dict[str, Any]:
    return {"total": 0, "throttled": 0, "endpoints": {}, "statuses": {}}


def _seconds_to_midnight(state: SandboxState) -> int:
    now = state.now()
    return max(1, 86400 - (now.hour * 3600 + now.minute * 60 + now.second))
