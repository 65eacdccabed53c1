"""Token handling against the real sandbox: rotation across processes, 401 refresh, invalid_grant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from intuitlib.client import AuthClient

from dealbooks.clients.qbo import BlockTokenStore, FileTokenStore, QboClient, QboConnection, TokenState
from dealbooks.clients.qbo_auth import RealmLock, TokenManager
from dealbooks.exceptions import QboAuthError
from tests.clients_qbo.conftest import FAST

ROOT = Path(__file__).resolve().parents[2]


def _connection(cfg: dict[str, Any]) -> QboConnection:
    return QboConnection(cfg["client_id"], cfg["client_secret"], cfg["realm_id"], cfg["discovery_url"],
                         cfg["api_base"])


PG_URL = os.environ.get("DEALBOOKS_TEST_POSTGRES_URL", "")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lock_ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ledger URL that picks the lock: a SQLite file (FileLock) or PostgreSQL (advisory lock)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    if not PG_URL:
        pytest.skip("DEALBOOKS_TEST_POSTGRES_URL is not set")
    return PG_URL


def test_two_processes_refresh_500_times_without_losing_the_token(sandbox: Any, tmp_path: Path,
                                                                  lock_ledger_url: str) -> None:
    cfg = sandbox.config["qbo"]
    store = tmp_path / "tokens.json"
    FileTokenStore(store, initial_refresh_token=cfg["refresh_token"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEALBOOKS_LEDGER_URL": lock_ledger_url}
    go = tmp_path / "go"
    procs = []
    for n in range(2):
        worker_cfg = {**cfg, "store": str(store), "count": 250, "ready": str(tmp_path / f"ready{n}"), "go": str(go)}
        procs.append(subprocess.Popen([sys.executable, "-m", "tests.clients_qbo.refresh_worker",
                                       json.dumps(worker_cfg)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{n}").exists() for n in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), procs[0].stderr
        time.sleep(0.01)
    go.touch()  # both start refreshing at the same moment
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["error_count"] for r in results] == [0, 0], results
    assert sum(r["refreshes"] for r in results) == 500
    assert all(r["refreshes"] > 0 for r in results)
    # the stored refresh token is the live one: one more refresh from here works
    auth = AuthClient(cfg["client_id"], cfg["client_secret"], "http://127.0.0.1/cb", cfg["discovery_url"])
    assert TokenManager(auth, FileTokenStore(store), cfg["realm_id"], skew=10**9).access_token()
    # and the original token was rotated away long ago
    with pytest.raises(Exception, match="invalid_grant"):
        auth.refresh(refresh_token=cfg["refresh_token"])


def test_forced_expiry_is_refreshed_on_401(sandbox: Any, tmp_path: Path) -> None:
    cfg = sandbox.config["qbo"]
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=cfg["refresh_token"])
    client = QboClient.connect(_connection(cfg), store, retry=FAST)
    assert client.company_info()["CompanyName"]
    before = store.load()
    requests.post(f"{sandbox.url}/_sandbox/faults/qbo", json={"expire_tokens": True}, timeout=10).raise_for_status()
    assert client.company_info()["CompanyName"]  # 401 → refresh under the lock → retried
    after = store.load()
    assert after.refresh_token != before.refresh_token and after.access_token != before.access_token
    assert client.transport.tokens.refresh_count == 2


def test_expired_access_token_is_refreshed_before_use(sandbox: Any, tmp_path: Path) -> None:
    cfg = sandbox.config["qbo"]
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=cfg["refresh_token"])
    client = QboClient.connect(_connection(cfg), store, retry=FAST)
    state = store.load()
    store.save(TokenState(state.refresh_token, state.access_token, time.time() + 30))  # inside the skew
    client.transport.tokens._state = store.load()
    client.company_info()
    assert client.transport.tokens.refresh_count == 2


def test_invalid_grant_names_the_block_and_hides_secrets(sandbox: Any, tmp_path: Path) -> None:
    cfg = sandbox.config["qbo"]
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=cfg["refresh_token"])
    QboClient.connect(_connection(cfg), store, retry=FAST)  # rotates the seeded token
    stale_store = FileTokenStore(tmp_path / "stale.json", initial_refresh_token=cfg["refresh_token"])
    with pytest.raises(QboAuthError) as info:
        QboClient.connect(_connection(cfg), stale_store, retry=FAST, block_name="qbo-acme")
    text = f"{info.value} {info.value!r}"
    assert info.value.code == "invalid_grant" and "qbo-acme" in text and "Reconnect QuickBooks" in text
    for secret in (cfg["refresh_token"], cfg["client_secret"], store.load().refresh_token):
        assert secret not in text


def test_wrong_client_secret_is_an_auth_error(sandbox: Any, tmp_path: Path) -> None:
    cfg = {**sandbox.config["qbo"], "client_secret": "not-the-secret-000"}
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=cfg["refresh_token"])
    with pytest.raises(QboAuthError) as info:
        QboClient.connect(_connection(cfg), store, retry=FAST)
    assert "not-the-secret-000" not in str(info.value)


class _MemoryBlock:
    """Stands in for a saved QuickBooksCredentials document: load(name) / save(overwrite=True)."""

    documents: dict[str, dict[str, Any]] = {}

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    @classmethod
    def load(cls, name: str) -> _MemoryBlock:
        block = cls(**cls.documents[name])
        block._block_document_name = name
        return block

    def save(self, overwrite: bool = False) -> None:
        assert overwrite
        fields = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        self.documents[self._block_document_name] = fields


def test_block_store_saves_the_rotated_token_to_the_block(sandbox: Any) -> None:
    from pydantic import SecretStr

    cfg = sandbox.config["qbo"]
    _MemoryBlock.documents["acme"] = {
        "client_id": cfg["client_id"], "client_secret": SecretStr(cfg["client_secret"]),
        "realm_id": cfg["realm_id"], "refresh_token": SecretStr(cfg["refresh_token"]),
        "environment": cfg["discovery_url"], "api_base": cfg["api_base"], "access_token": None,
        "access_token_expires_at": None}
    client = QboClient.from_block(_MemoryBlock.load("acme"), retry=FAST)
    saved = _MemoryBlock.documents["acme"]
    assert saved["refresh_token"].get_secret_value() != cfg["refresh_token"]
    assert saved["access_token"].get_secret_value() == client.transport.tokens.access_token()
    assert client.company_info()["CompanyName"]
    # a second worker adopts the saved access token instead of refreshing again
    again = QboClient.from_block(_MemoryBlock.load("acme"), retry=FAST)
    assert again.transport.tokens.refresh_count == 0
    assert "SecretStr" not in repr(BlockTokenStore(_MemoryBlock, "acme"))


def test_realm_lock_serialises_holders(tmp_path: Path) -> None:
    lock_a = RealmLock("9130", ledger_url=f"sqlite:///{tmp_path / 'l.db'}", timeout=0.2)
    lock_b = RealmLock("9130", ledger_url=f"sqlite:///{tmp_path / 'l.db'}", timeout=0.2)
    assert (tmp_path / "locks").is_dir()
    import threading

    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with lock_a.hold():
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    from dealbooks.exceptions import QboRetryableError

    with pytest.raises(QboRetryableError):
        with lock_b.hold():
            pass
    release.set()
    thread.join()
    with lock_b.hold():
        pass


def test_realm_lock_on_postgres_is_an_advisory_lock(lock_ledger_url: str) -> None:
    import threading

    from dealbooks.exceptions import QboRetryableError

    holder_lock = RealmLock("pg-9130", ledger_url=lock_ledger_url, timeout=0.3)
    waiter_lock = RealmLock("pg-9130", ledger_url=lock_ledger_url, timeout=0.3)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with holder_lock.hold():
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    with pytest.raises(QboRetryableError):
        with waiter_lock.hold():
            pass
    release.set()
    thread.join()
    with waiter_lock.hold():
        pass


def test_real_block_gets_the_rotated_token(sandbox: Any, prefect_api: None) -> None:
    """The production path: QuickBooksCredentials saved in Prefect → get_client() → rotated token saved back."""
    from dealbooks.blocks import QuickBooksCredentials

    cfg = sandbox.config["qbo"]
    name = f"qbo-{uuid.uuid4().hex[:8]}"
    QuickBooksCredentials(client_id=cfg["client_id"], client_secret=cfg["client_secret"], realm_id=cfg["realm_id"],
                          refresh_token=cfg["refresh_token"], environment=cfg["discovery_url"],
                          api_base=cfg["api_base"]).save(name)
    client = QuickBooksCredentials.load(name).get_client()
    assert client.company_info()["CompanyName"]
    stored = QuickBooksCredentials.load(name)
    assert stored.refresh_token.get_secret_value() != cfg["refresh_token"]
    assert stored.access_token is not None and stored.access_token_expires_at is not None
    assert QuickBooksCredentials.load(name).get_client().transport.tokens.refresh_count == 0  # adopted
