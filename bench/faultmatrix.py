"""The fault matrix: N won deals invoiced through every failure we know of, then checked for exactly-once.

One scenario, in phases, shared by ``tests/fault_matrix`` (small N) and ``bench`` (N = 1,000):

1. ``webhooks``: every deal's won webhook delivered to the real ``WebhookReceiver`` twice, shuffled,
   with stale (out-of-order) "still open" events in between; the dispatcher must be asked once per deal.
2. ``killed``: a worker process invoices the first deals with faults on and is SIGKILLed mid-run.
3. ``faults``: two workers at once (threads, each with its own clients), opposite orders, under QBO
   5xx, timeouts, dropped-after-commit responses, a 429 storm, a token expiry mid-run, and CRM 5xx.
4. ``rerun``: faults off, ``poll_won_deals`` until nothing is left failed (bounded passes).
5. ``payments``: a share of the invoices paid; two status syncs (with a Slack 429 storm) post the alerts.

``check`` then counts: invoices per deal in QBO, ledger links and outcomes, CRM write-backs, Slack alerts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import deliveries  # noqa: E402
from tests.crm.env import ProductSpec  # noqa: E402

QBO_FAULTS = {"error_rate": 0.05, "drop_after_commit_rate": 0.05, "timeout_rate": 0.02, "timeout_seconds": 0.5}
CRM_FAULTS = {"error_rate": 0.03}
NO_FAULTS = {"error_rate": 0, "drop_after_commit_rate": 0, "timeout_rate": 0, "throttle_next": 0}
PRODUCT = ProductSpec("Consulting hours", Decimal("3"), Decimal("150"), sku="CONSULT-HR")


@dataclass
class Matrix:
    """What the scenario works on and what it saw."""

    sandbox: Any  # a started dealbooks.sandbox.server.Sandbox
    blocks: dict[str, str]
    ledger_url: str
    deals: list[tuple[str, str]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def sandbox_url(self) -> str:
        return self.sandbox.url

    @property
    def config(self) -> dict[str, Any]:
        return self.sandbox.config

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.sandbox_url}/_sandbox/{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json()

    def faults(self, service: str, values: dict[str, Any]) -> None:
        self.control("POST", f"faults/{service}", json=values)

    def context(self) -> Any:
        from dealbooks.flows.context import RunContext

        return RunContext(dict(self.blocks), self.ledger_url)


def create_deals(m: Matrix, n: int) -> None:
    """``n`` won deals, alternating Pipedrive and HubSpot, each with its own customer and email."""
    from tests.crm.hubspot_env import make_env as hubspot_env
    from tests.crm.pipedrive_env import make_env as pipedrive_env

    envs = {"pipedrive": pipedrive_env(m.sandbox), "hubspot": hubspot_env(m.sandbox)}
    for i in range(n):
        crm = "pipedrive" if i % 2 == 0 else "hubspot"
        deal = envs[crm].create_deal(f"Matrix deal {i}", org_name=f"Matrix Customer {i:04d}",
                                     person_name=f"Payer {i}", email=f"ap{i:04d}@matrix.example", products=[PRODUCT])
        envs[crm].mark_won(deal)
        m.deals.append((crm, deal))
    envs["pipedrive"].close()


def webhooks(m: Matrix, seed: int = 3) -> list[tuple[str, str]]:
    """Deliver every won event twice, shuffled, with stale events; returns the dispatched deals."""
    from starlette.testclient import TestClient

    from dealbooks.deployments.webhooks import WebhookReceiver

    dispatcher = deliveries.CollectingDispatcher()
    receiver = WebhookReceiver(dispatcher, m.context())
    from dealbooks.flows.context import load_block

    password = load_block("pipedrive", m.blocks).webhook_password.get_secret_value()
    secret = m.config["hubspot"]["client_secret"]
    sends: list[deliveries.Delivery] = []
    for i, (crm, deal) in enumerate(m.deals):
        if crm == "pipedrive":
            won = deliveries.pipedrive(deliveries.pipedrive_event(deal, event_id=f"won-{deal}"), password)
            stale = deliveries.pipedrive(deliveries.pipedrive_event(deal, "open", "lost", event_id=f"old-{deal}"), password)
        else:
            won = deliveries.hubspot([deliveries.hubspot_event(deal, event_id=10_000_000 + i)], secret)
            stale = deliveries.hubspot([deliveries.hubspot_event(deal, "appointmentscheduled",
                                                                 event_id=20_000_000 + i)], secret)
        sends += [won, won, stale]
    random.Random(seed).shuffle(sends)
    statuses: dict[int, int] = {}
    with TestClient(receiver.app) as client:
        for send in sends:
            code = client.post(send.path, content=send.body, headers=send.headers).status_code
            statuses[code] = statuses.get(code, 0) + 1
    dispatched = [(crm, deal) for crm, deal, _ in dispatcher.deals]
    m.report["webhooks"] = {"deliveries": len(sends), "statuses": statuses, "dispatched": len(dispatched),
                            "distinct_dispatched": len(set(dispatched))}
    return dispatched


def killed_worker(m: Matrix, work: list[tuple[str, str]], kill_after_links: int, timeout: float = 240) -> None:
    """A worker process invoicing ``work`` with QBO faults on, SIGKILLed once ``kill_after_links`` links exist."""
    from dealbooks.ledger import Ledger

    from prefect.settings import PREFECT_API_URL

    m.faults("qbo", QBO_FAULTS)
    env = dict(os.environ, DEALBOOKS_LEDGER_URL=m.ledger_url, PREFECT_LOGGING_LEVEL="WARNING",
               PREFECT_API_URL=str(PREFECT_API_URL.value()))  # the same Prefect API as this process
    arg = json.dumps({"blocks": m.blocks, "work": work})
    proc = subprocess.Popen([sys.executable, "-m", "bench.faultmatrix", arg], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = Ledger(m.ledger_url)
    deadline = time.monotonic() + timeout
    linked = 0
    while time.monotonic() < deadline and proc.poll() is None:
        linked = sum(ledger.links.get(crm, deal) is not None for crm, deal in work)
        if linked >= kill_after_links:
            break
        time.sleep(0.2)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    m.report["killed"] = {"work": len(work), "linked_when_killed": linked, "killed": killed,
                          "returncode": proc.returncode}


def two_workers(m: Matrix, work: list[tuple[str, str]], storm: int = 25) -> None:
    """Two threads with their own clients invoice ``work`` in opposite orders under every fault."""
    from dealbooks.tasks.invoicing import company_context, invoice_one_deal

    m.faults("qbo", {**QBO_FAULTS, "throttle_next": storm})
    for crm in ("pipedrive", "hubspot"):
        m.faults(crm, CRM_FAULTS)
    outcomes: list[Any] = []
    errors: list[str] = []

    def worker(order: list[tuple[str, str]]) -> None:
        try:
            ctx = m.context()
            company, last = None, ""
            for attempt in range(30):  # the company read meets the storm too (the flow task retries likewise)
                try:
                    company = company_context(ctx.qbo, ctx.settings)
                    break
                except Exception as exc:
                    last = f"{type(exc).__name__}: {exc}"[:300]
                    time.sleep(0.3)
            if company is None:
                errors.append(f"company context unreadable under faults: {last}")
                return
            for crm, deal in order:
                outcomes.append(invoice_one_deal(crm_name=crm, deal_id=deal, crm=ctx.crm(crm), qbo=ctx.qbo,
                                                 ledger=ctx.ledger, settings=ctx.settings, company=company))
        except Exception as exc:  # recorded: a crashed worker is a finding
            errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def expire_midway() -> None:
        time.sleep(1.5)
        m.faults("qbo", {"expire_tokens": True})

    threads = [threading.Thread(target=worker, args=(list(work),)),
               threading.Thread(target=worker, args=(list(reversed(work)),)),
               threading.Thread(target=expire_midway)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1200)
    m.faults("qbo", NO_FAULTS)
    for crm in ("pipedrive", "hubspot"):
        m.faults(crm, NO_FAULTS)
    by: dict[str, int] = {}
    for o in outcomes:
        key = f"{o.outcome}:{o.category}" if o.category else o.outcome
        by[key] = by.get(key, 0) + 1
    m.report["faults"] = {"attempts": len(outcomes), "outcomes": by, "worker_errors": errors}


def rerun(m: Matrix, passes: int = 4) -> None:
    """Faults off; ``poll_won_deals`` until no deal is left failed (at most ``passes`` runs)."""
    from dealbooks.flows.invoice_on_won import poll_won_deals

    runs = []
    for _ in range(passes):
        result = poll_won_deals(["pipedrive", "hubspot"], blocks=m.blocks)
        runs.append(result["counts"])
        if not m.context().ledger.records.failed("invoice_on_won"):
            break
    m.report["rerun"] = {"passes": runs}


def payments(m: Matrix, share: float = 0.2) -> int:
    """Pay (in full or half) a share of the deals' invoices; sync twice with a Slack 429 storm."""
    from dealbooks.flows.status_sync import status_sync

    ledger = m.context().ledger
    invoice_ids = sorted(link.invoice_id for link in ledger.links.all())
    chosen = invoice_ids[: max(1, round(len(invoice_ids) * share))]
    mutated = m.control("POST", "qbo/bulk/mutate", json={"ids": chosen, "pay_share": 0.5, "partial_share": 0.5})
    paid = int(mutated["paid"]) + int(mutated["partial"])
    m.faults("slack", {"throttle_next": 3, "error_rate": 0.05})
    first = status_sync(trigger="manual", blocks=m.blocks)
    m.faults("slack", NO_FAULTS)
    second = status_sync(trigger="manual", blocks=m.blocks)
    m.report["payments"] = {"paid_invoices": paid, "first_sync_alerts": first.get("alerts"),
                            "second_sync_alerts": second.get("alerts")}
    return paid


