"""The whole lifecycle through real processes: prefect server, dealbooks serve, the webhook receiver, the sandbox.

Deals are won through the Pipedrive and HubSpot sandbox APIs; the sandbox delivers their webhooks
to ``dealbooks webhooks serve``, which starts runs of the served ``invoice-on-deal-won``
deployment; a payment made in QuickBooks reaches the served ``status-sync`` through a QuickBooks
webhook and ends as a Slack alert; after the clock moves past the due date the
``overdue-reminders`` deployment sends a reminder email. Everything is stopped in ``finally``.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.crm.env import ProductSpec
from tests.crm.hubspot_env import make_env as hubspot_env
from tests.crm.pipedrive_env import make_env as pipedrive_env
from tests.e2e.api import PrefectApi, SandboxApi, qbo_client, wait_for, with_api
from tests.e2e.procs import VENV_BIN, Stack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420), pytest.mark.xdist_group("e2e")]
DEPLOYMENTS = {"invoice-on-deal-won", "poll-won-deals", "status-sync", "payment-alerts", "overdue-reminders",
               "overdue-summary"}


class SandboxHandle:
    """What the CRM test envs need from a sandbox: its config."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


def test_deals_won_to_invoices_alerts_and_reminders_through_served_deployments(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env={"DEALBOOKS_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
                                 "DEALBOOKS_SETTINGS_REMINDER_BUSINESS_DAYS": "false",
                                 "DEALBOOKS_SETTINGS_REMINDER_FROM": "billing@dealbooks.example"})
    try:
        api_url = stack.prefect_server()
        config = stack.sandbox()
        line = json.dumps(config)
        setup = stack.run("setup", [sys.executable, "-m", "dealbooks.cli", "setup", "--config", "-"], input_text=line)
        for secret in (config["qbo"]["client_secret"], config["qbo"]["refresh_token"], config["slack"]["token"]):
            assert secret not in setup.stdout + setup.stderr
        port = free_port()
        receiver = f"http://127.0.0.1:{port}"
        stack.start("serve", [str(VENV_BIN / "dealbooks"), "serve"])
        stack.start("webhooks", [str(VENV_BIN / "dealbooks"), "webhooks", "serve", "--port", str(port)])
        stack.wait_http(f"{receiver}/healthz", "webhooks")
        prefect = PrefectApi(api_url)
        wait_for(lambda: DEPLOYMENTS <= set(prefect.deployments()), "the six served deployments", 90,
                 diagnose=lambda: stack.tail("serve"))
        sandbox = SandboxApi(config)
        sandbox.register_webhooks(receiver)
        _lifecycle(stack, prefect, sandbox, api_url, tmp_path)
    finally:
        stack.stop()
    assert stack.group_alive() == [], "processes left behind"


