"""Webhook-to-invoice latency through served deployments.

Three processes besides this one, all on 127.0.0.1: the sandbox (``dealbooks sandbox serve``), the
deployments (``dealbooks serve``: Prefect's Runner, each flow run in its own subprocess) and the
webhook receiver (``dealbooks webhooks serve --dispatch runs``: ``run_deployment`` with an
idempotency key). The Pipedrive sandbox delivers its v2 webhook (basic auth) when a deal is marked
won; the latency is from that PATCH to the ledger link (the invoice exists in QBO and the deal is
written back — the link is recorded between the two). Deals are won one at a time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from typing import Any

import httpx

from bench.common import DEALBOOKS, ROOT, SandboxProcess, free_port, save_blocks

POLL_SECONDS = 2  # the Runner's poll for new flow runs (Prefect's default is 10 s: up to 8 s more per run)
DEADLINE = 120.0  # seconds a single deal may take before the run is declared broken


def _spawn(args: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([DEALBOOKS, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {seconds} s")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return round(ordered[index], 2)


def run(deals: int) -> dict[str, Any]:
    """Win ``deals`` deals one by one; measure mark-won → ledger link."""
    from dealbooks.ledger import Ledger

    with SandboxProcess(throttle=False) as sb, tempfile.TemporaryDirectory(prefix="dealbooks-bench-") as tmp:
        blocks = save_blocks(sb.config, slack=False)
        password = "hook-pass-" + blocks["qbo"].split("-", 1)[1]  # tests/conftest.save_sandbox_blocks' rule
        ledger_url = f"sqlite:///{tmp}/ledger.db"
        ledger = Ledger(ledger_url)
        env = dict(os.environ, DEALBOOKS_LEDGER_URL=ledger_url, PREFECT_LOGGING_LEVEL="WARNING",
                   PREFECT_RUNNER_POLL_FREQUENCY=str(POLL_SECONDS))
        flags = [f"--block={kind}={name}" for kind, name in blocks.items()]
        port = free_port()
        with open(f"{tmp}/serve.log", "w") as serve_log, open(f"{tmp}/receiver.log", "w") as receiver_log:
            serve = _spawn(["serve", *flags, "--no-triggers"], env, serve_log)
            receiver = _spawn(["webhooks", "serve", "--port", str(port), "--dispatch", "runs", *flags], env, receiver_log)
            try:
                _wait_http(f"http://127.0.0.1:{port}/healthz", 60)
                latencies = _measure(sb, ledger, port, password, deals, serve)
            finally:
                _stop(receiver)
                _stop(serve)
    ok = [v for v in latencies if v is not None]
    problems = [] if len(ok) == deals else [f"{deals - len(ok)} of {deals} deals not invoiced within {DEADLINE} s"]
    return {
        "parameters": {"deals": deals, "crm": "pipedrive", "dispatch": "run_deployment (idempotency key)",
                       "runner": "dealbooks serve (Prefect Runner, a subprocess per flow run)",
                       "note": f"Runner poll every {POLL_SECONDS} s (PREFECT_RUNNER_POLL_FREQUENCY; default 10 s)."},
        "ours": {"p50_seconds": _percentile(ok, 0.5) if ok else None, "p95_seconds": _percentile(ok, 0.95) if ok else None,
                 "mean_seconds": round(statistics.fmean(ok), 2) if ok else None,
                 "max_seconds": round(max(ok), 2) if ok else None, "samples": [round(v, 2) for v in ok]},
        "floor": {"note": "no API floor: the requests one invoice needs take tens of milliseconds against the "
                          "sandbox; the rest is webhook delivery, flow-run scheduling and the flow-run process start"},
        "problems": problems,
    }


def _measure(sb: SandboxProcess, ledger: Any, port: int, password: str, deals: int,
             serve: subprocess.Popen[str]) -> list[float | None]:
    cfg = sb.config["pipedrive"]
    http = httpx.Client(base_url=cfg["base_url"], headers={"x-api-token": cfg["api_token"]}, timeout=30)

    def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()["data"]

    call("POST", "/v1/webhooks", {"subscription_url": f"http://127.0.0.1:{port}/webhooks/pipedrive",
                                  "event_action": "*", "event_object": "deal", "http_auth_user": "dealbooks",
                                  "http_auth_password": password, "version": "2.0"})
    org = call("POST", "/api/v2/organizations", {"name": "Latency Co"})["id"]
    person = call("POST", "/api/v2/persons", {"name": "Lat Payer", "org_id": org,
                                              "emails": [{"value": "ap@latency.example", "primary": True}]})["id"]
    product = call("POST", "/api/v2/products", {"name": "Consulting", "code": "CONSULT-HR"})["id"]
    latencies: list[float | None] = []
    for n in range(deals):
        deal = call("POST", "/api/v2/deals", {"title": f"Latency deal {n}", "org_id": org, "person_id": person})
        call("POST", f"/api/v2/deals/{deal['id']}/products", {"product_id": product, "item_price": 100.0, "quantity": 1.0})
        started = time.perf_counter()
        call("PATCH", f"/api/v2/deals/{deal['id']}", {"status": "won"})
        took: float | None = None
        while time.perf_counter() - started < DEADLINE and serve.poll() is None:
            if ledger.links.get("pipedrive", str(deal["id"])) is not None:
                took = time.perf_counter() - started
                break
            time.sleep(0.05)
        latencies.append(took)
        if took is None:
            break
    http.close()
    return latencies
