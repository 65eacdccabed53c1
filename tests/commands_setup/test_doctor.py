"""`dealbooks doctor` against the sandbox: every check passing, then failing ones with what to do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from dealbooks.blocks import InvoiceSettings, PipedriveCredentials, SlackWorkspace
from dealbooks.cli import app as cli_app
from dealbooks.commands.doctor import run_checks
from dealbooks.flows.context import load_block
from tests.e2e.procs import free_port


def _by_name(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


def _register_pipedrive_hook(configured: Any, receiver: str) -> None:
    pipedrive = configured.sandbox.config["pipedrive"]
    block = load_block("pipedrive", configured.blocks)
    response = httpx.post(f"{pipedrive['base_url']}/v1/webhooks", headers={"x-api-token": pipedrive["api_token"]},
                          json={"subscription_url": f"{receiver}/webhooks/pipedrive", "event_action": "change",
                                "event_object": "deal", "version": "2.0", "http_auth_user": block.webhook_username,
                                "http_auth_password": block.webhook_password.get_secret_value()})
    assert response.status_code == 201, response.text


def test_everything_passes_on_a_configured_sandbox(configured: Any) -> None:
    configured.ledger.links.get("pipedrive", "0")  # first use migrates the ledger
    _register_pipedrive_hook(configured, "http://127.0.0.1:9/hooks")
    checks = run_checks(configured.blocks, ledger_url=configured.ledger_url)
    failed = [c for c in checks if c.status == "fail"]
    assert failed == [], failed
    names = _by_name(checks)
    for name in ("ledger migrated", "QuickBooks token", "custom transaction numbers", "multicurrency",
                 "online payments (share links)", "sales tax", "Pipedrive token", "Pipedrive webhook",
                 "HubSpot token", "Slack", "SMTP"):
        assert names[name].status in ("ok", "warn"), names[name]
    assert names["QuickBooks token"].status == "ok" and names["Slack"].status == "ok"
    assert names["SMTP"].detail.endswith("NOOP + login")
    assert names["webhook receiver"].status == "warn" and names["webhook receiver"].fix
    secrets = [v for section in configured.sandbox.config.values() for k, v in section.items()
               if isinstance(v, str) and any(w in k for w in ("token", "secret", "password"))]
    text = repr(checks)
    assert not [s for s in secrets if s in text]
    result = CliRunner().invoke(cli_app, ["doctor", *(f"--block={k}={v}" for k, v in configured.blocks.items())]
                                + ["--ledger-url", configured.ledger_url])
    assert result.exit_code == 0, result.output
    assert "✓" in result.output and "✗" not in result.output


def test_failures_say_what_to_do_and_exit_non_zero(configured: Any) -> None:
    blocks = dict(configured.blocks)
    pipedrive = load_block("pipedrive", blocks)
    PipedriveCredentials(api_token="wrong-token", base_url=pipedrive.base_url,
                         webhook_password="x").save(blocks["pipedrive"], overwrite=True)
    slack = load_block("slack", blocks)
    SlackWorkspace(token="xoxb-revoked", base_url=slack.base_url).save(blocks["slack"], overwrite=True)
    smtp = load_block("smtp", blocks)
    smtp.smtp_port = free_port()  # nothing listens there: SMTP is down
    smtp.save(blocks["smtp"], overwrite=True)
    httpx.post(f"{configured.sandbox.url}/_sandbox/qbo/preferences", json={"country": "GB"}).raise_for_status()
    InvoiceSettings(tax_id_source="deal.fields.no_such_field").save(blocks["settings"], overwrite=True)

    checks = _by_name(run_checks(blocks, ledger_url=configured.ledger_url, webhook_url=f"http://127.0.0.1:{free_port()}"))
    assert checks["Pipedrive token"].status == "fail" and "API token" in checks["Pipedrive token"].fix
    assert checks["Slack"].status == "fail" and "invalid_auth" in checks["Slack"].detail
    assert checks["SMTP"].status == "fail" and "port" in checks["SMTP"].fix
    assert checks["sales tax"].status == "fail" and "default_tax_code" in checks["sales tax"].fix
    assert checks["HubSpot mapped deal fields"].status == "fail"
    assert "no_such_field" in checks["HubSpot mapped deal fields"].detail
    assert checks["webhook receiver"].status == "fail"
    assert checks["QuickBooks token"].status == "ok"

    result = CliRunner().invoke(cli_app, ["doctor", *(f"--block={k}={v}" for k, v in blocks.items())]
                                + ["--ledger-url", configured.ledger_url])
    assert result.exit_code == 1, result.output
    assert "✗" in result.output and "wrong-token" not in result.output


@pytest.mark.parametrize("problem", ["bad refresh token", "unmigrated ledger"])
def test_quickbooks_token_and_ledger_failures(configured: Any, tmp_path, problem: str) -> None:
    blocks = dict(configured.blocks)
    ledger_url = configured.ledger_url
    if problem == "bad refresh token":
        qbo = load_block("qbo", blocks)
        qbo.refresh_token = "RT1-revoked"  # type: ignore[assignment]
        qbo.access_token = None
        qbo.save(blocks["qbo"], overwrite=True)
    else:
        ledger_url = f"sqlite:///{tmp_path / 'empty.db'}"
    checks = _by_name(run_checks(blocks, ledger_url=ledger_url, crms=[]))
    if problem == "bad refresh token":
        assert checks["QuickBooks token"].status == "fail" and "reconnect" in checks["QuickBooks token"].fix
        assert "RT1-revoked" not in checks["QuickBooks token"].detail
    else:
        assert checks["ledger migrated"].status == "fail" and "dealbooks setup" in checks["ledger migrated"].fix
