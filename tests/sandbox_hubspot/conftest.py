"""A sandbox serving only the HubSpot emulator (independent of the other emulators' progress)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hubspot
import pytest
import uvicorn

from dealbooks.sandbox import hubspot as hubspot_module
from dealbooks.sandbox.server import SandboxContext, build_config, create_app
from dealbooks.sandbox.state import SandboxOptions, SandboxState
from dealbooks.sandbox.webhooks import WebhookDispatcher


class HubSpotSandbox:
    """The HubSpot emulator on a free port, through the real server core (``create_app``)."""

    def __init__(self, options: SandboxOptions) -> None:
        self.state = SandboxState(options)
        self.dispatcher = WebhookDispatcher(self.state)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.ctx = SandboxContext(self.state, self.dispatcher, "127.0.0.1", sock.getsockname()[1], 0)
        hubspot_module.seed(self.ctx)
        app = create_app(self.ctx, services=[hubspot_module])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                     lifespan="off"))
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        sock.listen(128)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("HubSpot sandbox did not start")
            time.sleep(0.01)
        self.state.start_autosave()

    @property
    def url(self) -> str:
        return self.ctx.base_url

    @property
    def config(self) -> dict[str, Any]:
        return build_config(self.ctx, [hubspot_module])

    def client(self, token: str | None = None) -> hubspot.HubSpot:
        cfg = self.config["hubspot"]
        return hubspot.HubSpot(access_token=token or cfg["access_token"], host=cfg["base_url"])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.dispatcher.stop()
        self.state.close()
        self._sock.close()


def _options(throttle: bool, state_file: Path | None = None) -> SandboxOptions:
    return SandboxOptions(state_file=state_file, throttle=throttle, webhook_retry_delays=(0.2, 0.4, 0.8))


@pytest.fixture
def hs() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(_options(throttle=False))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hs_throttled() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(_options(throttle=True))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def make_hs() -> Iterator[Any]:
    started: list[HubSpotSandbox] = []

    def make(state_file: Path | None = None, throttle: bool = False) -> HubSpotSandbox:
        sandbox = HubSpotSandbox(_options(throttle, state_file))
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        if sandbox._thread.is_alive():
            sandbox.stop()
