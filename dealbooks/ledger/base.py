"""What every ledger repository shares: the engine, sessions, and insert-if-absent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker


CHUNK = 500  # rows per INSERT: well under SQLite's bound-parameter limit


class Repository:
    """Base of the ledger repositories; each one owns one concern (links, events, ...)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def insert_ignore(self, table: Table, rows: list[dict[str, Any]]) -> int:
        """Insert rows, silently skipping those that collide on any unique constraint; returns rows inserted."""
        if not rows:
            return 0
        builder = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        inserted = 0
        with self.engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start:start + CHUNK]
                statement = (builder(table).values(chunk).on_conflict_do_nothing()
                             .returning(*table.primary_key.columns))
                inserted += len(conn.execute(statement).all())
        return inserted
