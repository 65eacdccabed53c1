"""At-most-once notifications: claim ``(kind, key)`` before sending, then mark sent or failed.

A claim succeeds only for a key never claimed, or one whose earlier attempt *failed before
delivery* (the sender knows: Slack said ok:false/429, SMTP refused). A key marked sent is never
claimed again, so a rerun, a second worker or a retried task cannot send twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from dealbooks.ledger.base import Repository
from dealbooks.ledger.models import Notification, utcnow

SENDING, SENT, FAILED = "sending", "sent", "failed"


class Notifications(Repository):
    def claim(self, kind: str, key: str, detail: dict[str, Any] | None = None) -> bool:
        """True when this caller may send now; False when sent already or another sender holds it."""
        if self.insert_ignore(Notification.__table__, [dict(kind=kind, key=key, status=SENDING, attempts=1,
                                                            last_error="", detail=detail or {},
                                                            created_at=utcnow())]):
            return True
        with self.session() as s:
            result = s.execute(update(Notification)
                               .where(Notification.kind == kind, Notification.key == key,
                                      Notification.status == FAILED)
                               .values(status=SENDING, attempts=Notification.attempts + 1))
            return bool(result.rowcount)

    def mark_sent(self, kind: str, key: str, detail: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = dict(status=SENT, sent_at=utcnow(), last_error="")
        if detail is not None:
            values["detail"] = detail
        with self.session() as s:
            s.execute(update(Notification).where(Notification.kind == kind, Notification.key == key)
                      .values(**values))

    def mark_failed(self, kind: str, key: str, error: str) -> None:
        with self.session() as s:
            s.execute(update(Notification).where(Notification.kind == kind, Notification.key == key)
                      .values(status=FAILED, last_error=error[:2000]))

    def get(self, kind: str, key: str) -> Notification | None:
        with self.session() as s:
            return s.scalar(select(Notification).filter_by(kind=kind, key=key))

    def keys(self, kind: str, status: str = SENT) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(Notification.key).filter_by(kind=kind, status=status)))

    def counts(self, kind: str | None = None) -> dict[str, int]:
        query = select(Notification.status, func.count()).group_by(Notification.status)
        if kind:
            query = query.where(Notification.kind == kind)
        with self.session() as s:
            return {status: count for status, count in s.execute(query)}
