"""`dealbooks setup`: blocks from the sandbox line / TOML / environment, limits, ledger; idempotent; no secrets shown."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from dealbooks.cli import app as cli_app
from dealbooks.commands import setup as setup_cmd
from dealbooks.commands.setup_config import from_environment, load_config
from dealbooks.exceptions import ConfigurationError


def _names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {kind: f"{kind}-setup-{suffix}" for kind in setup_cmd.KINDS}


def _secrets(config: dict[str, Any]) -> list[str]:
    return [config["qbo"]["client_secret"], config["qbo"]["refresh_token"], config["pipedrive"]["api_token"],
            config["hubspot"]["access_token"], config["slack"]["token"], config["smtp"]["password"],
            config["pipedrive"]["webhook_password"]]


def test_config_sources_merge_with_aliases_and_environment(tmp_path) -> None:
    toml = tmp_path / "dealbooks.toml"
    toml.write_text('[smtp]\nhost = "smtp.example.com"\nport = 587\nsecurity = "starttls"\n'
                    '[settings]\ntimezone = "Europe/Berlin"\n')
    environ = {"DEALBOOKS_SETTINGS_REMINDER_DAYS": "[3, 10]", "DEALBOOKS_QBO_CLIENT_ID": "abc",
               "DEALBOOKS_LEDGER_URL": "sqlite:///x.db", "DEALBOOKS_UNRELATED": "1"}
    config = load_config([str(toml)], environ=environ)
    assert config["smtp"] == {"smtp_server": "smtp.example.com", "smtp_port": 587, "smtp_type": "STARTTLS"}
    assert config["settings"] == {"timezone": "Europe/Berlin", "reminder_days": [3, 10]}
    assert config["qbo"] == {"client_id": "abc"} and config["ledger"] == {"url": "sqlite:///x.db"}
    assert from_environment({"DEALBOOKS_SETTINGS_": "x"}) == {}
    line = json.dumps({"smtp": {"host": "127.0.0.1", "port": 2525}, "future_service": {"x": 1}})
    piped = load_config(["-"], use_env=False, stdin=io.StringIO(line + "\nnever read\n"))
    assert piped == {"smtp": {"smtp_server": "127.0.0.1", "smtp_port": 2525, "smtp_type": "INSECURE"}}
    with pytest.raises(ConfigurationError, match="no such config file"):
        load_config([str(tmp_path / "missing.toml")])


def test_setup_from_the_sandbox_line_is_idempotent_and_quiet(sandbox: Any, prefect_api: None, tmp_path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from dealbooks.flows.context import load_block

    names = _names()
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("DEALBOOKS_LEDGER_URL", ledger)
    monkeypatch.setenv("DEALBOOKS_SETTINGS_DUE_DAYS", "14")
    blocks = [arg for kind, name in names.items() for arg in ("--block", f"{kind}={name}")]
    runner = CliRunner()
    first = runner.invoke(cli_app, ["setup", "--config", "-", *blocks], input=json.dumps(sandbox.config) + "\n")
    assert first.exit_code == 0, first.output
    for secret in _secrets(sandbox.config):
        assert secret not in first.output
    assert first.output.count("created") >= 8, first.output  # six blocks, two limits
    assert "migrated" in first.output

    qbo = load_block("qbo", names)
    assert qbo.realm_id == sandbox.config["qbo"]["realm_id"] and qbo.api_base == sandbox.config["qbo"]["api_base"]
    assert load_block("smtp", names).smtp_type.name == "INSECURE"
    assert load_block("settings", names).due_days == 14
    assert load_block("pipedrive", names).webhook_password.get_secret_value() == sandbox.config["pipedrive"]["webhook_password"]
    assert load_block("hubspot", names).portal_id == str(sandbox.config["hubspot"]["portal_id"])

    # The refresh token rotates in use: a second run keeps the stored one, changes nothing else.
    qbo.get_client().company_info()
    rotated = load_block("qbo", names).refresh_token.get_secret_value()
    second = runner.invoke(cli_app, ["setup", "--config", "-", *blocks], input=json.dumps(sandbox.config))
    assert second.exit_code == 0, second.output
    assert "created" not in second.output and "updated" not in second.output and "migrated" not in second.output
    assert load_block("qbo", names).refresh_token.get_secret_value() == rotated

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        realm = sandbox.config["qbo"]["realm_id"]
        rate = client.read_global_concurrency_limit_by_name(setup_cmd.rate_limit_name(realm))
        concurrent = client.read_global_concurrency_limit_by_name(setup_cmd.concurrent_limit_name(realm))
    assert (rate.limit, rate.slot_decay_per_second) == (480, 8.0) and concurrent.limit == 10


def test_setup_refuses_bad_values_without_echoing_them(prefect_api: None, tmp_path) -> None:
    names = _names()
    config = {"qbo": {"client_id": "x", "client_secret": "s3cr3t-value", "realm_id": "1",
                      "refresh_token": "rt-s3cr3t", "minor_version": 12}}
    with pytest.raises(ConfigurationError) as caught:
        setup_cmd.run_setup(config, names=names, limits=False, ledger=False)
    assert "minor_version" in caught.value.message
    assert "s3cr3t" not in caught.value.message
    doc = tmp_path / "bad.toml"
    doc.write_text("[qbo\n")
    result = CliRunner().invoke(cli_app, ["setup", "--config", str(doc), "--no-env"])
    assert result.exit_code == 2 and "not valid TOML" in result.output
