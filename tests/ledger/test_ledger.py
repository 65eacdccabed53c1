"""The ledger's guarantees, unchanged on SQLite and PostgreSQL (see the ``ledger_url`` fixture)."""

from __future__ import annotations

import multiprocessing as mp
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import inspect

from dealbooks.ledger import Ledger, NewEvent
from dealbooks.ledger.migrate import current_revision, head_revision


def test_schema_is_migrated_to_head_on_first_use(ledger: Ledger) -> None:
    assert current_revision(ledger.engine) == head_revision()
    tables = set(inspect(ledger.engine).get_table_names())
    assert {"deal_invoice_links", "invoice_snapshots", "invoice_events", "sync_records",
            "webhook_inbox", "notifications", "sync_cursors", "alembic_version"} <= tables


def test_second_invoice_for_the_same_won_deal_cannot_be_recorded(ledger: Ledger) -> None:
    first = ledger.links.record(crm="pipedrive", deal_id="42", realm_id="r1", invoice_id="100")
    second = ledger.links.record(crm="pipedrive", deal_id="42", realm_id="r1", invoice_id="101")
    assert first.created and not second.created
    assert second.link.invoice_id == "100"
    assert [link.invoice_id for link in ledger.links.for_deal("pipedrive", "42")] == ["100"]


def test_same_deal_id_in_other_crm_or_purpose_is_separate(ledger: Ledger) -> None:
    assert ledger.links.record(crm="pipedrive", deal_id="7", realm_id="r", invoice_id="1").created
    assert ledger.links.record(crm="hubspot", deal_id="7", realm_id="r", invoice_id="2").created
    assert ledger.links.record(crm="hubspot", deal_id="7", realm_id="r", invoice_id="3",
                               purpose="linked:3", origin="linked").created
    assert len(ledger.links.for_deal("hubspot", "7")) == 2
    assert set(ledger.links.for_invoices("r", ["1", "2", "3", "4"])) == {"1", "2", "3"}
    assert {link.invoice_id for link in ledger.links.for_deals([("hubspot", "7"), ("pipedrive", "7")])} == {"1", "2", "3"}


def test_an_invoice_belongs_to_one_deal_only(ledger: Ledger) -> None:
    ledger.links.record(crm="pipedrive", deal_id="1", realm_id="r", invoice_id="500")
    other = ledger.links.record(crm="pipedrive", deal_id="2", realm_id="r", invoice_id="500",
                                purpose="linked:500", origin="linked")
    assert not other.created and other.link.deal_id == "1"
    assert ledger.links.unlink("r", "500") is True
    assert ledger.links.unlink("r", "500") is False
    assert ledger.links.record(crm="pipedrive", deal_id="2", realm_id="r", invoice_id="500").created


def _race_record(url: str, invoice_id: str, start: mp.Event, out: mp.Queue) -> None:
    ledger = Ledger(url)
    start.wait()
    results = []
    for deal in range(40):
        result = ledger.links.record(crm="hubspot", deal_id=f"d{deal}", realm_id="r",
                                     invoice_id=f"{invoice_id}-{deal}")
        results.append((deal, result.created, result.link.invoice_id))
    out.put(results)


def test_two_processes_racing_to_record_the_same_links(ledger_url: str) -> None:
    Ledger(ledger_url)  # migrate once up front, as the first worker would
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_race_record, args=(ledger_url, name, start, out)) for name in ("A", "B")]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for deal in range(40):
        (_, created_a, winner_a), (_, created_b, winner_b) = results[0][deal], results[1][deal]
        assert created_a != created_b, f"deal {deal}: exactly one process must win"
        assert winner_a == winner_b, f"deal {deal}: the loser must get the winner's invoice"
    assert len(Ledger(ledger_url).links.all("r")) == 40


def _race_migrate(url: str, out: mp.Queue) -> None:
    out.put(current_revision(Ledger(url).engine))


def test_two_processes_migrating_a_fresh_ledger_at_once(ledger_url: str) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_race_migrate, args=(ledger_url, out)) for _ in range(2)]
    for p in procs:
        p.start()
    revisions = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert revisions == [head_revision(), head_revision()]


def test_events_are_appended_once_per_dedupe_key(ledger: Ledger) -> None:
    events = [NewEvent(dedupe_key="pay:1:100", kind="payment_received", realm_id="r", invoice_id="100",
                       payment_id="1", amount=Decimal("50.25"), new_status="partially_paid"),
              NewEvent(dedupe_key="status:100:paid", kind="status_changed", realm_id="r", invoice_id="100",
                       old_status="partially_paid", new_status="paid", payload={"note": "O'Brien «é» 💸"})]
    assert ledger.events.append(events) == 2
    assert ledger.events.append(events) == 0  # a rerun appends nothing
    payments = ledger.events.list("payment_received")
    assert [(e.payment_id, e.amount) for e in payments] == [("1", Decimal("50.25"))]
    every = ledger.events.list()
    assert every[1].payload == {"note": "O'Brien «é» 💸"}
    assert [e.dedupe_key for e in ledger.events.list(after_id=every[0].id)] == ["status:100:paid"]
    assert [e.dedupe_key for e in ledger.events.list(invoice_ids=["999"])] == []


