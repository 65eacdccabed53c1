"""Vectorised comparison of fetched invoices against the ledger's last snapshots (pure, no I/O).

``compare_snapshots`` merges the fetched invoices with the previous snapshots in pandas and finds
the changes with vectorised masks; only the (few) changed rows are turned into events.

Event rules:

- ``status_changed``: the status differs from the snapshot (neither side voided/deleted, which get
  their own kind). A first-seen invoice also gets one, with ``old_status=None``.
- ``payment_received``: without ``payments``, one per invoice whose ``amount_paid`` rose (amount =
  the rise, ``payment_id=None``). With ``payments`` (QBO Payment JSON of the same sync window), one
  per new (payment, invoice) application instead, from ``payment_events``; balance drops that no
  payment explains (credit memos) then show only as amount/status changes.
- ``voided`` / ``deleted``: the invoice became voided / deleted (amount = the previous total).

Only the fetched invoices are compared: an invoice missing from ``current`` is unchanged, not
deleted (the fetch is incremental; deletions arrive as CDC stubs with ``status: "Deleted"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pandas as pd

from dealbooks.domain.status import InvoiceState, parse_date, parse_timestamp, to_decimal

AMOUNT_TOLERANCE = 0.005
SNAPSHOT_COLUMNS = ("invoice_id", "status", "total", "balance", "amount_paid", "due_date", "currency",
                    "doc_number", "customer_id", "customer_name", "sync_token", "last_updated")
_AMOUNTS = ("total", "balance", "amount_paid")
_COMPARED = ("status", *_AMOUNTS, "due_date", "sync_token", "last_updated")
_CLOSED = ("voided", "deleted")


class EventKind(StrEnum):
    """Kinds of status-change events stored in the ledger's outbox."""

    STATUS_CHANGED = "status_changed"
    PAYMENT_RECEIVED = "payment_received"
    VOIDED = "voided"
    DELETED = "deleted"


@dataclass(frozen=True)
class InvoiceEvent:
    """One status-change event; ``key`` is stable across reruns for ledger dedupe."""

    kind: EventKind
    invoice_id: str
    old_status: str | None = None
    new_status: str | None = None
    amount: Decimal | None = None
    payment_id: str | None = None
    payment_date: date | None = None
    balance: Decimal | None = None
    total: Decimal | None = None
    amount_paid: Decimal | None = None
    currency: str = ""
    doc_number: str = ""
    customer_id: str = ""
    customer_name: str = ""
    sync_token: str = ""
    occurred_at: datetime | None = None

    @property
    def key(self) -> str:
        """Dedupe key, e.g. ``payment_received:130:pmt=120`` or ``voided:129``."""
        if self.kind == EventKind.PAYMENT_RECEIVED:
            ref = f"pmt={self.payment_id}" if self.payment_id else f"paid={self.amount_paid}"
            return f"{self.kind}:{self.invoice_id}:{ref}"
        if self.kind == EventKind.STATUS_CHANGED:
            stamp = self.sync_token or (self.occurred_at.isoformat() if self.occurred_at else "")
            return f"{self.kind}:{self.invoice_id}:{self.old_status}->{self.new_status}@{stamp}"
        return f"{self.kind}:{self.invoice_id}"


@dataclass(frozen=True)
class SnapshotDiff:
    """Result of ``compare_snapshots``.

    Attributes:
        changed: Fetched rows that are new or differ from their snapshot (``SNAPSHOT_COLUMNS`` plus
            ``old_status``, ``is_new``, ``needs_writeback``); store these as the new snapshots.
        events: Events in a stable order (by invoice id, then kind).
    """

    changed: pd.DataFrame
    events: list[InvoiceEvent]

    @property
    def writeback_ids(self) -> list[str]:
        """Invoice ids whose deal fields must be written back (status, amounts or due date)."""
        return self.changed.loc[self.changed["needs_writeback"], "invoice_id"].tolist()


def snapshot_frame(invoices: Iterable[InvoiceState]) -> pd.DataFrame:
    """Invoice states as a snapshot DataFrame with ``SNAPSHOT_COLUMNS`` (amounts as ``Decimal``)."""
    records = [
        (s.invoice_id, str(s.status), s.total, s.balance, s.amount_paid, s.due_date, s.currency,
         s.doc_number, s.customer_id, s.customer_name, s.sync_token, s.last_updated)
        for s in invoices
    ]
    return pd.DataFrame.from_records(records, columns=list(SNAPSHOT_COLUMNS))


