"""The fault matrix at small N: exactly one invoice per won deal through every fault, every deal
linked and written back, every payment alerted once, nothing left failed (``bench/faultmatrix.py``;
``make bench`` runs the same scenario over 1,000 deals)."""

from __future__ import annotations

from typing import Any

from bench import faultmatrix
from bench.faultmatrix import Matrix

N = 40


def test_won_deals_survive_every_fault_exactly_once(configured: Any) -> None:
    m = Matrix(configured.sandbox, dict(configured.blocks), configured.ledger_url)
    faultmatrix.create_deals(m, N)

    dispatched = faultmatrix.webhooks(m)
    hooks = m.report["webhooks"]
    assert sorted(dispatched) == sorted(m.deals), "each won deal dispatched once, stale/duplicate events not"
    assert set(hooks["statuses"]) == {200}, hooks

    faultmatrix.killed_worker(m, dispatched[: N // 2], kill_after_links=N // 8)
    assert m.report["killed"]["killed"], m.report["killed"]
    faultmatrix.two_workers(m, dispatched)
    assert m.report["faults"]["worker_errors"] == [], m.report["faults"]
    faultmatrix.rerun(m)
    paid = faultmatrix.payments(m)
    facts = faultmatrix.check(m, paid)

    assert facts["qbo_invoices"] == N and facts["deals_with_one_invoice"] == N, (facts, m.report)
    assert facts["duplicates"] == 0 and facts["unexpected_invoices"] == 0
    assert facts["linked"] == N and facts["synced_records"] == N and facts["failed_records"] == 0, m.report
    assert facts["deals_written_back"] == N, m.report
    assert facts["slack_alerts"] == paid and facts["duplicate_alerts"] == 0, m.report