def check(m: Matrix, paid: int | None) -> dict[str, Any]:
    """The exactly-once facts; returns them (and stores them in the report)."""
    ctx = m.context()
    invoices = ctx.qbo.query_all("SELECT * FROM Invoice")
    per_deal: dict[str, int] = {}
    for inv in invoices:
        marker = (inv.get("PrivateNote") or "").split(" |")[0]
        per_deal[marker] = per_deal.get(marker, 0) + 1
    expected = {f"dealbooks:{crm}:{deal}:won" for crm, deal in m.deals}
    records = {crm_deal: ctx.ledger.records.get("invoice_on_won", f"{crm_deal[0]}:{crm_deal[1]}") for crm_deal in m.deals}
    linked = [d for d in m.deals if ctx.ledger.links.get(*d) is not None]
    from tests.crm.hubspot_env import make_env as hubspot_env
    from tests.crm.pipedrive_env import make_env as pipedrive_env

    envs = {"pipedrive": pipedrive_env(m.sandbox), "hubspot": hubspot_env(m.sandbox)}
    written = sum(bool(envs[crm].read_invoice_fields(deal).get("invoice_number")) for crm, deal in m.deals)
    envs["pipedrive"].close()
    facts = {
        "deals": len(m.deals), "qbo_invoices": len(invoices),
        "deals_with_one_invoice": sum(per_deal.get(k, 0) == 1 for k in expected),
        "duplicates": sum(max(0, c - 1) for k, c in per_deal.items() if k in expected),
        "unexpected_invoices": sum(c for k, c in per_deal.items() if k not in expected),
        "linked": len(linked), "synced_records": sum(r is not None and r.outcome == "synced" for r in records.values()),
        "failed_records": len(ctx.ledger.records.failed("invoice_on_won")),
        "deals_written_back": written,
    }
    if paid is not None:
        messages = m.control("GET", "slack/messages")["messages"]
        texts = [json.dumps(msg.get("blocks") or msg.get("text"), sort_keys=True) for msg in messages]
        facts.update({"payments": paid, "slack_alerts": len(messages), "duplicate_alerts": len(texts) - len(set(texts))})
    m.report["check"] = facts
    return facts


def _worker_main(arg: dict[str, Any]) -> None:
    """Child entry for the killed worker: one ``invoice_on_deal_won`` run per CRM."""
    from dealbooks.flows.invoice_on_won import invoice_on_deal_won

    for crm in ("pipedrive", "hubspot"):
        ids = [deal for c, deal in arg["work"] if c == crm]
        if ids:
            invoice_on_deal_won(crm, ids, blocks=arg["blocks"], return_state=True)


if __name__ == "__main__":
    _worker_main(json.loads(sys.argv[1]))
