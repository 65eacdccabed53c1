"""Ledger connection: one SQLAlchemy engine per URL, migrated to head on first use."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

DEFAULT_LEDGER_PATH = Path.home() / ".dealbooks" / "ledger.db"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def ledger_url() -> str:
    """``DEALBOOKS_LEDGER_URL`` or a SQLite file under ``~/.dealbooks``."""
    url = os.environ.get("DEALBOOKS_LEDGER_URL")
    if url:
        return url
    DEFAULT_LEDGER_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_LEDGER_PATH}"


def get_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """The engine for ``url`` (default ``ledger_url()``), upgraded to the latest migration once."""
    url = url or ledger_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            if migrate:
                from dealbooks.ledger.migrate import upgrade

                upgrade(engine)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
