"""Alembic migrations run in-process: ``upgrade(engine)`` brings any ledger to head.

Two processes starting at once on a fresh database must not both create tables: the upgrade runs
under a PostgreSQL advisory lock, or a file lock next to the SQLite file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6465616C  # "deal"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the ledger has no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate to head unless already there (cheap check first, lock only when needed)."""
    if current_revision(engine) == head_revision():
        return
    with _migration_lock(engine), engine.begin() as conn:
        command.upgrade(_config(conn), "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    lock_path = f"{database}.migrate.lock" if database and database != ":memory:" else None
    if lock_path is None:
        yield
        return
    with FileLock(lock_path, timeout=60):
        yield
