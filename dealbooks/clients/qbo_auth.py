"""QBO OAuth token handling: never lose a rotated refresh token.

Intuit rotates the refresh token on refresh and the previous one then fails with
``invalid_grant``. Two processes that refresh the same company at once therefore lose the token
unless every refresh follows this protocol (``TokenManager.refresh``):

1. take the in-process lock for the realm, then the cross-process ``RealmLock``;
2. re-read the stored token inside the lock — another worker may have refreshed already, in which
   case its (still valid) access token is adopted and no refresh happens;
3. refresh with the stored refresh token;
4. save the rotated refresh token (and the access token) *before* the new access token is used.

``RealmLock`` is a PostgreSQL advisory lock when the ledger is PostgreSQL (it then spans every
worker host) and a ``filelock.FileLock`` next to the SQLite ledger (or in ``~/.dealbooks/locks``)
otherwise, which spans the processes of one host.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import requests
from filelock import FileLock, Timeout
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from pydantic import SecretStr

from dealbooks.clients.qbo_errors import classify, classify_auth_error
from dealbooks.exceptions import ConfigurationError, QboAuthError, QboRetryableError


@dataclass(frozen=True)
class TokenState:
    """What a token store keeps: the refresh token and, when known, an access token and its expiry.

    ``repr`` never shows the tokens.
    """

    refresh_token: str
    access_token: str | None = None
    expires_at: float = 0.0  # epoch seconds

    def valid_for(self, seconds: float, now: float | None = None) -> bool:
        """True when there is an access token that is still valid ``seconds`` from now."""
        return bool(self.access_token) and self.expires_at - seconds > (time.time() if now is None else now)

    def __repr__(self) -> str:
        return f"TokenState(refresh_token=***, access_token={'***' if self.access_token else None}, " \
               f"expires_at={self.expires_at:.0f})"


class TokenStore(Protocol):
    """Where the company's tokens live between processes."""

    def load(self) -> TokenState:
        """Read the current tokens (always from the backing store, never a cached copy)."""

    def save(self, state: TokenState) -> None:
        """Persist ``state`` durably before returning."""


class FileTokenStore:
    """Tokens in a JSON file, replaced atomically; for tests and local use.

    Args:
        path: the file. Created from ``initial_refresh_token`` when missing.
        initial_refresh_token: the refresh token to start from.
    """

    def __init__(self, path: str | os.PathLike[str], initial_refresh_token: str | None = None) -> None:
        self.path = Path(path)
        if initial_refresh_token and not self.path.exists():
            self.save(TokenState(initial_refresh_token))

    def load(self) -> TokenState:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"No QuickBooks token file at {self.path}; connect QuickBooks first.") from None
        return TokenState(data["refresh_token"], data.get("access_token"), float(data.get("expires_at") or 0))

    def save(self, state: TokenState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"refresh_token": state.refresh_token, "access_token": state.access_token,
                              "expires_at": state.expires_at})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


class BlockTokenStore:
    """Tokens in the ``QuickBooksCredentials`` Prefect block, re-loaded on every ``load``.

    The block keeps ``refresh_token`` (``SecretStr``). If it also has ``access_token`` and
    ``access_token_expires_at`` (a datetime) fields, the access token is shared there too, so other
    workers adopt it instead of refreshing; otherwise each process keeps its access token in memory
    (the refresh protocol stays safe either way).

    Args:
        block_cls: the block class (anything with a classmethod ``load(name)`` returning an object
            with ``refresh_token`` and ``save(overwrite=True)``).
        name: the block document's name.
    """

    def __init__(self, block_cls: Any, name: str) -> None:
        self.block_cls = block_cls
        self.name = name

    def _load_block(self) -> Any:
        load = self.block_cls.load
        # Prefect's Block.load dispatches to its async twin inside an event loop; force the sync one.
        return load(self.name, _sync=True) if hasattr(load, "aio") else load(self.name)

    def load(self) -> TokenState:
        block = self._load_block()
        access = getattr(block, "access_token", None)
        expires = getattr(block, "access_token_expires_at", None)
        if isinstance(expires, datetime):
            expires = expires.timestamp()
        return TokenState(_unwrap(block.refresh_token) or "", _unwrap(access), float(expires or 0))

    def save(self, state: TokenState) -> None:
        block = self._load_block()
        block.refresh_token = SecretStr(state.refresh_token)
        if hasattr(block, "access_token"):
            block.access_token = SecretStr(state.access_token) if state.access_token else None
        if hasattr(block, "access_token_expires_at"):
            block.access_token_expires_at = (datetime.fromtimestamp(state.expires_at, tz=timezone.utc)
                                             if state.access_token else None)
        save = block.save
        if hasattr(save, "aio"):
            save(overwrite=True, _sync=True)
        else:
            save(overwrite=True)

    def __repr__(self) -> str:
        return f"BlockTokenStore({self.name!r})"


def _unwrap(value: Any) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _lock_dir(ledger: str) -> Path:
    override = os.environ.get("DEALBOOKS_LOCK_DIR")
    if override:
        return Path(override)
    if ledger.startswith("sqlite"):
        path = ledger.split("///", 1)[-1]
        if path and path != ":memory:" and "///" in ledger:
            return Path(path).expanduser().resolve().parent / "locks"
    return Path.home() / ".dealbooks" / "locks"


