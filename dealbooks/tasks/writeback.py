"""Write-back of invoice status to deals: one roll-up per deal across all its invoices, plus notes.

Only deals with a changed invoice (or whose last write-back failed) are written. Each deal's fields
come from ``rollup_deal`` over every invoice linked to it: the changed ones from this sync, the
others from the ledger's snapshots (overdue re-derived for the day), any never seen from QBO in
one batched query. HubSpot writes in batches of 100, Pipedrive one PATCH per deal within its rate
limit (both inside ``CrmClient.write_invoice_fields``); one deal's failure never stops the others.

A timeline note goes on the deal for each status change, payment, void or delete — at most once
per deal and event (``ledger.notifications`` with kind ``deal_note``), so a rerun adds nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html import escape
from typing import Any

from dealbooks.clients.crm import CrmClient
from dealbooks.clients.qbo_transport import quote
from dealbooks.domain.deal import DealInvoiceFields
from dealbooks.domain.rollup import rollup_deal
from dealbooks.domain.snapshot_rows import snapshot_row, state_from_row
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state, parse_date, to_decimal
from dealbooks.ledger import Ledger
from dealbooks.ledger.models import DealInvoiceLink
from dealbooks.notifications.money import format_money

log = logging.getLogger("dealbooks.sync")
NOTE_KIND = "deal_note"
NOTED_KINDS = ("status_changed", "payment_received", "voided", "deleted")
DealKey = tuple[str, str]


@dataclass(frozen=True)
class NoteItem:
    """One event worth a note on the deal's timeline."""

    key: str
    kind: str
    invoice_id: str
    old_status: str
    new_status: str
    amount: Decimal | None
    doc_number: str
    currency: str
    balance: Decimal
    total: Decimal
    payment_date: str = ""


@dataclass
class DealResult:
    """One deal's write-back outcome."""

    crm: str
    deal_id: str
    outcome: str  # synced | failed
    category: str = ""
    message: str = ""
    invoice_ids: list[str] = field(default_factory=list)
    fields: DealInvoiceFields | None = None
    notes: int = 0

    @property
    def key(self) -> str:
        return f"{self.crm}:{self.deal_id}"


def note_items(events: Iterable[Any]) -> list[NoteItem]:
    """Note-worthy events (domain ``InvoiceEvent`` or ledger rows); first sightings are skipped."""
    items = []
    for e in events:
        kind = str(e.kind)
        old = e.old_status or ""
        if kind not in NOTED_KINDS or (kind == "status_changed" and not old):
            continue
        payload = getattr(e, "payload", None) or {}
        key = getattr(e, "dedupe_key", None) or e.key
        items.append(NoteItem(
            key=key, kind=kind, invoice_id=e.invoice_id, old_status=old, new_status=e.new_status or "",
            amount=to_decimal(e.amount) if e.amount is not None else None,
            doc_number=payload.get("doc_number", getattr(e, "doc_number", "")) or e.invoice_id,
            currency=payload.get("currency", getattr(e, "currency", "")) or "USD",
            balance=to_decimal(payload.get("balance_after") or payload.get("balance", getattr(e, "balance", 0))),
            total=to_decimal(payload.get("total", getattr(e, "total", 0))),
            payment_date=str(payload.get("payment_date") or (getattr(e, "payment_date", None) or ""))))
    return items


def _label(status: str) -> str:
    return status.replace("_", " ").capitalize() if status else "-"


def note_html(item: NoteItem) -> str:
    """The note's content (simple HTML, every value escaped)."""
    number = escape(item.doc_number)
    money = lambda value: escape(format_money(value, item.currency))  # noqa: E731
    if item.kind == "payment_received":
        when = f" on {escape(item.payment_date)}" if item.payment_date else ""
        return (f"<b>Payment received</b> on invoice {number}: {money(item.amount or 0)}{when}. "
                f"Remaining balance {money(item.balance)}.")
    if item.kind == "voided":
        return f"<b>Invoice {number} voided</b> in QuickBooks (was {money(item.amount or 0)})."
    if item.kind == "deleted":
        return f"<b>Invoice {number} deleted</b> in QuickBooks."
    return (f"<b>Invoice {number}</b> is now <b>{escape(_label(item.new_status))}</b> "
            f"(was {escape(_label(item.old_status))}). Balance {money(item.balance)} of {money(item.total)}.")


def deals_of(ledger: Ledger, realm_id: str, invoice_ids: list[str]) -> dict[DealKey, list[DealInvoiceLink]]:
    """Every link of every deal that one of ``invoice_ids`` belongs to, grouped by deal."""
    if not invoice_ids:
        return {}
    links = ledger.links.for_invoices(realm_id, invoice_ids)
    keys = sorted({(link.crm, link.deal_id) for link in links.values()})
    grouped: dict[DealKey, list[DealInvoiceLink]] = defaultdict(list)
    for link in ledger.links.for_deals(keys) if keys else []:
        if link.realm_id == realm_id:
            grouped[(link.crm, link.deal_id)].append(link)
    return dict(grouped)


