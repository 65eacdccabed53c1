"""The five runner deployments build with prefect 3.8.8: schedules carry the settings' timezone."""

from __future__ import annotations

from dealbooks.blocks import InvoiceSettings
from dealbooks.deployments.serve import build_deployments


def test_deployments_carry_schedules_timezone_triggers_and_concurrency() -> None:
    settings = InvoiceSettings(timezone="Europe/Berlin", sync_cron="30 1 * * *", reminders_cron="0 8 * * 1-5",
                               poll_interval_minutes=7)
    deployments = {d.name: d for d in build_deployments(settings, blocks={"qbo": "acme"})}
    assert sorted(deployments) == ["invoice-on-deal-won", "overdue-reminders", "overdue-summary", "payment-alerts",
                                   "poll-won-deals", "status-sync"]
    sync = deployments["status-sync"].schedules[0].schedule
    assert (sync.cron, sync.timezone) == ("30 1 * * *", "Europe/Berlin")
    reminders = deployments["overdue-reminders"].schedules[0].schedule
    assert (reminders.cron, reminders.timezone) == ("0 8 * * 1-5", "Europe/Berlin")
    assert deployments["poll-won-deals"].schedules[0].schedule.interval.total_seconds() == 420
    assert deployments["overdue-summary"].schedules[0].schedule.cron == "0 8 * * 1-5"
    for name in ("status-sync", "poll-won-deals", "overdue-reminders", "overdue-summary", "payment-alerts"):
        assert deployments[name].concurrency_limit == 1
        expected = "ENQUEUE" if name == "status-sync" else "CANCEL_NEW"  # a change must never wait for tomorrow
        assert deployments[name].concurrency_options.collision_strategy.value == expected
    assert [t.expect for t in deployments["invoice-on-deal-won"].triggers] == [{"dealbooks.deal.won"}]
    assert [t.expect for t in deployments["status-sync"].triggers] == [{"dealbooks.quickbooks.changed"}]
    assert all(d.parameters == {"blocks": {"qbo": "acme"}} for d in deployments.values())
    assert not any(d.triggers for d in build_deployments(settings, triggers=False))
