"""Status-change and payment events: appended once per dedupe key, read by notifications."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from dealbooks.ledger.base import Repository
from dealbooks.ledger.models import InvoiceEvent, utcnow


@dataclass(frozen=True)
class NewEvent:
    """An event to append. ``dedupe_key`` makes a rerun of the same sync append nothing."""

    dedupe_key: str
    kind: str
    realm_id: str
    invoice_id: str
    old_status: str = ""
    new_status: str = ""
    payment_id: str = ""
    amount: Decimal | None = None
    occurred_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class Events(Repository):
    def append(self, events: Iterable[NewEvent]) -> int:
        """Append events, skipping those already recorded; returns how many were new."""
        rows = [
            dict(dedupe_key=e.dedupe_key, kind=e.kind, realm_id=e.realm_id, invoice_id=e.invoice_id,
                 old_status=e.old_status, new_status=e.new_status, payment_id=e.payment_id,
                 amount=e.amount, occurred_at=e.occurred_at or utcnow(), created_at=utcnow(),
                 payload=e.payload)
            for e in events
        ]
        return self.insert_ignore(InvoiceEvent.__table__, rows)

    def list(self, kind: str | None = None, *, after_id: int = 0, limit: int = 10_000,
             invoice_ids: list[str] | None = None) -> list[InvoiceEvent]:
        """Events in append order, optionally of one kind and after a known id."""
        query = select(InvoiceEvent).where(InvoiceEvent.id > after_id).order_by(InvoiceEvent.id).limit(limit)
        if kind:
            query = query.where(InvoiceEvent.kind == kind)
        if invoice_ids is not None:
            query = query.where(InvoiceEvent.invoice_id.in_(invoice_ids))
        with self.session() as s:
            return list(s.scalars(query))
