"""The sandbox server: every emulator in one ASGI app, run in-process (tests, demo) or standalone.

Each emulator is a module with this contract (see ``ServiceModule``):

- ``NAME``: its key in the config document and in ``state.data``/``state.faults``;
- ``MOUNT``: the path prefix it is served under (``/qbo``, ``/pipedrive`` ... ``/mail``);
- ``build(ctx) -> ASGI app`` (already wrapped in ``FaultMiddleware`` with its own 429 shape);
- ``control_routes(ctx) -> list[Route]`` mounted under ``/_sandbox/{NAME}``;
- ``seed(ctx)``: credentials and demo records on an empty state (idempotent);
- ``config(ctx) -> dict``: its part of the start-up JSON line;
- optional ``start(ctx)`` / ``stop(ctx)`` for extra listeners (the SMTP sink).
"""

from __future__ import annotations

import importlib
import json
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from dealbooks.sandbox.state import SandboxOptions, SandboxState
from dealbooks.sandbox.webhooks import WebhookDispatcher

SERVICE_MODULES = (
    "dealbooks.sandbox.qbo",
    "dealbooks.sandbox.pipedrive",
    "dealbooks.sandbox.hubspot",
    "dealbooks.sandbox.slack",
    "dealbooks.sandbox.smtp",
)


@dataclass
class SandboxContext:
    """What an emulator gets: the shared state, the webhook dispatcher and its public base URL."""

    state: SandboxState
    dispatcher: WebhookDispatcher
    host: str
    port: int
    smtp_port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def load_services(names: list[str] | None = None) -> list[ModuleType]:
    """The emulator modules: all of them, or only those named (e.g. ``["slack", "smtp"]``)."""
    modules = [importlib.import_module(name) for name in SERVICE_MODULES]
    return [m for m in modules if names is None or m.NAME in names]


def _control_app(ctx: SandboxContext, services: list[ModuleType]) -> list[Any]:
    state = ctx.state

    async def config(_: Request) -> JSONResponse:
        return JSONResponse(build_config(ctx, services))

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "now": state.now().isoformat()})

    async def clock(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.json()
            with state.lock:
                if "set" in body:
                    from datetime import datetime

                    state.clock.set(datetime.fromisoformat(body["set"]), freeze=bool(body.get("freeze")))
                seconds = float(body.get("advance_seconds", 0)) + 86400 * float(body.get("advance_days", 0))
                if seconds:
                    state.clock.advance(seconds)
                state.mark_dirty()
        return JSONResponse(state.clock.to_json())

    async def faults(request: Request) -> JSONResponse:
        service = request.path_params["service"]
        if service not in state.faults:
            return JSONResponse({"error": f"unknown service {service!r}"}, status_code=404)
        if request.method == "POST":
            try:
                with state.lock:
                    state.faults[service].update(await request.json())
            except (KeyError, TypeError, ValueError) as exc:
                return JSONResponse({"error": f"bad fault setting: {exc}"}, status_code=400)
        from dataclasses import asdict

        return JSONResponse(asdict(state.faults[service]))

    async def webhook_log(_: Request) -> JSONResponse:
        with state.lock:
            entries = list(state.data.get("webhooks", {}).get("log", []))
        return JSONResponse({"deliveries": entries, "pending": ctx.dispatcher.pending()})

    async def save(_: Request) -> JSONResponse:
        state.save()
        return JSONResponse({"saved": str(state.options.state_file) if state.options.state_file else None})

    routes: list[Any] = [
        Route("/config", config),
        Route("/health", health),
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/faults/{service}", faults, methods=["GET", "POST"]),
        Route("/webhooks/log", webhook_log),
        Route("/save", save, methods=["POST"]),
    ]
    for module in services:
        routes.append(Mount(f"/{module.NAME}", routes=module.control_routes(ctx)))
    return routes


def build_config(ctx: SandboxContext, services: list[ModuleType]) -> dict[str, Any]:
    return {module.NAME: module.config(ctx) for module in services}


def create_app(ctx: SandboxContext, services: list[ModuleType] | None = None) -> Starlette:
    services = services if services is not None else load_services()
    routes: list[Any] = [Mount("/_sandbox", routes=_control_app(ctx, services))]
    for module in services:
        routes.append(Mount(module.MOUNT, app=module.build(ctx)))
    return Starlette(routes=routes)


class Sandbox:
    """Runs the sandbox on a background thread; ``with Sandbox() as sb: sb.config[...]``.

    ``services`` limits it to some emulators (e.g. ``["slack", "smtp"]``); all by default.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        smtp_port: int = 0,
        options: SandboxOptions | None = None,
        services: list[str] | None = None,
    ) -> None:
        self.host = host
        self.options = options or SandboxOptions()
        self.state = SandboxState(self.options)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto set: asyncio then enables TCP_NODELAY per connection
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self.smtp_port = smtp_port or _free_port(host)
        self.dispatcher = WebhookDispatcher(self.state)
        self.ctx = SandboxContext(self.state, self.dispatcher, host, self.port, self.smtp_port)
        self.services = load_services(services)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.ctx.base_url

    @property
    def config(self) -> dict[str, Any]:
        return build_config(self.ctx, self.services)

    def start(self) -> dict[str, Any]:
        for module in self.services:
            module.seed(self.ctx)
        for module in self.services:
            if hasattr(module, "start"):
                module.start(self.ctx)
        app = create_app(self.ctx, self.services)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_keep_alive=30, limit_concurrency=2000, backlog=2048)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._sock.listen(2048)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="sandbox-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("sandbox HTTP server did not start")
            time.sleep(0.01)
        self.state.start_autosave()
        return self.config

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for module in self.services:
            if hasattr(module, "stop"):
                module.stop(self.ctx)
        self.dispatcher.stop()
        self.state.close()
        self._sock.close()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_forever(host: str, port: int, smtp_port: int, state_file: Path | None, throttle: bool) -> None:
    """CLI entry: start, print the config as one JSON line, run until SIGINT/SIGTERM."""
    sandbox = Sandbox(host, port, smtp_port, SandboxOptions(state_file=state_file, throttle=throttle))
    config = sandbox.start()
    print(json.dumps(config), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()
