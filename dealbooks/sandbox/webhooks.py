"""Outbound webhook delivery shared by the emulators: a queue, a sender thread, retries.

An emulator builds the exact bytes and headers of a delivery (signature included) and calls
``dispatcher.enqueue(...)``. Failed deliveries (connection error or non-2xx) are retried after
``state.options.webhook_retry_delays`` (the real services wait longer; the sandbox scales time
down and says so). Every attempt is recorded in ``state.data["webhooks"]["log"]`` for tests.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from dealbooks.sandbox.state import SandboxState

log = logging.getLogger("dealbooks.sandbox.webhooks")

HeaderFactory = Callable[[bytes], dict[str, str]]
BodyFactory = Callable[[int], bytes]
LOG_LIMIT = 5000


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    service: str = field(compare=False)
    url: str = field(compare=False)
    body: bytes | BodyFactory = field(compare=False)
    headers: dict[str, str] | HeaderFactory = field(compare=False)
    attempt: int = field(default=1, compare=False)
    auth: tuple[str, str] | None = field(default=None, compare=False)


class WebhookDispatcher:
    """Delivers webhooks in the background, in order of due time, retrying failures."""

    def __init__(self, state: SandboxState, timeout: float = 5.0) -> None:
        self.state = state
        self.timeout = timeout
        self._heap: list[_Delivery] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._inflight = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def enqueue(
        self,
        service: str,
        url: str,
        body: bytes | BodyFactory,
        headers: dict[str, str] | HeaderFactory,
        *,
        auth: tuple[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue one delivery; ``headers`` may be a callable computing them at send time (timestamps).

        ``body`` may be a callable taking the attempt number (1, 2, ...) and returning the bytes,
        for services whose payload carries the attempt (Pipedrive's ``meta.attempt``).
        """
        item = _Delivery(time.monotonic() + delay, next(self._seq), service, url, body, headers, 1, auth)
        with self._cv:
            heapq.heappush(self._heap, item)
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + self._inflight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (tests use this)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                with self._cv:
                    while not self._stop and (not self._heap or self._heap[0].due > time.monotonic()):
                        wait = self._heap[0].due - time.monotonic() if self._heap else None
                        self._cv.wait(wait)
                    if self._stop:
                        return
                    item = heapq.heappop(self._heap)
                    self._inflight += 1
                try:
                    self._send(client, item)
                finally:
                    with self._cv:
                        self._inflight -= 1

    def _send(self, client: httpx.Client, item: _Delivery) -> None:
        body = item.body(item.attempt) if callable(item.body) else item.body
        headers = item.headers(body) if callable(item.headers) else dict(item.headers)
        headers.setdefault("Content-Type", "application/json")
        status: int | None = None
        error = ""
        try:
            response = client.post(item.url, content=body, headers=headers, auth=item.auth)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        self._record(item, status, error, ok)
        delays = self.state.options.webhook_retry_delays
        if not ok and item.attempt <= len(delays):
            retry = _Delivery(time.monotonic() + delays[item.attempt - 1], next(self._seq), item.service,
                              item.url, item.body, item.headers, item.attempt + 1, item.auth)
            with self._cv:
                heapq.heappush(self._heap, retry)

    def _record(self, item: _Delivery, status: int | None, error: str, ok: bool) -> None:
        with self.state.lock:
            entries = self.state.data.setdefault("webhooks", {}).setdefault("log", [])
            entries.append({"service": item.service, "url": item.url, "attempt": item.attempt,
                            "status": status, "error": error, "ok": ok,
                            "at": self.state.now().isoformat()})
            del entries[:-LOG_LIMIT]
        if not ok:
            log.info("webhook %s -> %s attempt %d failed (%s)", item.service, item.url, item.attempt,
                     status or error)
