"""The ledger: dealbooks' own memory (SQLite by default, PostgreSQL by URL).

    ledger = Ledger()                        # DEALBOOKS_LEDGER_URL or ~/.dealbooks/ledger.db
    ledger.links.record(crm="pipedrive", deal_id="42", realm_id=..., invoice_id=...)

Each attribute is a repository for one concern; the schema is migrated on first use.
"""

from __future__ import annotations

from sqlalchemy import Engine

from dealbooks.ledger.db import get_engine, ledger_url
from dealbooks.ledger.events import Events, NewEvent
from dealbooks.ledger.links import LinkResult, Links
from dealbooks.ledger.notifications import Notifications
from dealbooks.ledger.records import Cursors, Inbox, SyncRecords
from dealbooks.ledger.snapshots import Snapshots


class Ledger:
    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.engine = engine or get_engine(url)
        self.links = Links(self.engine)
        self.snapshots = Snapshots(self.engine)
        self.events = Events(self.engine)
        self.records = SyncRecords(self.engine)
        self.inbox = Inbox(self.engine)
        self.notifications = Notifications(self.engine)
        self.cursors = Cursors(self.engine)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)


__all__ = ["Ledger", "LinkResult", "NewEvent", "get_engine", "ledger_url"]
