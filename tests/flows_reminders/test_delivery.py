"""Reminder delivery details: dry run, SMTP failures retried, business days, do-not-remind deals, CRM email."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from typer.testing import CliRunner

from dealbooks.commands.invoices import reminders_app
from dealbooks.flows.invoice_on_won import invoice_on_deal_won
from dealbooks.flows.reminders import overdue_reminders
from tests.crm.env import ProductSpec
from tests.crm.hubspot_env import make_env as hubspot_env
from tests.prefect_api import latest_artifact

DUE = date(2025, 3, 7)  # a Friday


def outcomes(result: dict) -> dict[str, tuple[str, str]]:
    return {row["invoice_id"]: (row["outcome"], row["category"]) for row in result["reminders"]}


def run(world, day: date, **kwargs) -> dict:
    world.clock(day)
    world.sync(day)
    return overdue_reminders(as_of=day, blocks=world.blocks, **kwargs)


def test_dry_run_sends_and_records_nothing(world) -> None:
    world.settings(reminder_business_days=False)
    invoice = world.invoice("2", 120, DUE, "ap@cars.example")
    preview = run(world, DUE + timedelta(days=1), dry_run=True)
    assert outcomes(preview) == {invoice: ("preview", "")}
    assert preview["reminders"][0]["to"] == "ap@cars.example"
    assert world.mail() == []
    assert world.ledger.notifications.counts("reminder") == {}
    assert world.ledger.records.get("reminders", f"{world.qbo.realm_id}:{invoice}:1") is None
    markdown = latest_artifact("overdue-reminders-emails")
    assert "nothing was sent" in markdown and "ap@cars.example" in markdown
    code, output = cli_reminders(world, "run", "--dry-run", "--as-of", (DUE + timedelta(days=1)).isoformat())
    assert code == 0 and "(dry run)" in output and "preview" in output and world.mail() == []
    assert outcomes(run(world, DUE + timedelta(days=1))) == {invoice: ("sent", "")}
    assert len(world.mail()) == 1


def cli_reminders(world, *args: str) -> tuple[int, str]:
    options = [part for kind, name in world.blocks.items() for part in ("--block", f"{kind}={name}")]
    result = CliRunner().invoke(reminders_app, [*args, *options], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_smtp_failure_is_recorded_and_retried_next_run(world) -> None:
    world.settings(reminder_business_days=False)
    invoice = world.invoice("2", 80, DUE, "ap@cars.example")
    key = f"{world.qbo.realm_id}:{invoice}:1"
    world.smtp_faults(error_rate=1.0)
    failed = run(world, DUE + timedelta(days=1))
    assert outcomes(failed) == {invoice: ("failed", "smtp_unavailable")}
    assert "retried next run" in failed["reminders"][0]["message"]
    assert world.ledger.notifications.get("reminder", key).status == "failed"
    assert world.ledger.records.get("reminders", key).outcome == "failed"
    assert world.mail() == []
    world.smtp_faults(error_rate=0.0)
    assert outcomes(run(world, DUE + timedelta(days=2))) == {invoice: ("sent", "")}
    assert outcomes(run(world, DUE + timedelta(days=2))) == {}
    notification = world.ledger.notifications.get("reminder", key)
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert world.ledger.records.get("reminders", key).outcome == "synced"
    assert len(world.mail()) == 1


def test_business_days_skip_the_weekend(world) -> None:
    world.settings(reminder_business_days=True, reminder_days=[1, 3])
    invoice = world.invoice("2", 60, DUE, "ap@cars.example")
    assert outcomes(run(world, DUE + timedelta(days=1))) == {}        # Saturday
    monday = run(world, DUE + timedelta(days=3))
    assert outcomes(monday) == {invoice: ("sent", "")} and monday["reminders"][0]["step"] == 1
    assert outcomes(run(world, DUE + timedelta(days=4))) == {}        # 2 business days
    assert outcomes(run(world, DUE + timedelta(days=5)))[invoice] == ("sent", "")  # Wednesday: 3 business days


def test_do_not_remind_deals_and_the_crm_email_fallback(world) -> None:
    env = hubspot_env(world.configured.sandbox)
    env.api.crm.properties.core_api.create("deals", {"name": "no_reminders", "label": "No reminders",
                                                     "type": "string", "fieldType": "text", "groupName": "dealinformation"})
    world.settings(reminder_business_days=False, do_not_remind_field="deal.fields.no_reminders")
    products = [ProductSpec("Onboarding", Decimal(1), Decimal(500), sku="ONBOARD")]
    quiet = env.create_deal("Quiet", org_name="Quiet Inc", person_name="Quinn Q", email="q@quiet.example",
                            products=products)
    env.api.crm.deals.basic_api.update(quiet, {"properties": {"no_reminders": "yes"}})
    loud = env.create_deal("Loud", org_name="Loud Inc", person_name="Lou L", email="lou@loud.example",
                           products=products)
    for deal in (quiet, loud):
        env.mark_won(deal)
    assert invoice_on_deal_won("hubspot", [quiet, loud], blocks=world.blocks)["counts"] == {"synced": 2}
    links = {deal: world.ledger.links.get("hubspot", deal).invoice_id for deal in (quiet, loud)}
    due = date.fromisoformat(world.qbo.get_invoice(links[loud])["DueDate"])
    # An invoice without BillEmail, linked by hand to the loud deal's second invoice slot: the CRM email is used.
    bare = world.invoice("1", 30, due)
    world.ledger.links.record(crm="hubspot", deal_id=loud, realm_id=world.qbo.realm_id, invoice_id=bare,
                              purpose="extra")
    result = run(world, due + timedelta(days=1))
    assert outcomes(result) == {links[quiet]: ("excluded", "do_not_remind"), links[loud]: ("sent", ""),
                                bare: ("sent", "")}
    assert {r["invoice_id"]: r["to"] for r in result["reminders"] if r["outcome"] == "sent"} == {
        links[loud]: "lou@loud.example", bare: "lou@loud.example"}
    assert sorted(m["envelope_to"][0] for m in world.mail()) == ["lou@loud.example", "lou@loud.example"]
    assert sum("Overdue reminder" in note for note in env.notes(loud)) == 2
    assert not any("Overdue reminder" in note for note in env.notes(quiet))
