"""Helpers for the Pipedrive emulator tests: HTTP helpers and a local webhook receiver."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from dealbooks.sandbox.server import Sandbox

RETRY_DELAYS = (0.2, 0.5, 1.0)


def api_client(sb: Sandbox) -> httpx.Client:
    config = sb.config["pipedrive"]
    return httpx.Client(base_url=config["base_url"], headers={"x-api-token": config["api_token"]}, timeout=10)


def control(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{sb.url}/_sandbox{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class Receiver:
    """A local HTTP endpoint recording every POST; answers ``fail_first`` requests with 500."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout=timeout)
            return list(self.deliveries)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with state.lock:
                failing = state.fail_first > 0
                if failing:
                    state.fail_first -= 1
            self.send_response(500 if failing else 200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            with state.arrived:
                state.deliveries.append(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                state.arrived.notify_all()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/pipedrive"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
