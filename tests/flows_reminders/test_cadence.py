"""The overdue-reminders flow over a simulated month against the sandboxes (clock + as_of)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from dealbooks.flows.invoice_on_won import invoice_on_deal_won
from dealbooks.flows.reminders import overdue_reminders
from tests.crm.env import ProductSpec
from tests.crm.pipedrive_env import make_env

TRICKY = 'Zoë & "Ålesund" <b>Bold</b> O\'Neil'


def sent_steps(result: dict) -> set[tuple[str, int]]:
    return {(row["invoice_id"], row["step"]) for row in result["reminders"] if row["outcome"] == "sent"}


def test_a_month_of_reminders(world) -> None:
    env = make_env(world.configured.sandbox)
    deal = env.create_deal("Tricky names", org_name=TRICKY, person_name="Zoë O'Neil", email="zoe@tricky.example",
                           products=[ProductSpec("HR Consulting", Decimal(2), Decimal(150), sku="CONSULT-HR")])
    env.mark_won(deal)
    blocked = world.customer("Never Remind Ltd", "never@blocked.example")
    world.settings(reminder_business_days=False, reminder_from="billing@dealbooks.example",
                   reminder_reply_to="ar@dealbooks.example", do_not_remind_customer_ids=[blocked])
    world.qbo_settings(online_payments=True, company_name="Dealbooks Demo Co")
    won = invoice_on_deal_won("pipedrive", [deal], blocks=world.blocks)
    assert won["counts"] == {"synced": 1}, won
    a = world.ledger.links.get("pipedrive", deal).invoice_id
    due = date.fromisoformat(world.qbo.get_invoice(a)["DueDate"])  # invoice-on-won dates it company-today + 30
    b = world.invoice("2", 250, due, "b@cars.example")
    c = world.invoice("1", 75, due)                                   # no BillEmail, no deal: cannot be reminded
    e = world.invoice("3", 90, due - timedelta(days=20), "pat@obrien.example")  # already 3 weeks late
    f = world.invoice(blocked, 40, due, "never@blocked.example")

    def run(days: int, sync: bool = False) -> dict:
        """Reminders on due + ``days``; overdue is re-derived for that day, so only state changes need a sync."""
        day = due + timedelta(days=days)
        world.clock(day)
        if sync:
            world.status_sync(day)
        return overdue_reminders(as_of=day, blocks=world.blocks)

    first = run(1, sync=True)
    assert sent_steps(first) == {(a, 1), (b, 1), (e, 14)}
    outcomes = {(r["invoice_id"], r["step"]): (r["outcome"], r["category"]) for r in first["reminders"]}
    assert outcomes[(c, 1)] == ("failed", "no_recipient")
    assert outcomes[(f, 1)] == ("excluded", "do_not_remind")
    assert outcomes[(e, 1)] == outcomes[(e, 7)] == ("skipped", "skipped_step")
    assert sent_steps(run(3)) == set()
    assert sent_steps(run(7)) == {(a, 7), (b, 7)}
    world.pay(b, 250)                                                  # paid after the last sync
    fourteen = run(14)
    assert sent_steps(fourteen) == {(a, 14), (e, 30)}
    assert [r["category"] for r in fourteen["reminders"] if r["invoice_id"] == b] == ["closed"]
    assert sent_steps(run(20, sync=True)) == set()
    assert sent_steps(run(30)) == {(a, 30)}
    assert sent_steps(run(30)) == set()                                # a rerun never repeats
    assert sent_steps(run(31)) == set()

    mail = world.mail()
    by_recipient: dict[str, int] = {}
    for message in mail:
        for rcpt in message["envelope_to"]:
            by_recipient[rcpt] = by_recipient.get(rcpt, 0) + 1
    assert by_recipient == {"zoe@tricky.example": 4, "b@cars.example": 2, "pat@obrien.example": 2}
    realm = world.qbo.realm_id
    assert world.ledger.notifications.keys("reminder") == {
        f"{realm}:{a}:1", f"{realm}:{a}:7", f"{realm}:{a}:14", f"{realm}:{a}:30", f"{realm}:{b}:1", f"{realm}:{b}:7",
        f"{realm}:{e}:14", f"{realm}:{e}:30"}
    record = world.ledger.records.get("reminders", f"{realm}:{c}:1")
    assert record.outcome == "failed" and record.category == "no_recipient" and record.attempts >= 2
    assert world.ledger.records.get("reminders", f"{realm}:{e}:7").category == "skipped_step"

    first_to_a = next(m for m in mail if m["envelope_to"] == ["zoe@tricky.example"])
    assert first_to_a["envelope_from"] == "billing@dealbooks.example"
    assert "<b>Bold</b>" not in first_to_a["html"] and "&lt;b&gt;Bold&lt;/b&gt;" in first_to_a["html"]
    assert "Zoë" in first_to_a["html"] and "Ålesund" in first_to_a["text"]
    assert "<b>Bold</b>" in first_to_a["text"]                         # plain text keeps the name as it is
    assert "/qbo/comm/invoice?" in first_to_a["html"]                   # the QBO InvoiceLink as pay link
    doc_number = world.qbo.get_invoice(a)["DocNumber"]
    assert first_to_a["attachments"] == [{"filename": f"Invoice-{doc_number}.pdf", "content_type": "application/pdf",
                                          "size": len(world.qbo.invoice_pdf(a))}]
    notes = [n for n in env.notes(deal) if "Overdue reminder" in n]
    assert len(notes) == 4 and "step 30" in notes[-1]
