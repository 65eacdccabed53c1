"""Status sync steps: turn fetched QBO objects into states, events and snapshots in the ledger.

``detect_changes`` is the whole compare step, in bulk: derive every fetched invoice's state, add
invoices that became overdue since the last sync (a due date passing changes nothing in QBO, so
they come from the ledger's snapshots), compare against the snapshots in pandas
(``compare_snapshots``), append the events (deduplicated by key) and save the changed snapshots.

Payments on the first sight of an invoice (the baseline): an invoice the ledger has never seen
brings its whole payment history along. Those payments are treated as already known — no event,
no alert — unless the invoice is linked to a deal and the payment was created after the link
(a deal's invoice paid before the first sync still alerts; years of history do not). Once an
invoice has a snapshot, every payment applied to it is new.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import select

from dealbooks.domain.snapshot_rows import snapshot_row, state_from_row
from dealbooks.domain.snapshots import EventKind, InvoiceEvent, compare_snapshots
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state, parse_timestamp
from dealbooks.ledger import Ledger, NewEvent
from dealbooks.ledger.models import DealInvoiceLink, InvoiceSnapshot
from dealbooks.tasks.sync_fetch import Fetched

log = logging.getLogger("dealbooks.sync")
RUN_KIND = "status_sync"
LIVE = (InvoiceStatus.OPEN.value, InvoiceStatus.SENT.value, InvoiceStatus.PARTIALLY_PAID.value)


@dataclass
class SyncChanges:
    """The result of the compare step.

    Attributes:
        realm_id: The QBO company.
        today: The company-local day the states were derived for.
        states: Current state of every changed invoice, by id.
        changed_ids: Invoices whose snapshot changed (new, status, amounts, due date, SyncToken).
        writeback_ids: Invoices whose deal must be written back (status, amounts or due date).
        events: The events of this sync (new ones and ones already in the ledger alike).
        appended: How many events were new to the ledger.
        overdue_ids: Invoices that became overdue by the calendar alone.
    """

    realm_id: str
    today: date
    states: dict[str, InvoiceState] = field(default_factory=dict)
    changed_ids: list[str] = field(default_factory=list)
    writeback_ids: list[str] = field(default_factory=list)
    events: list[InvoiceEvent] = field(default_factory=list)
    appended: int = 0
    overdue_ids: list[str] = field(default_factory=list)


def newly_overdue(ledger: Ledger, realm_id: str, today: date, exclude: set[str]) -> list[InvoiceState]:
    """Snapshots of live invoices with a balance whose due date has passed by ``today``."""
    table = InvoiceSnapshot.__table__
    query = select(table).where(table.c.realm_id == realm_id, table.c.status.in_(LIVE), table.c.balance > 0,
                                table.c.due_date < today)
    with ledger.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return [state_from_row(row, today) for row in rows if str(row["invoice_id"]) not in exclude]


def _deleted_states(previous: pd.DataFrame, listed: set[str]) -> list[InvoiceState]:
    """Known invoices missing from a complete listing: deleted in QBO."""
    gone = previous.loc[~previous["invoice_id"].astype(str).isin(listed)
                        & previous["status"].ne(InvoiceStatus.DELETED.value)]
    return [InvoiceState(invoice_id=str(r["invoice_id"]), status=InvoiceStatus.DELETED,
                         sync_token=str(r.get("sync_token") or "")) for r in gone.to_dict("records")]


def _keep_known_details(state: InvoiceState, prev: dict[str, Any] | None) -> InvoiceState:
    """A deletion stub keeps the number/customer the ledger knew; CDC rows keep the pay link."""
    if prev is None:
        return state
    if state.status == InvoiceStatus.DELETED:
        return replace(state, doc_number=state.doc_number or str(prev.get("doc_number") or ""),
                       customer_id=state.customer_id or str(prev.get("customer_id") or ""),
                       customer_name=state.customer_name or str(prev.get("customer_name") or ""),
                       currency=state.currency or str(prev.get("currency") or ""),
                       txn_date=state.txn_date or prev.get("txn_date"))
    if not state.invoice_link and prev.get("invoice_link"):
        return replace(state, invoice_link=str(prev["invoice_link"]))
    return state


def known_payments(ledger: Ledger, realm_id: str, payments: list[dict[str, Any]], seen: set[str],
                   links: dict[str, DealInvoiceLink]) -> set[tuple[str, str]]:
    """(payment id, invoice id) applications not to turn into events (see the module docstring)."""
    known: set[tuple[str, str]] = set()
    for payment in payments:
        raw = payment.get("Payment") if isinstance(payment.get("Payment"), dict) else payment
        created = parse_timestamp((raw.get("MetaData") or {}).get("CreateTime"))
        for line in raw.get("Line") or []:
            for txn in line.get("LinkedTxn") or []:
                if txn.get("TxnType") != "Invoice":
                    continue
                invoice_id = str(txn.get("TxnId"))
                if invoice_id in seen:
                    continue
                link = links.get(invoice_id)
                linked_at = _aware(link.created_at) if link is not None else None
                if linked_at is None or (created is not None and created < linked_at):
                    known.add((str(raw.get("Id")), invoice_id))
    return known


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _balances_after(events: list[InvoiceEvent], states: dict[str, InvoiceState]) -> dict[str, Decimal]:
    """Each payment event's remaining balance right after that payment (several in one sync)."""
    out: dict[str, Decimal] = {}
    by_invoice: dict[str, list[InvoiceEvent]] = defaultdict(list)
    for e in events:
        if e.kind == EventKind.PAYMENT_RECEIVED:
            by_invoice[e.invoice_id].append(e)
    for invoice_id, group in by_invoice.items():
        state = states.get(invoice_id)
        balance = state.balance if state is not None else (group[-1].balance or Decimal(0))
        ordered = sorted(group, key=lambda e: (e.payment_date or date.min,
                                               e.occurred_at or datetime.min.replace(tzinfo=UTC), e.payment_id or ""))
        later = Decimal(0)
        for e in reversed(ordered):
            out[e.key] = balance + later
            later += e.amount or Decimal(0)
    return out