class RealmLock:
    """A lock per realm that holds across processes (and across hosts on PostgreSQL).

    Args:
        realm_id: the QBO company id.
        ledger_url: the ledger URL deciding the mechanism (default ``ledger_url()``).
        timeout: seconds to wait for the lock before giving up with ``QboRetryableError``.
    """

    def __init__(self, realm_id: str, ledger_url: str | None = None, timeout: float = 120.0) -> None:
        if ledger_url is None:
            from dealbooks.ledger.db import ledger_url as default_url

            ledger_url = default_url()
        self.key = f"dealbooks:qbo-token:{realm_id}"
        self.ledger_url = ledger_url
        self.timeout = timeout
        self.is_postgres = ledger_url.startswith(("postgresql", "postgres:"))
        self._file_lock: FileLock | None = None
        if not self.is_postgres:
            directory = _lock_dir(ledger_url)
            directory.mkdir(parents=True, exist_ok=True)
            safe = "".join(ch if ch.isalnum() else "_" for ch in str(realm_id))
            self._file_lock = FileLock(str(directory / f"qbo-token-{safe}.lock"), timeout=timeout)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the duration of the ``with`` block."""
        if self._file_lock is not None:
            try:
                self._file_lock.acquire(poll_interval=POLL_SECONDS)
            except Timeout:
                raise QboRetryableError("Another worker has been refreshing the QuickBooks token for too long; "
                                        "it will be retried.", code="token_lock") from None
            try:
                yield
            finally:
                self._file_lock.release()
            return
        with self._pg_lock():
            yield

    @contextmanager
    def _pg_lock(self) -> Iterator[None]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        url = self.ledger_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                deadline = time.monotonic() + self.timeout
                while not conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": self.key}).scalar():
                    if time.monotonic() > deadline:
                        raise QboRetryableError("Another worker has been refreshing the QuickBooks token for too "
                                                "long; it will be retried.", code="token_lock")
                    conn.rollback()
                    time.sleep(POLL_SECONDS)
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": self.key})
                    conn.commit()
        finally:
            engine.dispose()


POLL_SECONDS = 0.005  # refreshes take milliseconds; a waiter should not idle 50 ms per turn

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(realm_id: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(realm_id, threading.Lock())


class TokenManager:
    """Hands out a valid access token for one realm and refreshes it safely.

    Args:
        auth_client: an intuitlib ``AuthClient`` (its session does the token HTTP calls).
        store: where the tokens live between processes.
        realm_id: the QBO company id (the lock key).
        lock: the cross-process lock (default ``RealmLock(realm_id)``).
        skew: seconds before expiry at which an access token counts as expired.
        block_name: named in error messages so a person knows what to update.
        clock: epoch-seconds time source.
    """

    def __init__(self, auth_client: AuthClient, store: TokenStore, realm_id: str, *,
                 lock: RealmLock | None = None, skew: float = 60.0, block_name: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.auth_client = auth_client
        self.store = store
        self.realm_id = str(realm_id)
        self.lock = lock or RealmLock(self.realm_id)
        self.skew = skew
        self.block_name = block_name
        self.clock = clock
        self.refresh_count = 0
        self._state: TokenState | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message (for ``qbo_errors.redact``)."""
        values = [self.auth_client.client_secret, self.auth_client.access_token, self.auth_client.refresh_token]
        if self._state is not None:
            values += [self._state.refresh_token, self._state.access_token]
        return tuple(v for v in values if v)

    def access_token(self) -> str:
        """A valid access token, refreshing first when there is none or it (almost) expired."""
        state = self._state
        if state is not None and state.valid_for(self.skew, self.clock()):
            return state.access_token or ""
        return self.refresh(stale=state.access_token if state else None)

    def refresh(self, *, stale: str | None = None) -> str:
        """Refresh under the realm lock and return the new access token.

        Args:
            stale: the access token the caller found expired or rejected (401). If another thread or
                process already replaced it with a valid one, that one is adopted instead.

        Returns:
            A valid access token.

        Raises:
            QboAuthError: the refresh token is invalid (reconnect QuickBooks).
            QboRetryableError: the token service or the lock was unavailable.
        """
        with _thread_lock(self.realm_id):
            state = self._state
            if state is not None and state.access_token != stale and state.valid_for(self.skew, self.clock()):
                return state.access_token or ""
            with self.lock.hold():
                stored = self.store.load()
                if stored.access_token != stale and stored.valid_for(self.skew, self.clock()):
                    self._state = stored
                    return stored.access_token or ""
                if not stored.refresh_token:
                    raise ConfigurationError("The QuickBooks credentials have no refresh token; connect QuickBooks "
                                             f"and update {self.block_name or 'the credentials block'}.")
                new = self._refresh_with(stored.refresh_token)
                self._save(new)  # the rotated refresh token is durable before the access token is used
                self._state = new
                self.refresh_count += 1
                return new.access_token or ""

    def _refresh_with(self, refresh_token: str) -> TokenState:
        client = self.auth_client
        try:
            client.refresh(refresh_token=refresh_token)
        except AuthClientError as exc:
            raise classify_auth_error(exc, secrets=self.secrets + (refresh_token,),
                                      block_name=self.block_name) from None
        except requests.RequestException as exc:
            raise classify(exc) from None
        if not client.access_token:
            raise QboAuthError("The Intuit token service answered without an access token; reconnect QuickBooks.",
                               code="no_access_token")
        expires_in = float(getattr(client, "expires_in", None) or 3600)
        return TokenState(client.refresh_token or refresh_token, client.access_token, self.clock() + expires_in)

    def _save(self, state: TokenState) -> None:
        last: Exception | None = None
        for attempt in range(5):
            try:
                self.store.save(state)
                return
            except Exception as exc:  # noqa: BLE001 - any storage failure is retried, then reported
                last = exc
                time.sleep(0.2 * (attempt + 1))
        raise ConfigurationError(
            f"QuickBooks issued a new refresh token but it could not be saved to {self.store!r} "
            f"({type(last).__name__}). Reconnect QuickBooks and update {self.block_name or 'the credentials'}.")
