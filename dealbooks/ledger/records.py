"""Per-record outcomes (synced / excluded / failed), the webhook inbox and sync cursors."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select, update

from dealbooks.ledger.base import Repository
from dealbooks.ledger.models import SyncCursor, SyncRecord, WebhookDelivery, utcnow

Outcome = Literal["synced", "excluded", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("synced", "excluded", "failed")


class SyncRecords(Repository):
    def record(self, run_kind: str, record_type: str, record_key: str, outcome: Outcome, *,
               category: str = "", message: str = "", flow_run_id: str = "") -> None:
        """Store the latest outcome of one record; ``attempts`` counts every recording."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.record_many(run_kind, record_type, [(record_key, outcome, category, message)], flow_run_id)

    def record_many(self, run_kind: str, record_type: str,
                    outcomes: list[tuple[str, Outcome, str, str]], flow_run_id: str = "") -> None:
        """Bulk form of ``record``: ``(record_key, outcome, category, message)`` tuples."""
        if not outcomes:
            return
        now = utcnow()
        rows = [dict(run_kind=run_kind, record_type=record_type, record_key=key, outcome=outcome,
                     category=category, message=message[:4000], attempts=0, flow_run_id=flow_run_id,
                     first_seen_at=now, updated_at=now) for key, outcome, category, message in outcomes]
        self.insert_ignore(SyncRecord.__table__, rows)
        with self.session() as s:
            for key, outcome, category, message in outcomes:
                s.execute(update(SyncRecord)
                          .where(SyncRecord.run_kind == run_kind, SyncRecord.record_key == key)
                          .values(outcome=outcome, category=category, message=message[:4000],
                                  attempts=SyncRecord.attempts + 1, flow_run_id=flow_run_id,
                                  updated_at=now))

    def begin(self, run_kind: str, record_type: str, record_key: str, *, message: str, flow_run_id: str = "") -> bool:
        """Note that work on a record that has no outcome yet is starting: a ``failed``/``interrupted``
        row (0 attempts) stays behind if the process dies before ``record``. Returns whether it was new."""
        now = utcnow()
        return bool(self.insert_ignore(SyncRecord.__table__, [dict(
            run_kind=run_kind, record_type=record_type, record_key=record_key, outcome="failed",
            category="interrupted", message=message[:4000], attempts=0, flow_run_id=flow_run_id,
            first_seen_at=now, updated_at=now)]))

    def get(self, run_kind: str, record_key: str) -> SyncRecord | None:
        with self.session() as s:
            return s.scalar(select(SyncRecord).filter_by(run_kind=run_kind, record_key=record_key))

    def failed(self, run_kind: str | None = None, limit: int = 1000) -> list[SyncRecord]:
        query = select(SyncRecord).filter_by(outcome="failed").order_by(SyncRecord.updated_at.desc())
        if run_kind:
            query = query.filter_by(run_kind=run_kind)
        with self.session() as s:
            return list(s.scalars(query.limit(limit)))

    def counts(self, run_kind: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``{run_kind, outcome, category, count}`` for the sync-health table."""
        query = (select(SyncRecord.run_kind, SyncRecord.outcome, SyncRecord.category, func.count())
                 .group_by(SyncRecord.run_kind, SyncRecord.outcome, SyncRecord.category)
                 .order_by(SyncRecord.run_kind, SyncRecord.outcome, SyncRecord.category))
        if run_kind:
            query = query.where(SyncRecord.run_kind == run_kind)
        with self.session() as s:
            return [dict(run_kind=r, outcome=o, category=c, count=n) for r, o, c, n in s.execute(query)]


class Inbox(Repository):
    def record(self, source: str, event_id: str, payload: dict[str, Any], subject: str = "") -> bool:
        """Store a delivery; False when this sender event was received before (a duplicate)."""
        return bool(self.insert_ignore(WebhookDelivery.__table__, [dict(
            source=source, event_id=event_id, status="received", subject=subject, detail="",
            payload=payload, received_at=utcnow())]))

    def mark(self, source: str, event_id: str, status: str, detail: str = "") -> None:
        with self.session() as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.source == source,
                                                    WebhookDelivery.event_id == event_id)
                      .values(status=status, detail=detail[:4000]))

    def get(self, source: str, event_id: str) -> WebhookDelivery | None:
        with self.session() as s:
            return s.scalar(select(WebhookDelivery).filter_by(source=source, event_id=event_id))

    def list(self, source: str | None = None, limit: int = 1000) -> list[WebhookDelivery]:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
        if source:
            query = query.filter_by(source=source)
        with self.session() as s:
            return list(s.scalars(query))


class Cursors(Repository):
    def get(self, name: str) -> str | None:
        with self.session() as s:
            row = s.get(SyncCursor, name)
            return row.value if row else None

    def set(self, name: str, value: str) -> None:
        if self.insert_ignore(SyncCursor.__table__, [dict(name=name, value=value, updated_at=utcnow())]):
            return
        with self.session() as s:
            s.execute(update(SyncCursor).where(SyncCursor.name == name)
                      .values(value=value, updated_at=utcnow()))