def ledger_event(realm_id: str, e: InvoiceEvent, balance_after: Decimal | None, invoice_url: str) -> NewEvent:
    """The ledger row of a domain event; the payload carries what notes and alerts show."""
    payload = {"doc_number": e.doc_number, "customer_id": e.customer_id, "customer_name": e.customer_name,
               "currency": e.currency, "total": str(e.total or 0), "balance": str(e.balance or 0),
               "amount_paid": str(e.amount_paid or 0), "invoice_url": invoice_url,
               "payment_date": e.payment_date.isoformat() if e.payment_date else "",
               "balance_after": str(balance_after if balance_after is not None else (e.balance or 0))}
    return NewEvent(dedupe_key=e.key, kind=str(e.kind), realm_id=realm_id, invoice_id=e.invoice_id,
                    old_status=e.old_status or "", new_status=e.new_status or "", payment_id=e.payment_id or "",
                    amount=e.amount, occurred_at=e.occurred_at, payload=payload)


def detect_changes(ledger: Ledger, realm_id: str, fetched: Fetched, today: date, url_template: str) -> SyncChanges:
    """Compare the fetched invoices (and newly overdue ones) with the snapshots; store events and snapshots.

    Args:
        ledger: The ledger.
        realm_id: The QBO company.
        fetched: What ``fetch_changes`` returned.
        today: The company-local day (overdue is decided against it).
        url_template: The invoice's app URL with ``{id}`` (used when QBO gave no pay link).

    Returns:
        The changes, for the write-back step.
    """
    fetched_states = {s.invoice_id: s for s in (invoice_state(raw, today) for raw in fetched.invoices)}
    previous = ledger.snapshots.load(realm_id, None if fetched.complete else list(fetched_states))
    if fetched.complete and not previous.empty:
        for state in _deleted_states(previous, set(fetched_states)):
            fetched_states[state.invoice_id] = state
    overdue = newly_overdue(ledger, realm_id, today, exclude=set(fetched_states))
    if overdue and not fetched.complete:
        extra = ledger.snapshots.load(realm_id, [s.invoice_id for s in overdue])
        previous = pd.concat([previous, extra], ignore_index=True) if not previous.empty else extra
    prev_rows = {str(r["invoice_id"]): r for r in previous.to_dict("records")} if not previous.empty else {}
    states = {i: _keep_known_details(s, prev_rows.get(i)) for i, s in fetched_states.items()}
    states.update({s.invoice_id: s for s in overdue})

    invoice_ids = sorted({str(tx["TxnId"]) for p in fetched.payments for line in (p.get("Line") or [])
                          for tx in (line.get("LinkedTxn") or []) if tx.get("TxnType") == "Invoice" and tx.get("TxnId")})
    links = ledger.links.for_invoices(realm_id, invoice_ids) if invoice_ids else {}
    known = known_payments(ledger, realm_id, fetched.payments, set(prev_rows), links)
    if fetched.payments:
        pids = sorted({str(p.get("Id")) for p in fetched.payments})
        known |= {(e.payment_id, e.invoice_id) for e in ledger.events.list(EventKind.PAYMENT_RECEIVED.value,
                                                                            invoice_ids=invoice_ids)
                  if e.payment_id in pids and e.realm_id == realm_id}
    diff = compare_snapshots(list(states.values()), previous if not previous.empty else None,
                             payments=fetched.payments, known_payment_ids=known)

    changed_ids = [str(i) for i in diff.changed["invoice_id"].tolist()]
    balances = _balances_after(diff.events, states)
    rows = [ledger_event(realm_id, e, balances.get(e.key), _url(states.get(e.invoice_id), e.invoice_id, url_template))
            for e in diff.events]
    appended = ledger.events.append(rows)
    ledger.snapshots.save([snapshot_row(realm_id, states[i]) for i in changed_ids if i in states])
    log.info("compared %d invoices (%d newly overdue): %d changed, %d events (%d new)",
             len(states), len(overdue), len(changed_ids), len(diff.events), appended)
    return SyncChanges(realm_id=realm_id, today=today, states={i: states[i] for i in changed_ids if i in states},
                       changed_ids=changed_ids, writeback_ids=[str(i) for i in diff.writeback_ids],
                       events=diff.events, appended=appended, overdue_ids=[s.invoice_id for s in overdue])


