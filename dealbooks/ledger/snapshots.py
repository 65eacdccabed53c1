"""Last known invoice states, loaded and saved in bulk as pandas DataFrames."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import delete, select

from dealbooks.ledger.base import Repository
from dealbooks.ledger.models import InvoiceSnapshot, utcnow

COLUMNS = [c.name for c in InvoiceSnapshot.__table__.columns]


class Snapshots(Repository):
    def load(self, realm_id: str, invoice_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Snapshots of a realm (all, or only ``invoice_ids``) as a DataFrame with ``COLUMNS``."""
        table = InvoiceSnapshot.__table__
        frames: list[pd.DataFrame] = []
        with self.engine.connect() as conn:
            if invoice_ids is None:
                frames.append(pd.read_sql(select(table).where(table.c.realm_id == realm_id), conn))
            else:
                ids = list(invoice_ids)
                for start in range(0, len(ids), 500):
                    query = select(table).where(table.c.realm_id == realm_id,
                                                table.c.invoice_id.in_(ids[start:start + 500]))
                    frames.append(pd.read_sql(query, conn))
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)

    def save(self, rows: list[dict[str, Any]]) -> int:
        """Upsert snapshot rows (dicts keyed by column names); returns how many were written."""
        if not rows:
            return 0
        now = utcnow()
        clean = [{k: row.get(k) for k in COLUMNS if k in row} | {"seen_at": now} for row in rows]
        realm_ids = {row["realm_id"] for row in clean}
        with self.session() as s:
            for realm_id in realm_ids:
                ids = [row["invoice_id"] for row in clean if row["realm_id"] == realm_id]
                for start in range(0, len(ids), 500):
                    s.execute(delete(InvoiceSnapshot).where(InvoiceSnapshot.realm_id == realm_id,
                                                            InvoiceSnapshot.invoice_id.in_(ids[start:start + 500])))
            for start in range(0, len(clean), 500):
                s.execute(InvoiceSnapshot.__table__.insert(), clean[start:start + 500])
        return len(clean)

    def get(self, realm_id: str, invoice_id: str) -> InvoiceSnapshot | None:
        with self.session() as s:
            return s.get(InvoiceSnapshot, (realm_id, invoice_id))
