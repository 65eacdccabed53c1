"""Shared plumbing of the benchmarks: machine facts, peak RSS, the sandbox and Prefect processes,
blocks, request counters, and the result files.

Every benchmark case runs in its own Python process (so its peak RSS is its own) and talks to a
sandbox that runs in another process (``dealbooks sandbox serve``), so the sandbox's memory for
100,000 invoices is not counted as dealbooks'. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
DEALBOOKS = str(Path(PYTHON).with_name("dealbooks"))

# The services' documented limits (API_FACTS.md); floors are computed from these.
QBO_PER_MINUTE = 500
QBO_CONCURRENT = 10
QBO_PAGE = 1000
HUBSPOT_BATCH = 100
HUBSPOT_PER_10S = 190  # the higher private-app tier; the lower one (100) would only raise the floor
PIPEDRIVE_PER_2S = 120  # the highest API-token burst tier; again the most generous floor


def machine() -> dict[str, Any]:
    """Facts about the machine and run, stored with every result."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "cpu_model": cpu, "memory_mb": mem_kb // 1024, "commit": commit.strip(),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory in MB: this process (``getrusage``) or another one (``/proc/PID/status`` VmHWM)."""
    if pid is None:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxProcess:
    """``dealbooks sandbox serve --port 0`` in a child process (no state file: 100k invoices stay fast)."""

    def __init__(self, throttle: bool) -> None:
        args = [DEALBOOKS, "sandbox", "serve", "--port", "0", "--smtp-port", "0",
                "--throttle" if throttle else "--no-throttle"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError("the sandbox did not start")
        self.config: dict[str, Any] = json.loads(line)
        self.url = self.config["qbo"]["api_base"].rsplit("/qbo/", 1)[0]
        self.http = httpx.Client(base_url=f"{self.url}/_sandbox/", timeout=300)

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call a ``/_sandbox/...`` control route; raises on an error answer."""
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Counts:
    """Requests each service saw, from the sandbox's own statistics."""

    qbo: int
    pipedrive: int
    hubspot: int
    slack: int  # messages posted
    qbo_endpoints: dict[str, int]
    qbo_throttled: int
    crm_endpoints: dict[str, int]

    @property
    def qbo_api(self) -> int:
        """Accounting API requests only (no OAuth discovery or token calls)."""
        return sum(n for key, n in self.qbo_endpoints.items() if "/v3/" in key)

    @property
    def crm(self) -> int:
        return self.pipedrive + self.hubspot


def reset_counts(sb: SandboxProcess) -> None:
    sb.control("POST", "qbo/stats")
    sb.control("POST", "pipedrive/stats")
    sb.control("POST", "hubspot/stats")
    sb.control("DELETE", "slack/messages")


def read_counts(sb: SandboxProcess) -> Counts:
    """Requests per service since the last ``reset_counts`` (control routes excluded)."""
    qbo = sb.control("GET", "qbo/stats")
    pipedrive = sb.control("GET", "pipedrive/stats")
    hubspot = sb.control("GET", "hubspot/stats")
    slack = len(sb.control("GET", "slack/messages")["messages"])
    endpoints = {k: v["count"] for k, v in qbo["endpoints"].items()}
    throttled = sum(v["statuses"].get("429", 0) for v in qbo["endpoints"].values())
    crm = {f"pipedrive {k}": _count(v) for k, v in (pipedrive.get("endpoints") or {}).items()}
    crm.update({f"hubspot {k}": _count(v) for k, v in (hubspot.get("by_endpoint") or {}).items()})
    return Counts(qbo=int(qbo["total"]), pipedrive=_total(pipedrive), hubspot=_total(hubspot),
                  slack=slack, qbo_endpoints=endpoints, qbo_throttled=throttled, crm_endpoints=crm)


def _count(value: Any) -> int:
    return int(value if isinstance(value, int) else (value or {}).get("count", sum((value or {}).values())))


def _total(doc: dict[str, Any]) -> int:
    """The request total of a CRM/Slack stats document (the emulators name it slightly differently)."""
    for key in ("total", "requests", "total_requests"):
        if isinstance(doc.get(key), int):
            return int(doc[key])
    by = doc.get("by_endpoint") or doc.get("endpoints") or {}
    return sum(_count(v) for v in by.values())


def save_blocks(config: dict[str, Any], *, slack: bool = True, settings: dict[str, Any] | None = None) -> dict[str, str]:
    """Blocks pointing at the sandbox (``tests/conftest.save_sandbox_blocks``); Slack optionally absent."""
    sys.path.insert(0, str(ROOT))
    from tests.conftest import save_sandbox_blocks

    names = save_sandbox_blocks(config, "bench-" + uuid.uuid4().hex[:8], settings)
    if not slack:
        names["slack"] = "bench-no-slack-" + uuid.uuid4().hex[:6]  # no such block: alerts are skipped
    return names


def rate_limited_seconds(qbo: int, pipedrive: int, hubspot: int) -> float:
    """The least time ``qbo``/``pipedrive``/``hubspot`` requests take under the services' rate limits.

    Each service's budget runs in parallel with the others; the slowest one sets the time.
    """
    return max(qbo / QBO_PER_MINUTE * 60, pipedrive / PIPEDRIVE_PER_2S * 2, hubspot / HUBSPOT_PER_10S * 10)


def write_result(name: str, result: dict[str, Any]) -> Path:
    """``bench/results/<name>.json`` with sorted keys and the machine facts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "machine": machine(), **result}
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    return path


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = round(time.perf_counter() - self.start, 3)
