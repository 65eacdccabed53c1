"""Per-request plumbing of the HubSpot emulator: bearer auth, rate limits, request statistics.

Rate limits follow HubSpot's private-app policy: a rolling 10-second window (190 requests by
default, ``settings.rate_limit_per_10s``), a daily budget, and 5 requests/second on search
endpoints. Windows are measured on the monotonic wall clock (not the sandbox clock, which may be
frozen). They apply only while ``state.faults["hubspot"].throttle_enabled`` is on.
"""

from __future__ import annotations

import math
import re
import threading
import time
import weakref
from collections import Counter, deque
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dealbooks.sandbox.hubspot.store import ensure_layout
from dealbooks.sandbox.hubspot.values import HubSpotApiError
from dealbooks.sandbox.state import SandboxState

WINDOW_SECONDS = 10.0
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


class Runtime:
    """In-memory (not persisted) per-sandbox counters: rate-limit windows and request statistics."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.daily: dict[str, int] = {}
        self.stats: Counter[str] = Counter()
        self.status_counts: Counter[str] = Counter()

    def stats_document(self) -> dict[str, Any]:
        with self.lock:
            return {"total": sum(self.stats.values()), "by_endpoint": dict(sorted(self.stats.items())),
                    "by_status": dict(sorted(self.status_counts.items()))}

    def reset_stats(self) -> None:
        with self.lock:
            self.stats.clear()
            self.status_counts.clear()


_RUNTIMES: weakref.WeakKeyDictionary[SandboxState, Runtime] = weakref.WeakKeyDictionary()
_RUNTIMES_LOCK = threading.Lock()


def runtime(state: SandboxState) -> Runtime:
    with _RUNTIMES_LOCK:
        if state not in _RUNTIMES:
            _RUNTIMES[state] = Runtime()
        return _RUNTIMES[state]


def access_token(state: SandboxState) -> str:
    """The private app's access token (created once, kept with the state)."""
    return "pat-na1-" + state.secret("hubspot.access_token")


def check_auth(state: SandboxState, authorization: str | None) -> None:
    """Raise HubSpot's 401 unless the request carries the private app's bearer token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HubSpotApiError(401, "INVALID_AUTHENTICATION",
                              "Authentication credentials not found. This API supports OAuth 2.0 "
                              "authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
    token = authorization[7:].strip()
    if token != access_token(state):
        raise HubSpotApiError(401, "INVALID_AUTHENTICATION",
                              "The access token provided is invalid or was revoked. Check the private "
                              "app's access token.")
    if state.faults["hubspot"].expire_tokens:
        raise HubSpotApiError(401, "EXPIRED_AUTHENTICATION",
                              "The OAuth token used to make this call expired 0 second(s) ago.")


def rate_limit(state: SandboxState, is_search: bool) -> dict[str, str]:
    """Count one request; raise HubSpot's 429 when over a limit; return the rate-limit headers."""
    with state.lock:
        settings = dict(ensure_layout(state)["settings"])
        today = state.now().date().isoformat()
    limit = int(settings["rate_limit_per_10s"])
    daily_limit = int(settings["daily_limit"])
    enforce = state.faults["hubspot"].throttle_enabled
    rt = runtime(state)
    now = time.monotonic()
    with rt.lock:
        while rt.window and rt.window[0] <= now - WINDOW_SECONDS:
            rt.window.popleft()
        while rt.search_window and rt.search_window[0] <= now - 1.0:
            rt.search_window.popleft()
        used_today = rt.daily.get(today, 0)
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(rt.window) - 1)),
            "X-HubSpot-RateLimit-Daily": str(daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily_limit - used_today - 1)),
        }
        if enforce:
            if len(rt.window) >= limit:
                wait = rt.window[0] + WINDOW_SECONDS - now
                raise throttled("TEN_SECONDLY_ROLLING", "ten_secondly_rolling", wait,
                                {**headers, "X-HubSpot-RateLimit-Remaining": "0"})
            if used_today >= daily_limit:
                raise throttled("DAILY", "daily", 3600.0, {**headers, "X-HubSpot-RateLimit-Daily-Remaining": "0"})
            if is_search and len(rt.search_window) >= int(settings["search_per_second"]):
                wait = rt.search_window[0] + 1.0 - now
                raise throttled("SECONDLY", "secondly", wait, headers)
        rt.window.append(now)
        rt.daily = {today: used_today + 1}
        if is_search:
            rt.search_window.append(now)
    return headers


def throttled(policy: str, name: str, wait: float, headers: dict[str, str]) -> HubSpotApiError:
    return HubSpotApiError(429, "RATE_LIMITS", f"You have reached your {name} limit.",
                           headers={**headers, "Retry-After": str(max(1, math.ceil(wait)))},
                           extra={"errorType": "RATE_LIMIT", "policyName": policy})


def throttle_response() -> Response:
    """The 429 answered for injected 429 storms (``throttle_next``)."""
    error = throttled("TEN_SECONDLY_ROLLING", "ten_secondly_rolling", 1.0,
                      {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                       "X-HubSpot-RateLimit-Remaining": "0"})
    return JSONResponse(error.body(), status_code=429, headers=error.headers)


class StatsMiddleware:
    """Counts every request by ``METHOD /path`` with numeric ids replaced by ``{id}``."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rt = runtime(self.state)
        path = _ID_SEGMENT.sub("/{id}", scope.get("path", "")[len(scope.get("root_path", "")):]
                               if scope.get("root_path") and scope.get("path", "").startswith(scope["root_path"])
                               else scope.get("path", ""))
        key = f"{scope['method']} {path}"

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                with rt.lock:
                    rt.status_counts[str(message["status"])] += 1
            await send(message)

        with rt.lock:
            rt.stats[key] += 1
        await self.app(scope, receive, counting_send)