def test_notification_is_claimed_at_most_once_and_failed_ones_can_retry(ledger: Ledger) -> None:
    assert ledger.notifications.claim("payment_alert", "pay:1:100")
    assert not ledger.notifications.claim("payment_alert", "pay:1:100")  # in flight
    ledger.notifications.mark_failed("payment_alert", "pay:1:100", "slack: ratelimited")
    assert ledger.notifications.claim("payment_alert", "pay:1:100")  # failed before delivery: retry
    ledger.notifications.mark_sent("payment_alert", "pay:1:100", {"ts": "1.2"})
    assert not ledger.notifications.claim("payment_alert", "pay:1:100")
    row = ledger.notifications.get("payment_alert", "pay:1:100")
    assert row is not None and row.status == "sent" and row.attempts == 2 and row.detail == {"ts": "1.2"}
    assert ledger.notifications.keys("payment_alert") == {"pay:1:100"}
    assert ledger.notifications.counts() == {"sent": 1}


def test_sync_records_keep_the_latest_outcome_and_count_attempts(ledger: Ledger) -> None:
    ledger.records.record("invoice_on_won", "deal", "pipedrive:1", "failed", category="no_email",
                          message="Deal 1 has no person with an email")
    ledger.records.record("invoice_on_won", "deal", "pipedrive:1", "synced")
    ledger.records.record("invoice_on_won", "deal", "pipedrive:2", "excluded", category="not_won",
                          message="still open")
    ledger.records.record("invoice_on_won", "deal", "pipedrive:3", "failed", category="currency_mismatch",
                          message="EUR deal, USD customer")
    row = ledger.records.get("invoice_on_won", "pipedrive:1")
    assert row is not None and row.outcome == "synced" and row.attempts == 2
    assert [r.record_key for r in ledger.records.failed("invoice_on_won")] == ["pipedrive:3"]
    counts = {(c["outcome"], c["category"]): c["count"] for c in ledger.records.counts("invoice_on_won")}
    assert counts == {("synced", ""): 1, ("excluded", "not_won"): 1, ("failed", "currency_mismatch"): 1}
    with pytest.raises(ValueError):
        ledger.records.record("x", "deal", "k", "ok")  # type: ignore[arg-type]


def test_webhook_inbox_dedupes_by_sender_event_id(ledger: Ledger) -> None:
    assert ledger.inbox.record("pipedrive", "evt-1", {"meta": {"id": "evt-1"}}, subject="pipedrive:42")
    assert not ledger.inbox.record("pipedrive", "evt-1", {"meta": {"id": "evt-1"}})
    assert ledger.inbox.record("hubspot", "evt-1", {})  # another sender's id space
    ledger.inbox.mark("pipedrive", "evt-1", "dispatched", "flow run abc")
    row = ledger.inbox.get("pipedrive", "evt-1")
    assert row is not None and row.status == "dispatched" and row.subject == "pipedrive:42"
    assert len(ledger.inbox.list()) == 2


def test_cursors_and_snapshots_round_trip(ledger: Ledger) -> None:
    assert ledger.cursors.get("cdc:r") is None
    ledger.cursors.set("cdc:r", "2026-11-01T00:00:00Z")
    ledger.cursors.set("cdc:r", "2026-11-02T00:00:00Z")
    assert ledger.cursors.get("cdc:r") == "2026-11-02T00:00:00Z"

    rows = [dict(realm_id="r", invoice_id=str(i), doc_number=f"10{i}", status="open", currency="USD",
                 total=Decimal("100.00"), balance=Decimal("100.00"), amount_paid=Decimal(0),
                 due_date=date(2026, 12, 1), last_updated=datetime(2026, 11, 1, tzinfo=timezone.utc))
            for i in range(1200)]
    assert ledger.snapshots.save(rows) == 1200
    rows[5] |= {"status": "paid", "balance": Decimal(0), "amount_paid": Decimal("100.00")}
    ledger.snapshots.save([rows[5]])
    frame = ledger.snapshots.load("r")
    assert len(frame) == 1200
    some = ledger.snapshots.load("r", ["5", "6", "nope"]).set_index("invoice_id")
    assert set(some.index) == {"5", "6"}
    assert some.loc["5", "status"] == "paid" and float(some.loc["5", "balance"]) == 0.0
    snap = ledger.snapshots.get("r", "6")
    assert snap is not None and snap.total == Decimal("100.00") and snap.due_date == date(2026, 12, 1)
