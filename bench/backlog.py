"""A backlog of won deals invoiced by ``poll_won_deals``, with the QBO sandbox's throttling on.

Time is scaled: the sandbox's QBO window is ``60 / time_scale`` seconds (still 500 requests and 10
concurrent per window) and the client's limiter gets the same window, so a run that would take
``time_scale`` minutes of QBO budget takes one. Invoices per minute are reported both as measured
(scaled) and as projected for the real limits: the measured rate, capped by what 500 requests/min
allow at the QBO requests each invoice needed. The floor is one QBO request per invoice (the create):
500 invoices/min. The CRM sandboxes' limits are off (setup would otherwise take hours); the CRM
requests per deal are reported with the time they would need under Pipedrive's limits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import httpx

from bench.common import (
    PIPEDRIVE_PER_2S,
    PYTHON,
    QBO_PER_MINUTE,
    ROOT,
    SandboxProcess,
    Stopwatch,
    peak_rss_mb,
    read_counts,
    reset_counts,
    save_blocks,
)

DEALS_PER_CUSTOMER = 10


def _create_won_deals(sb: SandboxProcess, count: int) -> list[str]:
    """``count`` won Pipedrive deals with an organisation, a person with email and one product."""
    cfg = sb.config["pipedrive"]
    ids: list[str] = []
    with httpx.Client(base_url=cfg["base_url"], headers={"x-api-token": cfg["api_token"]}, timeout=60) as http:
        def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.request(method, path, json=body)
            response.raise_for_status()
            return response.json()["data"]

        product = call("POST", "/api/v2/products", {"name": "Consulting hours", "code": "CONSULT-HR",
                                                    "prices": [{"price": 150.0, "currency": "USD"}]})
        org = person = None
        for n in range(count):
            if n % DEALS_PER_CUSTOMER == 0:
                c = n // DEALS_PER_CUSTOMER
                org = call("POST", "/api/v2/organizations", {"name": f"Backlog Customer {c:05d}"})["id"]
                person = call("POST", "/api/v2/persons", {"name": f"Payer {c}", "org_id": org, "emails": [
                    {"value": f"ap{c:05d}@backlog.example", "primary": True, "label": "work"}]})["id"]
            deal = call("POST", "/api/v2/deals", {"title": f"Backlog deal {n}", "org_id": org, "person_id": person,
                                                  "currency": "USD"})
            call("POST", f"/api/v2/deals/{deal['id']}/products", {"product_id": product["id"], "item_price": 150.0,
                                                                  "quantity": float(1 + n % 9), "discount": 0,
                                                                  "discount_type": "percentage"})
            call("PATCH", f"/api/v2/deals/{deal['id']}", {"status": "won"})
            ids.append(str(deal["id"]))
    return ids


def run(deals: int, time_scale: int) -> dict[str, Any]:
    """Create the backlog, then invoice it in one ``poll_won_deals`` run in a fresh process."""
    window = 60.0 / time_scale
    with SandboxProcess(throttle=True) as sb, tempfile.TemporaryDirectory(prefix="dealbooks-bench-") as tmp:
        for service in ("pipedrive", "hubspot", "slack"):
            sb.control("POST", f"faults/{service}", json={"throttle_enabled": False})
        sb.control("POST", "qbo/throttle", json={"window_seconds": window, "per_minute": QBO_PER_MINUTE,
                                                 "concurrent": 10})
        blocks = save_blocks(sb.config, slack=False)
        with Stopwatch() as setup:
            ids = _create_won_deals(sb, deals)
        ledger_url = f"sqlite:///{tmp}/ledger.db"
        reset_counts(sb)
        env = dict(os.environ, DEALBOOKS_LEDGER_URL=ledger_url, PREFECT_LOGGING_LEVEL="WARNING")
        arg = json.dumps({"blocks": blocks, "window": window, "realm": sb.config["qbo"]["realm_id"]})
        done = subprocess.run([PYTHON, "-m", "bench.backlog", arg], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=1700)
        if done.returncode != 0:
            raise RuntimeError(f"backlog child failed: {done.stderr[-3000:]}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        counts = read_counts(sb)
        invoices = sb.control("GET", "qbo/stats")  # after the run: no reset in between
        qbo_invoices = invoices["endpoints"].get("POST /v3/company/{realm}/invoice", {}).get("count", 0)
    minutes = measured["seconds"] / 60
    synced = measured["counts"].get("synced", 0)
    per_invoice = counts.qbo_api / max(1, synced)
    scaled_rate = synced / minutes if minutes else 0.0
    projected = min(scaled_rate, QBO_PER_MINUTE / per_invoice) if per_invoice else scaled_rate
    crm_per_deal = counts.crm / max(1, synced)
    problems = []
    if synced != deals:
        problems.append(f"{synced} of {deals} deals invoiced: {measured['counts']}")
    if qbo_invoices < deals:
        problems.append(f"QBO saw {qbo_invoices} invoice creates for {deals} deals")
    return {
        "parameters": {"deals": deals, "time_scale": time_scale, "qbo_window_seconds": window,
                       "qbo_limits_per_window": {"requests": QBO_PER_MINUTE, "concurrent": 10},
                       "client_limiter": {"rate": 480, "per_seconds": window, "concurrency": 10},
                       "deals_per_customer": DEALS_PER_CUSTOMER, "deal_ids": f"{ids[0]}..{ids[-1]}"},
        "setup_seconds": setup.seconds,
        "ours": {"invoiced": synced, "outcomes": measured["counts"], "wall_seconds": measured["seconds"],
                 "peak_rss_mb": measured["peak_rss_mb"], "qbo_calls": counts.qbo_api,
                 "qbo_calls_per_invoice": round(per_invoice, 2), "qbo_429": counts.qbo_throttled,
                 "qbo_endpoints": counts.qbo_endpoints, "crm_calls": counts.crm,
                 "crm_calls_per_deal": round(crm_per_deal, 2), "crm_endpoints": counts.crm_endpoints,
                 "invoices_per_minute_scaled": round(scaled_rate, 1),
                 "invoices_per_minute_projected_real_limits": round(projected, 1),
                 "pipedrive_limited_invoices_per_minute": round(PIPEDRIVE_PER_2S * 30 / crm_per_deal, 1)},
        "floor": {"qbo_calls_per_invoice": 1, "invoices_per_minute": QBO_PER_MINUTE,
                  "note": "one create per invoice at 500 requests/min/realm (QBO batch: 40/min x 30 = 1200/min "
                          "for creates, at the cost of per-item requestids of <= 36 chars)"},
        "notes": [f"time scaled x{time_scale}: QBO window {window:.1f} s for 500 requests, client limiter the same",
                  "CRM sandbox limits off; pipedrive_limited_invoices_per_minute = the ceiling Pipedrive's "
                  "120 requests / 2 s puts on this path at the measured CRM requests per deal"],
        "problems": problems,
    }


def main(arg: dict[str, Any]) -> None:
    """Child entry: scale the client limiter like the sandbox, then one ``poll_won_deals`` run."""
    from dealbooks.clients.ratelimit import get_limiter
    from dealbooks.flows.invoice_on_won import poll_won_deals

    get_limiter("qbo", str(arg["realm"]), rate=480, per=float(arg["window"]), concurrency=10)
    with Stopwatch() as sw:
        result = poll_won_deals(["pipedrive"], blocks=arg["blocks"])
    print(json.dumps({"seconds": sw.seconds, "counts": result["counts"], "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