def _lifecycle(stack: Stack, prefect: PrefectApi, sandbox: SandboxApi, api_url: str, tmp_path: Path) -> None:
    handle = SandboxHandle(sandbox.config)
    envs = {"pipedrive": pipedrive_env(handle), "hubspot": hubspot_env(handle)}
    qbo = qbo_client(api_url)
    before = len(with_api(api_url, qbo.query_all, "SELECT * FROM Invoice"))
    product = [ProductSpec("Consulting hours", Decimal("4"), Decimal("125"), sku="CONSULT-HR")]
    deals = []
    for crm, title in (("pipedrive", "Harbour Lights"), ("pipedrive", "Mill Street"), ("hubspot", "Northwind")):
        email = f"ap-{uuid.uuid4().hex[:6]}@example.com"
        deal_id = envs[crm].create_deal(title, org_name=f"{title} Ltd", person_name="Robin Payer", email=email,
                                        products=product)
        envs[crm].mark_won(deal_id)
        deals.append((crm, deal_id, email))

    def written_back() -> dict[str, dict[str, Any]] | None:
        fields = {f"{crm}:{deal_id}": envs[crm].read_invoice_fields(deal_id) for crm, deal_id, _ in deals}
        return fields if all(f.get("invoice_number") for f in fields.values()) else None

    fields = wait_for(written_back, "invoices written back to the won deals", 120,
                      diagnose=lambda: stack.tail("webhooks", 15) + "\n" + stack.tail("serve", 30))
    invoices = with_api(api_url, qbo.query_all, "SELECT * FROM Invoice")
    assert len(invoices) - before == len(deals), "exactly one invoice per won deal"
    assert len({f["invoice_id"] for f in fields.values()}) == len(deals)
    runs = prefect.flow_runs("invoice-on-deal-won")
    assert len(runs) >= len(deals) and all(r["state_type"] in ("COMPLETED", "RUNNING", "PENDING") for r in runs)
    for crm, deal_id, _ in deals:
        assert any("Invoice" in note for note in envs[crm].notes(deal_id)), f"no timeline note on {crm}:{deal_id}"

    # The invoices' own QBO webhooks started status syncs; the first one sets the ledger's baseline
    # (what is known before any money arrives). Wait for it so the payment below is news.
    def sync_settled() -> bool:
        states = [r["state_type"] for r in prefect.flow_runs("status-sync")]
        return "COMPLETED" in states and not set(states) - {"COMPLETED", "CANCELLED"}

    wait_for(sync_settled, "the first status sync (baseline)", 90, diagnose=lambda: stack.tail("serve", 30))

    # A payment in QuickBooks → QBO webhook → served status-sync → Slack alert.
    paid_id = fields[f"{deals[0][0]}:{deals[0][1]}"]["invoice_id"]
    invoice = with_api(api_url, qbo.get_invoice, paid_id)
    amount = float(invoice["TotalAmt"])
    with_api(api_url, qbo.create_payment, {
        "CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": amount,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": paid_id, "TxnType": "Invoice"}]}]}, "e2e-pay-1")
    alert = wait_for(lambda: [m for m in sandbox.slack_messages() if invoice.get("DocNumber", "?") in json.dumps(m)],
                     "a Slack payment alert", 120, diagnose=lambda: stack.tail("serve", 40))
    assert alert
    wait_for(lambda: envs[deals[0][0]].read_invoice_fields(deals[0][1]).get("status") == "paid",
             "the paid status on the deal", 60)
    assert prefect.artifacts("status-sync-health"), "the sync published its health artifact"

    # Time passes: the unpaid invoices fall overdue, the reminders deployment emails the customer.
    unpaid_id = fields[f"{deals[1][0]}:{deals[1][1]}"]["invoice_id"]
    due = date.fromisoformat(with_api(api_url, qbo.get_invoice, unpaid_id)["DueDate"])
    day = due + timedelta(days=1)
    sandbox.control("POST", "clock", json={"set": f"{day.isoformat()}T18:00:00+00:00", "freeze": True})
    prefect.wait_run(prefect.run_deployment("status-sync", {"as_of": day.isoformat(), "trigger": "e2e"}), 120)
    prefect.wait_run(prefect.run_deployment("overdue-reminders", {"as_of": day.isoformat()}), 120)
    mail = [m for m in sandbox.mail() if deals[1][2] in json.dumps(m)]
    assert mail, f"no reminder email to {deals[1][2]}: {sandbox.mail()}"
    assert not [m for m in sandbox.mail() if deals[0][2] in json.dumps(m)], "the paid invoice was reminded"
    _screenshots(prefect, api_url, tmp_path)
    envs["pipedrive"].close()


def _screenshots(prefect: PrefectApi, api_url: str, tmp_path: Path) -> None:
    """With chromium installed, screenshot the UI (to DEALBOOKS_SCREENSHOT_DIR when set)."""
    from scripts.ui_screenshot import chromium_binary, take_screenshots

    if chromium_binary() is None:
        return  # the UI screenshot is optional here: scripts/ui_screenshot.py explains how to get chromium
    out = Path(os.environ.get("DEALBOOKS_SCREENSHOT_DIR") or tmp_path)
    artifact = prefect.artifacts("status-sync-health")[0]
    shots = take_screenshots(api_url, out, artifact_id=str(artifact["id"]))
    assert all(path.stat().st_size > 10_000 for path in shots), shots