def _url(state: InvoiceState | None, invoice_id: str, template: str) -> str:
    if state is not None and state.invoice_link:
        return state.invoice_link
    return template.format(id=invoice_id) if template else ""


def record_invoice_outcomes(ledger: Ledger, realm_id: str, outcomes: dict[str, tuple[str, str, str]],
                            flow_run_id: str = "") -> None:
    """Store each invoice's outcome: ``{invoice id: (outcome, category, message)}``."""
    rows = [(f"{realm_id}:{invoice_id}", outcome, category, message)
            for invoice_id, (outcome, category, message) in outcomes.items()]
    ledger.records.record_many(RUN_KIND, "invoice", rows, flow_run_id)  # type: ignore[arg-type]


def failed_invoice_ids(ledger: Ledger, realm_id: str) -> list[str]:
    """Invoices whose last sync failed (their deals are written back again)."""
    prefix = f"{realm_id}:"
    return [r.record_key[len(prefix):] for r in ledger.records.failed(RUN_KIND, limit=100_000)
            if r.record_key.startswith(prefix)]


def health_rows(ledger: Ledger, run_counts: dict[tuple[str, str, str], int] | None = None,
                run_kinds: tuple[str, ...] = (RUN_KIND, "payment_alerts")) -> list[dict[str, Any]]:
    """Sync health: records by run kind, outcome and error category (ledger totals; this run's too)."""
    run_counts = run_counts or {}
    rows = []
    seen = set()
    for row in ledger.records.counts():
        if row["run_kind"] not in run_kinds:
            continue
        key = (row["run_kind"], row["outcome"], row["category"])
        seen.add(key)
        rows.append({"run": row["run_kind"], "outcome": row["outcome"], "category": row["category"] or "-",
                     "records": row["count"], "this run": run_counts.get(key, 0)})
    for key, count in run_counts.items():
        if key not in seen:
            rows.append({"run": key[0], "outcome": key[1], "category": key[2] or "-", "records": 0, "this run": count})
    return rows
