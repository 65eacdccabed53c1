"""Scale-out: Prefect server and the ledger on PostgreSQL, prefect.yaml deployed to a process pool,
two `prefect worker start` processes, the webhook receiver in front; a burst of won deals is
invoiced exactly once and both workers take part."""

from __future__ import annotations

import json
import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, _fresh_postgres_database
from tests.crm.env import ProductSpec
from tests.crm.pipedrive_env import make_env as pipedrive_env
from tests.e2e.api import PrefectApi, SandboxApi, qbo_client, wait_for, with_api
from tests.e2e.procs import VENV_BIN, Stack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(420), pytest.mark.xdist_group("e2e")]
REPO = Path(__file__).resolve().parents[2]
BURST = 20


class SandboxHandle:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


def _executed(stack: Stack, name: str) -> set[str]:
    """Flow run ids a worker ran: a run's own log lines ("View at .../runs/flow-run/<id>") reach the
    log of the worker whose subprocess executed it ("submitting" lines also show lost races)."""
    text = stack.log(name).read_text(errors="replace") if stack.log(name).exists() else ""
    return set(re.findall(r"/runs/flow-run/([0-9a-f-]{36})", text))


def test_a_burst_of_won_deals_is_invoiced_once_by_two_workers(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("DEALBOOKS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    prefect_db, drop_prefect_db = _fresh_postgres_database(PG_URL)
    ledger_db, drop_ledger_db = _fresh_postgres_database(PG_URL)
    prefect_url = make_url(prefect_db).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    stack = Stack(tmp_path, env={"DEALBOOKS_LEDGER_URL": ledger_db})
    try:
        api_url = stack.prefect_server(database_url=prefect_url)
        config = stack.sandbox()
        stack.run("setup", [sys.executable, "-m", "dealbooks.cli", "setup", "--config", "-"],
                  input_text=json.dumps(config))
        prefect_cli = str(VENV_BIN / "prefect")
        stack.run("pool", [prefect_cli, "work-pool", "create", "dealbooks", "--type", "process"])
        stack.run("deploy", [prefect_cli, "--no-prompt", "deploy", "--all"], cwd=REPO, timeout=180)
        prefect = PrefectApi(api_url)
        assert {"invoice-on-deal-won", "poll-won-deals", "status-sync", "payment-alerts",
                "overdue-reminders", "overdue-summary"} <= set(prefect.deployments())
        for worker in ("worker-a", "worker-b"):
            stack.start(worker, [prefect_cli, "worker", "start", "--pool", "dealbooks", "--name", worker,
                                 "--limit", "4"])
        port = free_port()
        receiver = f"http://127.0.0.1:{port}"
        stack.start("webhooks", [str(VENV_BIN / "dealbooks"), "webhooks", "serve", "--port", str(port)])
        stack.wait_http(f"{receiver}/healthz", "webhooks")
        sandbox = SandboxApi(config)
        sandbox.register_webhooks(receiver, services=("pipedrive",))  # no QBO hooks: no syncs competing for CPU
        _burst(stack, prefect, sandbox, ledger_db)
    finally:
        stack.stop()
        from dealbooks.ledger.db import dispose_all

        dispose_all()
        drop_prefect_db()
        drop_ledger_db()
    assert stack.group_alive() == [], "processes left behind"


def _burst(stack: Stack, prefect: PrefectApi, sandbox: SandboxApi, ledger_url: str) -> None:
    from dealbooks.ledger import Ledger

    env = pipedrive_env(SandboxHandle(sandbox.config))
    qbo = qbo_client(prefect.url)
    before = len(with_api(prefect.url, qbo.query_all, "SELECT * FROM Invoice"))
    product = [ProductSpec("Consulting hours", Decimal("2"), Decimal("150"), sku="CONSULT-HR")]
    run_tag = uuid.uuid4().hex[:6]
    deals = [env.create_deal(f"Burst {run_tag} {n}", org_name=f"Burst {run_tag} {n} GmbH", person_name="Alex Buyer",
                             email=f"burst-{run_tag}-{n}@example.com", products=product) for n in range(BURST)]
    for deal_id in deals:
        env.mark_won(deal_id)

    def invoiced() -> bool:
        return all(env.read_invoice_fields(d).get("invoice_number") for d in deals)

    wait_for(invoiced, f"{BURST} won deals invoiced and written back", 240, every=2,
             diagnose=lambda: stack.tail("worker-a", 20) + "\n" + stack.tail("worker-b", 20))
    ledger = Ledger(ledger_url)
    links = [ledger.links.get("pipedrive", d) for d in deals]
    assert all(links) and len({link.invoice_id for link in links}) == BURST
    after = len(with_api(prefect.url, qbo.query_all, "SELECT * FROM Invoice"))
    assert after - before == BURST, f"{after - before} QuickBooks invoices for {BURST} won deals"
    numbers = [env.read_invoice_fields(d)["invoice_number"] for d in deals]
    assert len(set(numbers)) == BURST, "one distinct invoice per deal"
    a, b = _executed(stack, "worker-a"), _executed(stack, "worker-b")
    runs = {r["id"] for r in prefect.flow_runs("invoice-on-deal-won") if r["state_type"] == "COMPLETED"}
    assert a and b, f"both workers should run flows (worker-a {len(a)}, worker-b {len(b)})"
    assert not a & b, "a flow run was executed by both workers"
    assert runs <= a | b, "every invoice run came from one of the two workers"
    env.close()
