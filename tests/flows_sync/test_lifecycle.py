"""Payments, voids, deletes and due dates reach the deals of both CRMs; a rerun changes nothing."""

from __future__ import annotations

from datetime import date, timedelta


def test_invoice_lifecycle_reaches_deals_in_both_crms(world) -> None:
    partial = world.won_deal("pipedrive", "Partial Co", "1000")
    twice = world.won_deal("hubspot", "Twice Co", "1000")
    full = world.won_deal("hubspot", "Full Co", "800")
    voided = world.won_deal("pipedrive", "Void Co", "500")
    deleted = world.won_deal("hubspot", "Gone Co", "300")
    late = world.won_deal("pipedrive", "Late Co", "700")

    baseline = world.sync()
    assert baseline["mode"] == "full" and baseline["alerts"]["sent"] == 0
    assert world.fields("Late Co")["status"] == "open"

    world.pay(partial, "400")
    world.pay(twice, "300")
    world.pay(twice, "200")
    world.pay(full, "800")
    world.qbo.void_invoice(voided)
    world.qbo.delete_invoice(deleted)
    result = world.sync()
    assert result["mode"] == "cdc" and result["deals"]["failed"] == []

    p = world.fields("Partial Co")
    assert (p["status"], float(p["amount_paid"]), float(p["balance"])) == ("partially_paid", 400.0, 600.0)
    t = world.fields("Twice Co")
    assert (t["status"], float(t["amount_paid"]), float(t["balance"])) == ("partially_paid", 500.0, 500.0)
    assert t.get("last_payment_date")
    f = world.fields("Full Co")
    assert (f["status"], float(f["balance"])) == ("paid", 0.0)
    assert world.fields("Void Co")["status"] == "voided"
    assert world.fields("Gone Co")["status"] == "deleted"
    assert world.fields("Late Co")["status"] == "open"
    assert any("Payment received" in n and "$300.00" in n for n in world.notes("Twice Co"))
    assert any("Payment received" in n and "$200.00" in n for n in world.notes("Twice Co"))
    assert any("voided" in n for n in world.notes("Void Co"))
    assert any("deleted" in n for n in world.notes("Gone Co"))

    messages = world.slack_messages()
    assert len(messages) == 4 and result["alerts"]["sent"] == 4
    texts = sorted(m["text"] for m in messages)
    assert any("paid in full" in t and "$800.00" in t for t in texts)
    # two payments on one invoice: each message shows the balance right after that payment
    assert any("$300.00" in t and "Remaining balance: $700.00" in t for t in texts)
    assert any("$200.00" in t and "Remaining balance: $500.00" in t for t in texts)

    notes_before = {title: len(world.notes(title)) for title in world.deals}
    rerun = world.sync()
    assert rerun["changed"] == 0 and rerun["events"]["new"] == 0 and rerun["deals"]["written"] == 0
    assert rerun["alerts"]["sent"] == 0 and len(world.slack_messages()) == 4
    assert {title: len(world.notes(title)) for title in world.deals} == notes_before

    # past the cursor's overlap nothing is read again
    world.control("POST", "clock", json={"advance_seconds": 600})
    assert world.sync()["changed"] == 0  # the overlap is read once more
    quiet = world.sync()
    assert quiet["fetched"]["invoices"] == 0 and quiet["changed"] == 0

    # due dates pass: the sandbox clock moves a month on and the sync runs as of the day after the due date;
    # nothing changed in QBO, so the overdue invoices come from the ledger's snapshots
    due = date.fromisoformat(world.qbo.get_invoice(late)["DueDate"])
    world.control("POST", "clock", json={"advance_days": (due - world.sandbox_today()).days + 2})
    overdue = world.sync(as_of=due + timedelta(days=1))
    assert overdue["mode"] == "query"  # the cursor is now past CDC's 30-day window (QBO's clock)
    assert overdue["newly_overdue"] == 3  # Late, Partial and Twice still owe money
    assert world.fields("Late Co")["status"] == "overdue"
    assert world.fields("Partial Co")["status"] == "overdue"
    assert world.fields("Full Co")["status"] == "paid"
    assert any("is now <b>Overdue</b>" in n for n in world.notes("Late Co"))
    again = world.sync(as_of=due + timedelta(days=1))
    assert again["changed"] == 0 and again["deals"]["written"] == 0

    # the overdue summary: count and total per owner in the overdue channel, once per day
    from dealbooks.flows.status_sync import overdue_summary

    before = len(world.slack_messages())
    posted = overdue_summary(as_of=due + timedelta(days=1), blocks=world.blocks)
    assert posted == {"posted": True, "channel": "#ar-overdue", "overdue": 3}
    [summary] = world.slack_messages()[before:]
    assert summary["channel"] != world.slack_messages()[0]["channel"], "not the payments channel"
    assert "3 overdue invoices totalling $1,800.00 across 2 owners" in summary["text"], summary["text"]  # 700+600+500
    repeat = overdue_summary(as_of=due + timedelta(days=1), blocks=world.blocks)
    assert repeat["posted"] is False and repeat["reason"] == "already posted today"
    assert len(world.slack_messages()) == before + 1


def test_dealbooks_sync_command_runs_the_sync_and_prints_its_health(world) -> None:
    import typer
    from typer.testing import CliRunner

    from dealbooks.commands.sync import sync

    invoice = world.won_deal("pipedrive", "Command Co", "900")
    app = typer.Typer()
    app.command("sync")(sync)
    app.command("noop")(lambda: None)  # keeps typer from collapsing the group into a single command
    blocks = [f"--block={kind}={name}" for kind, name in world.blocks.items()]
    runner = CliRunner()
    first = runner.invoke(app, ["sync", "--full", *blocks], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert first.output.startswith("full sync") and "Sync health" in first.output

    world.pay(invoice, "900")
    paid = runner.invoke(app, ["sync", *blocks], env={"COLUMNS": "200"})
    assert paid.exit_code == 0, paid.output
    said = " ".join(paid.output.split())  # rich wraps at the terminal width
    assert "1 changed, 1 deals written, 0 failed" in said and "'sent': 1" in said, paid.output
    assert world.fields("Command Co")["status"] == "paid"

    wrong = runner.invoke(app, ["sync", "--block", "qbo"])
    assert wrong.exit_code != 0 and "qbo" in wrong.output