def deal_invoice_states(ledger: Ledger, qbo: Any, realm_id: str, invoice_ids: set[str],
                        current: dict[str, InvoiceState], today: date) -> dict[str, InvoiceState]:
    """States of ``invoice_ids``: this sync's, else the snapshots', else read from QBO (and snapshotted)."""
    states = {i: current[i] for i in invoice_ids if i in current}
    wanted = sorted(invoice_ids - set(states))
    if wanted:
        frame = ledger.snapshots.load(realm_id, wanted)
        for row in frame.to_dict("records"):
            states[str(row["invoice_id"])] = state_from_row(row, today)
    missing = sorted(invoice_ids - set(states))
    fresh: list[InvoiceState] = []
    for start in range(0, len(missing), 100):
        values = ", ".join(quote(i) for i in missing[start:start + 100])
        fresh += [invoice_state(raw, today) for raw in qbo.query_all(f"SELECT * FROM Invoice WHERE Id IN ({values})")]
    if fresh:
        ledger.snapshots.save([snapshot_row(realm_id, s) for s in fresh])
    states.update({s.invoice_id: s for s in fresh})
    for invoice_id in missing:  # not in QBO any more: deleted before dealbooks ever saw it
        states.setdefault(invoice_id, InvoiceState(invoice_id=invoice_id, status=InvoiceStatus.DELETED))
    return states


def payment_dates(ledger: Ledger, realm_id: str, invoice_ids: list[str]) -> dict[str, date]:
    """Latest payment date per invoice, from the ledger's payment events."""
    latest: dict[str, date] = {}
    for e in ledger.events.list("payment_received", invoice_ids=invoice_ids, limit=1_000_000):
        paid_on = parse_date((e.payload or {}).get("payment_date")) or (e.occurred_at.date() if e.occurred_at else None)
        if e.realm_id == realm_id and paid_on and (e.invoice_id not in latest or paid_on > latest[e.invoice_id]):
            latest[e.invoice_id] = paid_on
    return latest


def write_back_deals(*, ledger: Ledger, qbo: Any, crm_for: Callable[[str], CrmClient], realm_id: str,
                     deals: dict[DealKey, list[DealInvoiceLink]], current: dict[str, InvoiceState], today: date,
                     url_template: str, notes: dict[DealKey, list[NoteItem]]) -> list[DealResult]:
    """Roll up and write every deal in ``deals``; add its notes. Never raises for one deal or one CRM."""
    all_ids = {link.invoice_id for links in deals.values() for link in links}
    states = deal_invoice_states(ledger, qbo, realm_id, all_ids, current, today)
    paid_on = payment_dates(ledger, realm_id, sorted(all_ids))
    results: list[DealResult] = []
    by_crm: dict[str, list[DealKey]] = defaultdict(list)
    for key in sorted(deals):
        by_crm[key[0]].append(key)
    for crm_name, keys in by_crm.items():
        fields: dict[str, DealInvoiceFields] = {}
        for key in keys:
            links = deals[key]
            primary = next((link.invoice_id for link in links if link.purpose == "won"), None)
            fields[key[1]] = rollup_deal([states[link.invoice_id] for link in links], payment_dates=paid_on,
                                         primary_invoice_id=primary, url_template=url_template)
        errors = _write(crm_for, crm_name, fields)
        crm = None if any(isinstance(errors.get(k[1]), _Unavailable) for k in keys) else crm_for(crm_name)
        crm_results: list[DealResult] = []
        for key in keys:
            error = errors.get(key[1])
            ids = [link.invoice_id for link in deals[key]]
            if isinstance(error, _Unavailable):
                error = error.cause
            if error is not None:
                crm_results.append(DealResult(crm_name, key[1], "failed", getattr(error, "category", "internal"),
                                              _message(error), ids, fields[key[1]]))
            else:
                crm_results.append(DealResult(crm_name, key[1], "synced", invoice_ids=ids, fields=fields[key[1]]))
        written = [(r.deal_id, item) for r in crm_results if r.outcome == "synced"
                   for item in notes.get((crm_name, r.deal_id), [])]
        added = _add_notes(ledger, crm, crm_name, written) if crm is not None else {}
        for result in crm_results:
            result.notes = added.get(result.deal_id, 0)
        results += crm_results
    return results


class _Unavailable(Exception):
    """The CRM could not be used at all (no block, auth refused): every deal of it fails."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _write(crm_for: Callable[[str], CrmClient], crm_name: str,
           fields: dict[str, DealInvoiceFields]) -> dict[str, Exception | None]:
    try:
        crm = crm_for(crm_name)
        crm.ensure_invoice_fields()
        return crm.write_invoice_fields(fields)
    except Exception as exc:  # one CRM down never stops the other CRM's deals
        log.warning("%s write-back failed for %d deals: %s", crm_name, len(fields), _message(exc))
        return {deal_id: _Unavailable(exc) for deal_id in fields}


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text[:1000]


def _add_notes(ledger: Ledger, crm: CrmClient, crm_name: str, items: list[tuple[str, NoteItem]]) -> dict[str, int]:
    """Each note at most once (claimed in the ledger first), sent in one ``add_notes`` call; notes
    added per deal. A failed note is recorded and retried with the deal's next change."""
    claimed = [(deal_id, item, f"{crm_name}:{deal_id}:{item.key}"[:200]) for deal_id, item in items]
    claimed = [c for c in claimed if ledger.notifications.claim(NOTE_KIND, c[2])]
    if not claimed:
        return {}
    try:
        replies: list[str | Exception] = list(crm.add_notes([(deal_id, note_html(item)) for deal_id, item, _ in claimed]))
    except Exception as exc:  # the fields are written; the notes are retried with the deals' next change
        replies = [exc] * len(claimed)
    added: dict[str, int] = defaultdict(int)
    for (deal_id, _item, key), reply in zip(claimed, replies, strict=True):
        if isinstance(reply, Exception):
            ledger.notifications.mark_failed(NOTE_KIND, key, _message(reply))
            log.warning("note on %s:%s failed: %s", crm_name, deal_id, _message(reply))
            continue
        ledger.notifications.mark_sent(NOTE_KIND, key, {"note_id": str(reply)})
        added[deal_id] += 1
    return dict(added)