def _normalise(frame: pd.DataFrame | None, required: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(columns=list(required)) if frame is None else frame
    missing = [c for c in ("invoice_id", "status") if c not in frame.columns]
    if missing and len(frame):
        raise ValueError(f"snapshot frame lacks columns {missing}")
    frame = frame.reindex(columns=list(dict.fromkeys([*required, *frame.columns])))
    frame = frame.astype({"invoice_id": str, "status": object})
    return frame.drop_duplicates("invoice_id", keep="last").reset_index(drop=True)


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _differs(cur: pd.Series, prev: pd.Series) -> pd.Series:
    """Null-aware inequality for two aligned series of comparable values."""
    return ~(cur.isna() & prev.isna()) & ~(cur == prev).fillna(False).astype(bool)


def _masks(merged: pd.DataFrame, present: set[str]) -> pd.DataFrame:
    """Change masks over the merged frame; columns absent from the snapshots are not compared."""
    is_new = merged["_merge"].eq("left_only")
    amounts = pd.Series(False, index=merged.index)
    for col in (c for c in _AMOUNTS if c in present):
        cur, prev = _num(merged[col]), _num(merged[f"{col}_prev"])
        amounts |= (cur - prev).abs().gt(AMOUNT_TOLERANCE) | cur.isna().ne(prev.isna())
    due = _differs(pd.to_datetime(merged["due_date"], errors="coerce"),
                   pd.to_datetime(merged["due_date_prev"], errors="coerce")) & ("due_date" in present)
    tokens = (merged["sync_token"].astype("string"), merged["sync_token_prev"].astype("string"))
    stamps = (pd.to_datetime(merged["last_updated"], errors="coerce", utc=True),
              pd.to_datetime(merged["last_updated_prev"], errors="coerce", utc=True))
    token = pd.Series(False, index=merged.index)
    for cur, prev in (tokens, stamps):  # compared only when both sides know them
        token |= cur.notna() & prev.notna() & _differs(cur, prev)
    status = _differs(merged["status"].astype("string"), merged["status_prev"].astype("string"))
    return pd.DataFrame({
        "is_new": is_new,
        "status_changed": ~is_new & status,
        "writeback": is_new | ~is_new & (status | amounts | due),
        "changed": is_new | ~is_new & (status | amounts | due | token),
        "paid_delta": _num(merged["amount_paid"]) - _num(merged["amount_paid_prev"]),
    })


def _value(row: dict[str, Any], key: str) -> Any:
    """``row[key]`` with pandas' missing markers (NaN, NaT, NA) as ``None``, Timestamps as datetime."""
    value = row.get(key)
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value


def _event(kind: EventKind, row: dict[str, Any], **extra: Any) -> InvoiceEvent:
    text = {k: str(_value(row, k) or "") for k in
            ("currency", "doc_number", "customer_id", "customer_name", "sync_token")}
    old = _value(row, "status_prev")
    return InvoiceEvent(
        kind=kind, invoice_id=str(row["invoice_id"]),
        old_status=None if old is None else str(old), new_status=str(row["status"]),
        balance=to_decimal(_value(row, "balance")), total=to_decimal(_value(row, "total")),
        amount_paid=to_decimal(_value(row, "amount_paid")),
        occurred_at=parse_timestamp(_value(row, "last_updated")), **text, **extra,
    )


def compare_snapshots(
    current: Iterable[InvoiceState] | pd.DataFrame,
    previous: pd.DataFrame | None,
    payments: Sequence[dict[str, Any]] | None = None,
    known_payment_ids: Iterable[str | tuple[str, str]] = (),
) -> SnapshotDiff:
    """Compare fetched invoices with their last snapshots and derive the events.

    Args:
        current: Fetched invoice states, or a frame shaped like ``snapshot_frame``'s; for a
            duplicated invoice id the last row wins.
        previous: The ledger's snapshots (at least ``invoice_id`` and ``status``; ``total``,
            ``balance``, ``amount_paid``, ``due_date``, ``sync_token``, ``last_updated`` compared
            when present). ``None`` or empty means every invoice is new.
        payments: QBO Payment JSON fetched in the same window; switches payment events to
            per-application events (see module docstring).
        known_payment_ids: Payment ids, or (payment id, invoice id) pairs, already alerted.

    Returns:
        The changed rows and the events.
    """
    cur = current if isinstance(current, pd.DataFrame) else snapshot_frame(current)
    cur = _normalise(cur, SNAPSHOT_COLUMNS)
    present = set(previous.columns) if previous is not None else set()
    prev = _normalise(previous, SNAPSHOT_COLUMNS)[list(_COMPARED) + ["invoice_id"]]
    merged = cur.merge(prev, on="invoice_id", how="left", suffixes=("", "_prev"), indicator=True)
    masks = _masks(merged, present)
    status = merged["status"].astype("string")
    old = merged["status_prev"].astype("string").fillna("")
    closed = status.isin(_CLOSED)

    first_or_changed = masks["status_changed"] | masks["is_new"]
    groups: list[tuple[EventKind, pd.Series]] = [
        (EventKind.STATUS_CHANGED, first_or_changed & ~closed & ~old.isin(_CLOSED)),
        (EventKind.VOIDED, status.eq("voided") & old.ne("voided")),
        (EventKind.DELETED, status.eq("deleted") & old.ne("deleted")),
    ]
    if payments is None:
        groups.append((EventKind.PAYMENT_RECEIVED,
                       ~masks["is_new"] & ~closed & masks["paid_delta"].gt(AMOUNT_TOLERANCE)))

    events: list[InvoiceEvent] = []
    for kind, mask in groups:
        for row in merged.loc[mask.fillna(False).astype(bool)].to_dict("records"):
            if kind == EventKind.PAYMENT_RECEIVED:
                amount = to_decimal(row["amount_paid"]) - to_decimal(_value(row, "amount_paid_prev"))
            else:  # voided / deleted: what was billed before; status changes carry no amount
                before = _value(row, "total_prev") if kind != EventKind.STATUS_CHANGED else None
                amount = None if before is None else to_decimal(before)
            events.append(_event(kind, row, amount=amount))
    if payments is not None:
        events.extend(_enrich(payment_events(payments, known_payment_ids), merged))
    events.sort(key=lambda e: (e.invoice_id, list(EventKind).index(e.kind), e.payment_id or ""))

    changed = merged.loc[masks["changed"], list(SNAPSHOT_COLUMNS)].copy()
    changed["old_status"] = merged.loc[masks["changed"], "status_prev"]
    changed["is_new"] = masks.loc[masks["changed"], "is_new"]
    changed["needs_writeback"] = masks.loc[masks["changed"], "writeback"]
    return SnapshotDiff(changed=changed.reset_index(drop=True), events=events)


def _enrich(events: list[InvoiceEvent], merged: pd.DataFrame) -> list[InvoiceEvent]:
    """Add the invoice's state (status, balance, number) to payment events where it was fetched."""
    ids = {e.invoice_id for e in events}
    rows = merged.loc[merged["invoice_id"].isin(ids)].set_index("invoice_id").to_dict("index")
    enriched = []
    for e in events:
        row = rows.get(e.invoice_id)
        base = e if row is None else _event(e.kind, {**row, "invoice_id": e.invoice_id})
        enriched.append(replace(base, amount=e.amount, payment_id=e.payment_id,
                                payment_date=e.payment_date, currency=base.currency or e.currency,
                                customer_id=base.customer_id or e.customer_id,
                                customer_name=base.customer_name or e.customer_name))
    return enriched


def payment_events(
    payments: Sequence[dict[str, Any]],
    known_payment_ids: Iterable[str | tuple[str, str]] = (),
) -> list[InvoiceEvent]:
    """One ``payment_received`` event per new (payment id, invoice id) application.

    Lines linking the same payment to the same invoice are summed; lines without an Invoice link
    (unapplied amounts, credit memos) and zero amounts (voided payments) are skipped, as are CDC
    deletion stubs. A payment listed twice counts once (its last version).

    Args:
        payments: QBO Payment JSON, bare or wrapped as ``{"Payment": {...}}``.
        known_payment_ids: Payment ids, or (payment id, invoice id) pairs, already alerted.

    Returns:
        Events carrying the payment id, amount, date, currency and customer.
    """
    known = set(known_payment_ids)
    latest = {}
    for payment in payments:
        raw = payment["Payment"] if isinstance(payment.get("Payment"), dict) else payment
        latest[str(raw.get("Id", ""))] = raw
    events = []
    for pid, raw in latest.items():
        if str(raw.get("status", "")).lower() == "deleted" or pid in known:
            continue
        applied: dict[str, Decimal] = {}
        for line in raw.get("Line") or []:
            links = [t for t in line.get("LinkedTxn") or [] if t.get("TxnType") == "Invoice"]
            if links:  # a QBO payment line applies to one invoice; extra links are ignored
                invoice_id = str(links[0].get("TxnId"))
                amount = to_decimal(line.get("Amount"))
                applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + amount
        customer = raw.get("CustomerRef") or {}
        for invoice_id, amount in applied.items():
            if amount > 0 and (pid, invoice_id) not in known:
                events.append(InvoiceEvent(
                    kind=EventKind.PAYMENT_RECEIVED, invoice_id=invoice_id, payment_id=pid,
                    amount=amount, payment_date=parse_date(raw.get("TxnDate")),
                    currency=str((raw.get("CurrencyRef") or {}).get("value") or ""),
                    customer_id=str(customer.get("value") or ""),
                    customer_name=str(customer.get("name") or ""),
                    occurred_at=parse_timestamp((raw.get("MetaData") or {}).get("LastUpdatedTime")),
                ))
    return events
