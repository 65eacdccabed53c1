"""Fault injection for one emulated service, as ASGI middleware around its app.

Order per request: latency → forced 429 ("throttle_next") → random 5xx → random hang (timeout) →
the real handler → with ``drop_after_commit_rate`` the handler's effect stays but the response is
cut off mid-body, which is what a client sees when a connection dies after the server committed.
``only_paths`` limits the faults to requests under those path prefixes (QuickBooks: the Accounting
API; Intuit's token service is another host with its own availability).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealbooks.sandbox.state import SandboxState

ThrottleResponse = Callable[[], Response]

log = logging.getLogger("dealbooks.sandbox")


class DroppedResponse(Exception):
    """Raised after the response has started so that the server closes the connection."""


def default_throttle_response() -> Response:
    return JSONResponse({"error": "rate limited"}, status_code=429, headers={"Retry-After": "1"})


def default_error_response() -> Response:
    return JSONResponse({"error": "injected server error"}, status_code=503)


class FaultMiddleware:
    """Applies ``state.faults[service]`` to every request of the wrapped app."""

    def __init__(
        self,
        app: ASGIApp,
        state: SandboxState,
        service: str,
        throttle_response: ThrottleResponse = default_throttle_response,
        error_response: Callable[[], Response] = default_error_response,
        only_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.state = state
        self.service = service
        self.throttle_response = throttle_response
        self.error_response = error_response
        self.only_paths = only_paths
        self.random = random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope):
            await self.app(scope, receive, send)
            return
        faults = self.state.faults[self.service]
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        with self.state.lock:
            forced_throttle = faults.throttle_next > 0
            if forced_throttle:
                faults.throttle_next -= 1
        if forced_throttle:
            await self.throttle_response()(scope, receive, send)
            return
        if faults.error_rate and self.random.random() < faults.error_rate:
            await self.error_response()(scope, receive, send)
            return
        if faults.timeout_rate and self.random.random() < faults.timeout_rate:
            await asyncio.sleep(faults.timeout_seconds)
        drop = bool(faults.drop_after_commit_rate) and self.random.random() < faults.drop_after_commit_rate
        if not drop:
            await self.app(scope, receive, send)
            return
        await self._run_and_drop(scope, receive, send)

    def _applies(self, scope: Scope) -> bool:
        if not self.only_paths:
            return True
        path, root = scope["path"], scope.get("root_path", "")
        return path.removeprefix(root).startswith(self.only_paths)

    async def _run_and_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        started: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(message)

        await self.app(scope, receive, capture)  # the effect is committed here
        status = started[0]["status"] if started else 200
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"', "more_body": True})
        raise DroppedResponse(f"{self.service}: response dropped after commit (injected)")

