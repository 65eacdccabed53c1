"""prefect.yaml is rendered from the deployments `dealbooks serve` serves, so the two never drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dealbooks.blocks import InvoiceSettings
from dealbooks.cli import app
from dealbooks.deployments.manifest import module_entrypoint, render

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_prefect_yaml_is_the_default_render() -> None:
    assert (REPO / "prefect.yaml").read_text() == render(), (
        "prefect.yaml drifted from dealbooks/deployments/serve.py: run "
        "`dealbooks deployments render -o prefect.yaml` without a settings block")


def test_module_entrypoints() -> None:
    assert module_entrypoint("dealbooks/flows/status_sync.py:status_sync") == "dealbooks.flows.status_sync.status_sync"
    assert module_entrypoint("/opt/venv/lib/dealbooks/flows/reminders.py:overdue_reminders") == \
        "dealbooks.flows.reminders.overdue_reminders"


@pytest.mark.usefixtures("prefect_api")
def test_render_uses_the_settings_block(tmp_path: Path) -> None:
    InvoiceSettings(timezone="Europe/Berlin", sync_cron="15 3 * * *", reminders_cron="0 8 * * 1-5",
                    poll_interval_minutes=7, reminder_days=[3, 10]).save("render-test", overwrite=True)
    out = tmp_path / "prefect.yaml"
    result = CliRunner().invoke(app, ["deployments", "render", "-o", str(out), "--pool", "acme-pool",
                                      "--block", "settings=render-test"])
    assert result.exit_code == 0, result.output
    assert "6 deployments for work pool 'acme-pool'" in result.output
    doc = yaml.safe_load(out.read_text())
    by_name = {d["name"]: d for d in doc["deployments"]}
    assert by_name["status-sync"]["schedules"] == [{"cron": "15 3 * * *", "timezone": "Europe/Berlin"}]
    assert by_name["overdue-summary"]["schedules"] == [{"cron": "0 8 * * 1-5", "timezone": "Europe/Berlin"}]
    assert by_name["poll-won-deals"]["schedules"] == [{"interval": 420, "timezone": "Europe/Berlin"}]
    assert by_name["overdue-reminders"]["description"] == "Overdue reminder emails at 3, 10 days overdue."
    assert all(d["work_pool"]["name"] == "acme-pool" for d in doc["deployments"])
    assert all(d["parameters"]["blocks"]["settings"] == "render-test" for d in doc["deployments"])
    assert "from InvoiceSettings block 'render-test'" in out.read_text()

    missing = CliRunner().invoke(app, ["deployments", "render", "--block", "settings=nope"])
    assert missing.exit_code == 0 and "with the default settings" in missing.output
    assert "timezone: America/New_York" in missing.output
