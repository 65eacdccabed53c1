"""``dealbooks webhooks serve --dispatch events`` through real processes: a won deal's webhook becomes
a Prefect event, the served deployment's event trigger starts the invoice run, a QuickBooks payment's
webhook becomes an event that starts the status sync, and its Slack alert goes out."""

from __future__ import annotations

import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from tests.crm.env import ProductSpec
from tests.crm.pipedrive_env import make_env as pipedrive_env
from tests.e2e.api import PrefectApi, SandboxApi, qbo_client, wait_for, with_api
from tests.e2e.procs import VENV_BIN, Stack, free_port
from tests.e2e.test_lifecycle_processes import DEPLOYMENTS, SandboxHandle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.xdist_group("e2e")]


def test_webhooks_become_events_and_triggers_start_the_runs(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env={"DEALBOOKS_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}"})
    try:
        api_url = stack.prefect_server()
        config = stack.sandbox()
        stack.run("setup", [sys.executable, "-m", "dealbooks.cli", "setup", "--config", "-"], input_text=json.dumps(config))
        port = free_port()
        stack.start("serve", [str(VENV_BIN / "dealbooks"), "serve"])
        stack.start("webhooks", [str(VENV_BIN / "dealbooks"), "webhooks", "serve", "--port", str(port),
                                 "--dispatch", "events"])
        stack.wait_http(f"http://127.0.0.1:{port}/healthz", "webhooks")
        prefect = PrefectApi(api_url)
        wait_for(lambda: DEPLOYMENTS <= set(prefect.deployments()), "the served deployments", 90,
                 diagnose=lambda: stack.tail("serve"))
        sandbox = SandboxApi(config)
        sandbox.register_webhooks(f"http://127.0.0.1:{port}", services=("pipedrive", "qbo"))

        env = pipedrive_env(SandboxHandle(config))
        deal = env.create_deal("Evented Ltd", org_name="Evented Ltd", person_name="Ada Payer",
                               email=f"ap-{uuid.uuid4().hex[:6]}@example.com",
                               products=[ProductSpec("Consulting hours", Decimal("2"), Decimal("125"), sku="CONSULT-HR")])
        env.mark_won(deal)
        fields = wait_for(lambda: env.read_invoice_fields(deal) if env.read_invoice_fields(deal).get("invoice_id") else None,
                          "the invoice written back through the event trigger", 120,
                          diagnose=lambda: stack.tail("webhooks", 15) + "\n" + stack.tail("serve", 30))
        runs = prefect.flow_runs("invoice-on-deal-won")
        assert [r["parameters"]["deal_ids"] for r in runs] == [[deal]], "one run, from the trigger's template"
        assert runs[0]["parameters"]["crm"] == "pipedrive"

        qbo = qbo_client(api_url)
        invoice = with_api(api_url, qbo.get_invoice, fields["invoice_id"])
        with_api(api_url, qbo.create_payment, {
            "CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": float(invoice["TotalAmt"]),
            "Line": [{"Amount": float(invoice["TotalAmt"]),
                      "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}, "evented-pay-1")
        wait_for(lambda: env.read_invoice_fields(deal).get("status") == "paid", "the paid status via the sync trigger",
                 120, diagnose=lambda: stack.tail("serve", 30))
        wait_for(lambda: [m for m in sandbox.slack_messages() if invoice["DocNumber"] in json.dumps(m)],
                 "the Slack payment alert", 60, diagnose=lambda: stack.tail("serve", 30))
        assert all(r["parameters"].get("trigger") == "webhook" for r in prefect.flow_runs("status-sync"))
        env.close()
    finally:
        stack.stop()
    assert stack.group_alive() == [], "processes left behind"
