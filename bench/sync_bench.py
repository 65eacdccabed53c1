"""Nightly status sync over N invoices with a share of them changed, against its floor and the naive way.

Setup (not measured): N invoices seeded in the QBO sandbox in bulk; a first (full) sync in its own
process builds the ledger's snapshots; then every invoice gets a ledger link to a deal (bulk insert):
the invoices that are going to change link to real deals created in the CRM sandboxes (half
Pipedrive one by one, half HubSpot in batches of 100); the others link to deal ids that exist only
in the ledger — the sync must never touch them, and any attempt would show up as a failed record.
Then the chosen share is paid (60 %), part-paid (30 %) or voided (10 %) in the QBO sandbox.

Measured, in a fresh process: one ``status_sync`` run (payment alerts off: no Slack block, since
Slack's 1 message/s would dominate). The sandbox's rate limits are off while measuring; the time
the same requests need under the services' documented limits is computed from the counts.

The naive approach — one ``GET /invoice/{id}`` per invoice, one CRM update per changed deal — is
measured on a sample of invoice reads (the size is in the result) and extrapolated to N.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import tempfile
from typing import Any

import httpx

from bench.common import (
    HUBSPOT_BATCH,
    PYTHON,
    QBO_PAGE,
    ROOT,
    SandboxProcess,
    Stopwatch,
    peak_rss_mb,
    rate_limited_seconds,
    read_counts,
    reset_counts,
    save_blocks,
)

MIX = {"pay_share": 0.6, "partial_share": 0.3, "void_share": 0.1}


def _child(mode: str, blocks: dict[str, str], ledger_url: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``python -m bench.sync_bench <mode>`` in a fresh process; returns its JSON answer."""
    env = dict(os.environ, DEALBOOKS_LEDGER_URL=ledger_url, PREFECT_LOGGING_LEVEL="WARNING")
    arg = json.dumps({"blocks": blocks, **(extra or {})})
    done = subprocess.run([PYTHON, "-m", "bench.sync_bench", mode, arg], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1500)
    if done.returncode != 0:
        raise RuntimeError(f"sync child {mode} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _sync_in_this_process(blocks: dict[str, str]) -> dict[str, Any]:
    from dealbooks.flows.status_sync import status_sync

    with Stopwatch() as sw:
        result = status_sync(trigger="manual", blocks=blocks)
    return {"seconds": sw.seconds, "peak_rss_mb": peak_rss_mb(), "mode": result["mode"],
            "fetched": result["fetched"], "changed": result["changed"], "outcomes": result["outcomes"],
            "deals": {"written": result["deals"]["written"], "failed": len(result["deals"]["failed"]),
                      "notes": result["deals"]["notes"]}}


def _naive_in_this_process(blocks: dict[str, str], ids: list[str]) -> dict[str, Any]:
    from dealbooks.clients.ratelimit import get_limiter
    from dealbooks.flows.context import RunContext, load_block

    # The per-read cost without the client's 480/min pacing (the rate-limited time is computed separately).
    get_limiter("qbo", str(load_block("qbo", blocks).realm_id), rate=10**9, per=60.0, concurrency=10)
    qbo = RunContext(blocks).qbo
    qbo.get_invoice(ids[0])  # token and connection set up outside the timing
    with Stopwatch() as sw:
        for invoice_id in ids:
            qbo.get_invoice(invoice_id)
    return {"seconds": sw.seconds, "reads": len(ids), "peak_rss_mb": peak_rss_mb()}


def _create_deals(sb: SandboxProcess, count: int, crm: str) -> list[str]:
    """``count`` plain deals in one CRM sandbox, through its API (HubSpot in batches of 100)."""
    ids: list[str] = []
    if crm == "pipedrive":
        cfg = sb.config["pipedrive"]
        with httpx.Client(base_url=cfg["base_url"], headers={"x-api-token": cfg["api_token"]}, timeout=60) as http:
            for n in range(count):
                response = http.post("/api/v2/deals", json={"title": f"Bench deal {n}", "status": "won"})
                response.raise_for_status()
                ids.append(str(response.json()["data"]["id"]))
        return ids
    cfg = sb.config["hubspot"]
    with httpx.Client(base_url=cfg["base_url"], headers={"authorization": f"Bearer {cfg['access_token']}"},
                      timeout=60) as http:
        for start in range(0, count, HUBSPOT_BATCH):
            inputs = [{"properties": {"dealname": f"Bench deal {n}", "dealstage": "closedwon", "pipeline": "default"}}
                      for n in range(start, min(count, start + HUBSPOT_BATCH))]
            response = http.post("/crm/v3/objects/deals/batch/create", json={"inputs": inputs})
            response.raise_for_status()
            ids += [str(r["id"]) for r in response.json()["results"]]
    return ids


def _link_all(ledger_url: str, realm_id: str, invoice_ids: list[str], real: dict[str, tuple[str, str]]) -> None:
    """One ledger link per invoice: to a real CRM deal for the changing ones, else to a ledger-only deal."""
    from dealbooks.ledger import Ledger
    from dealbooks.ledger.models import DealInvoiceLink

    ledger = Ledger(ledger_url)
    rows = []
    for invoice_id in invoice_ids:
        crm, deal_id = real.get(invoice_id, ("pipedrive", f"ledger-only-{invoice_id}"))
        rows.append({"crm": crm, "deal_id": deal_id, "purpose": "won", "realm_id": realm_id, "invoice_id": invoice_id,
                     "doc_number": "", "customer_id": "", "request_id": "", "origin": "linked"})
    with ledger.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(DealInvoiceLink.__table__.insert(), rows[start:start + 5000])


def floors(changed: int, payments: int, pipedrive_deals: int, hubspot_deals: int) -> dict[str, Any]:
    """The fewest requests the APIs allow for this change set, and the time they need under the limits."""
    if changed + payments <= QBO_PAGE:
        qbo = 1  # one CDC response holds up to 1000 objects
    else:
        qbo = math.ceil(changed / QBO_PAGE) + math.ceil(payments / QBO_PAGE)  # query pages per entity
    hubspot = math.ceil(hubspot_deals / HUBSPOT_BATCH)
    return {"qbo_calls": qbo, "pipedrive_calls": pipedrive_deals, "hubspot_calls": hubspot,
            "crm_calls": pipedrive_deals + hubspot,
            "rate_limited_seconds": round(rate_limited_seconds(qbo, pipedrive_deals, hubspot), 1)}


def run(invoices: int, shares: list[float], naive_sample: int) -> dict[str, dict[str, Any]]:
    """One setup of ``invoices``, then one measured night per share (disjoint change sets, in order).

    Returns:
        A result document per share, keyed ``sync_<invoices>_<pct>pct``.
    """
    with SandboxProcess(throttle=False) as sb, tempfile.TemporaryDirectory(prefix="dealbooks-bench-") as tmp:
        ledger_url = f"sqlite:///{tmp}/ledger.db"
        blocks = save_blocks(sb.config, slack=False)
        seeded = sb.control("POST", "qbo/bulk/invoices", json={"count": invoices, "customers": min(500, invoices),
                                                               "seed": 11})
        first = int(seeded["first_id"])
        all_ids = [str(i) for i in range(first, first + invoices)]
        baseline = _child("sync", blocks, ledger_url)
        rng = random.Random(invoices)
        pool = rng.sample(all_ids, sum(max(1, round(invoices * s)) for s in shares))
        nights, real = [], {}
        with Stopwatch() as setup:
            for share in shares:
                count = max(1, round(invoices * share))
                changed, pool = sorted(pool[:count], key=int), pool[count:]
                half = len(changed) // 2
                pd_ids = _create_deals(sb, half, "pipedrive")
                hs_ids = _create_deals(sb, len(changed) - half, "hubspot")
                real.update({inv: ("pipedrive", d) for inv, d in zip(changed[:half], pd_ids)})
                real.update({inv: ("hubspot", d) for inv, d in zip(changed[half:], hs_ids)})
                nights.append((share, changed, half))
            _link_all(ledger_url, sb.config["qbo"]["realm_id"], all_ids, real)
        sample = sorted(rng.sample(all_ids, min(naive_sample, invoices)), key=int)
        reset_counts(sb)
        naive = _child("naive", blocks, ledger_url, {"ids": sample})
        results = {}
        for share, changed, half in nights:
            mutated = sb.control("POST", "qbo/bulk/mutate", json={"ids": changed, "seed": 5, **MIX})
            payments = int(mutated["paid"]) + int(mutated["partial"])
            reset_counts(sb)
            measured = _child("sync", blocks, ledger_url)
            counts = read_counts(sb)
            name = f"sync_{invoices}_{round(share * 100)}pct"
            results[name] = _document(invoices, share, changed, half, payments, measured, counts, naive,
                                      {"seed_seconds": seeded.get("seconds"), "deals_and_links_seconds": setup.seconds,
                                       "first_full_sync": baseline, "nights_before": list(results)})
        for doc in results.values():
            doc["sandbox_peak_rss_mb"] = sb.peak_rss_mb()
    return results


def _document(invoices: int, share: float, changed: list[str], half: int, payments: int, measured: dict[str, Any],
              counts: Any, naive: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
    """The result document of one measured night."""
    floor = floors(len(changed), payments, half, len(changed) - half)
    per_read = naive["seconds"] / max(1, naive["reads"])
    naive_crm = len(changed)  # one update per changed deal, no batches
    problems = []
    if measured["changed"] != len(changed):
        problems.append(f"sync saw {measured['changed']} changed invoices, expected {len(changed)}")
    if measured["deals"]["failed"] or measured["outcomes"].get("failed"):
        problems.append(f"failed deals/records: {measured['deals']} {measured['outcomes']}")
    return {
        "parameters": {"invoices": invoices, "changed_share": share, "changed_invoices": len(changed),
                       "payments_created": payments, "mix": MIX,
                       "deals": {"pipedrive": half, "hubspot": len(changed) - half},
                       "links": invoices, "naive_sample": naive["reads"]},
        "setup": setup,
        "ours": {"qbo_calls": counts.qbo_api, "qbo_all_requests": counts.qbo, "crm_endpoints": counts.crm_endpoints,
                 "crm_calls": counts.crm, "pipedrive_calls": counts.pipedrive,
                 "hubspot_calls": counts.hubspot, "qbo_endpoints": counts.qbo_endpoints,
                 "wall_seconds": measured["seconds"], "peak_rss_mb": measured["peak_rss_mb"],
                 "rate_limited_seconds": round(rate_limited_seconds(counts.qbo_api, counts.pipedrive, counts.hubspot), 1),
                 "mode": measured["mode"], "deals_written": measured["deals"]["written"],
                 "notes": measured["deals"]["notes"], "outcomes": measured["outcomes"]},
        "floor": floor,
        "naive": {"qbo_calls": invoices, "crm_calls": naive_crm, "measured_reads": naive["reads"],
                  "measured_seconds": naive["seconds"], "extrapolated": naive["reads"] < invoices,
                  "wall_seconds": round(per_read * invoices, 1),
                  "rate_limited_seconds": round(rate_limited_seconds(invoices, naive_crm // 2,
                                                                     naive_crm - naive_crm // 2), 1)},
        "notes": ["wall times measured with the sandbox's rate limits off; rate_limited_seconds = the least time "
                  "those requests need under QBO 500/min, Pipedrive 120 per 2 s, HubSpot 190 per 10 s",
                  "payment alerts off (no Slack block) in this benchmark",
                  "one setup per invoice count: the nights run in order (1 % then 10 %) on disjoint invoices",
                  "CRM deals exist only for the invoices that change; the other links point at ledger-only deal ids"],
        "problems": problems,
    }


def main(argv: list[str]) -> None:
    """Child entry: ``sync`` (one status_sync run) or ``naive`` (one read per invoice id)."""
    mode, arg = argv[0], json.loads(argv[1])
    result = _sync_in_this_process(arg["blocks"]) if mode == "sync" else _naive_in_this_process(arg["blocks"], arg["ids"])
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
