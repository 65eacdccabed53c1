"""Real processes for the end-to-end tests: each in its own process group, logs to files, all stopped.

``Stack`` starts ``prefect server start``, the sandbox, ``dealbooks serve``, the webhook receiver
and workers as subprocesses (``start_new_session=True``); ``stop()`` signals every group
(SIGINT, then SIGKILL after a grace period) and is meant for a ``finally``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """Subprocesses sharing one environment (Prefect API URL, PREFECT_HOME, ledger URL)."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        home = self.root / "prefect-home"
        home.mkdir(parents=True, exist_ok=True)
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DEALBOOKS_"))}
        self.env = {**keep, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "DO_NOT_TRACK": "1", "OAUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONUNBUFFERED": "1",
                    "PREFECT_LOGGING_LEVEL": "INFO", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
                    "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2",
                    "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "false", **self.env}

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def start(self, name: str, args: list[str], *, env: dict[str, str] | None = None,
              stdout_pipe: bool = False) -> subprocess.Popen[bytes]:
        """Start ``args`` in a new session; stdout/stderr go to ``<root>/<name>.log``."""
        log = open(self.log(name), "ab")  # noqa: SIM115 - closed with the process in stop()
        proc = subprocess.Popen(args, env={**self.env, **(env or {})}, cwd=self.root,
                                stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        proc._dealbooks_log = log  # type: ignore[attr-defined]
        self.procs[name] = proc
        return proc

    def prefect_server(self, database_url: str | None = None) -> str:
        """``prefect server start`` on a free port; returns the API URL once healthy."""
        port = free_port()
        env = {"PREFECT_API_DATABASE_CONNECTION_URL":
               database_url or f"sqlite+aiosqlite:///{self.root / 'prefect.db'}",
               "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
               "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api"}  # the UI calls this API
        self.start("prefect-server", [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                      "--port", str(port)], env=env)
        api = f"http://127.0.0.1:{port}/api"
        self.wait_http(f"{api}/health", "prefect-server", timeout=120)
        self.env["PREFECT_API_URL"] = api
        return api

    def sandbox(self) -> dict[str, Any]:
        """``dealbooks sandbox serve --port 0``; returns its start-up JSON document."""
        proc = self.start("sandbox", [str(VENV_BIN / "dealbooks"), "sandbox", "serve", "--port", "0",
                                      "--smtp-port", "0", "--no-throttle",
                                      "--state", str(self.root / "sandbox-state.json")], stdout_pipe=True)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.strip():
            raise RuntimeError(f"sandbox did not start: {self.tail('sandbox')}")
        return json.loads(line)

    def run(self, name: str, args: list[str], *, input_text: str | None = None, timeout: float = 120,
            check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command to completion in the stack's environment (own process group, killed on timeout)."""
        proc = subprocess.Popen(args, env=self.env, cwd=cwd or self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(input_text, timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        result = subprocess.CompletedProcess(args, proc.returncode, out, err)
        if check and result.returncode != 0:
            raise AssertionError(f"{name} exited {result.returncode}:\n{out}\n{err}")
        return result

    def wait_http(self, url: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {self.tail(name)}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{name} not answering at {url}: {self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def stop(self, grace: float = 15) -> None:
        """Stop the newest process first (SIGINT to its group, SIGKILL after ``grace``); reap everything."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                    proc.wait(timeout=grace)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group, children included
            except ProcessLookupError:
                pass
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            proc._dealbooks_log.close()  # type: ignore[attr-defined]

    def group_alive(self) -> list[str]:
        """Names whose process group still has members (orphans) after ``stop``."""
        left = []
        for name, proc in self.procs.items():
            try:
                os.killpg(proc.pid, 0)
                left.append(name)
            except ProcessLookupError:
                pass
        return left
