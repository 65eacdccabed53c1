"""Per-realm throttling (500 requests per minute, 10 concurrent, 40 batch requests per minute) and
request statistics, as ASGI middleware around the QBO app.

The limits and the window length are settings (``POST /_sandbox/qbo/throttle``) so tests need not wait
a real minute; ``state.faults["qbo"].throttle_enabled`` switches throttling off. Windows use the
monotonic wall clock, not the sandbox clock, so a frozen sandbox clock cannot wedge a client.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealbooks.sandbox.qbo import errors
from dealbooks.sandbox.qbo.store import Store

API_PATH = re.compile(r"/v3/company/([^/]+)(?:/(.*))?$")
DEFAULT_LIMITS = {"per_minute": 500, "concurrent": 10, "window_seconds": 60.0, "batch_per_minute": 40}


def limits(store: Store) -> dict[str, Any]:
    settings = store.root.setdefault("settings", {})
    current = settings.setdefault("throttle", dict(DEFAULT_LIMITS))
    for key, value in DEFAULT_LIMITS.items():
        current.setdefault(key, value)
    return current


def endpoint_key(method: str, path: str, query_string: bytes) -> str:
    """``POST /v3/company/{realm}/invoice?operation=void`` style key for statistics."""
    match = API_PATH.search(path)
    if match is None:
        idx = path.find("/qbo/")
        return f"{method} {path[idx + 4:] if idx >= 0 else path}"
    parts = (match.group(2) or "").strip("/").split("/")
    shape = [parts[0].lower()] if parts and parts[0] else []
    if len(parts) > 1:
        shape.append("{id}")
        shape.extend(p.lower() for p in parts[2:])
    key = f"{method} /v3/company/{{realm}}/{'/'.join(shape)}"
    params = parse_qs(query_string.decode("latin-1"))
    if "operation" in params:
        key += f"?operation={params['operation'][0]}"
        if "include" in params:
            key += f"&include={params['include'][0]}"
    return key


class Stats:
    """Request counters per endpoint+method and per status (``GET /_sandbox/qbo/stats``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.endpoints: dict[str, Counter[str]] = {}
            self.total = 0
            self.since = time.time()

    def record(self, key: str, status: int) -> None:
        with self.lock:
            self.total += 1
            self.endpoints.setdefault(key, Counter())[str(status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            endpoints = {k: {"count": sum(c.values()), "statuses": dict(c)} for k, c in sorted(self.endpoints.items())}
            return {"total": self.total, "since": self.since, "endpoints": endpoints}


class StatsMiddleware:
    """Counts every request with its final status (including throttled and injected failures)."""

    def __init__(self, app: ASGIApp, stats: Stats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [0]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, capture)
        finally:
            self.stats.record(endpoint_key(scope["method"], scope["path"], scope.get("query_string", b"")),
                              status[0] or 599)


class ThrottleMiddleware:
    """Answers 429 (XML, code 3001) when a realm is over its per-window or concurrency limit."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store
        self.lock = threading.Lock()
        self.windows: dict[str, deque[float]] = {}
        self.batches: dict[str, deque[float]] = {}
        self.inflight: dict[str, int] = {}

    def reset(self) -> None:
        with self.lock:
            self.windows.clear()
            self.batches.clear()

    def _admit(self, realm: str, is_batch: bool) -> float:
        """0 when admitted, else the seconds until a slot frees (for Retry-After)."""
        cfg = limits(self.store)
        now = time.monotonic()
        window = float(cfg["window_seconds"])
        with self.lock:
            hits = self.windows.setdefault(realm, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            batch_hits = self.batches.setdefault(realm, deque())
            while batch_hits and batch_hits[0] <= now - window:
                batch_hits.popleft()
            if len(hits) >= int(cfg["per_minute"]):
                return max(hits[0] + window - now, 0.001)
            if is_batch and len(batch_hits) >= int(cfg["batch_per_minute"]):
                return max(batch_hits[0] + window - now, 0.001)
            if self.inflight.get(realm, 0) >= int(cfg["concurrent"]):
                return 1.0
            hits.append(now)
            if is_batch:
                batch_hits.append(now)
            self.inflight[realm] = self.inflight.get(realm, 0) + 1
            return 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = API_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or not self.store.state.faults["qbo"].throttle_enabled:
            await self.app(scope, receive, send)
            return
        realm = match.group(1)
        wait = self._admit(realm, (match.group(2) or "").strip("/").lower() == "batch")
        if wait:
            response = errors.throttle_response(self.store.state.now(), max(1, int(wait + 0.999)))
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self.lock:
                self.inflight[realm] -= 1
