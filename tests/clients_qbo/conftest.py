"""Fixtures for the QBO client tests: isolated lock dir/ledger, fresh limiters, a replay server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dealbooks.clients.qbo import FileTokenStore, QboClient, QboConnection, RetryPolicy
from dealbooks.clients.ratelimit import reset_limiters
from tests.clients_qbo.replay import ReplayServer

REFERENCE = Path("/work/shared/reference/qbo")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DEALBOOKS_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.delenv("DEALBOOKS_LOCK_DIR", raising=False)
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.2, timeout=10)


@pytest.fixture
def replay_client(replay: ReplayServer, tmp_path: Path) -> QboClient:
    connection = QboConnection(client_id="cid", client_secret="replay-client-secret-123", realm_id="9130",
                               environment=replay.discovery_url, api_base=replay.api_base)
    store = FileTokenStore(tmp_path / "tokens.json", initial_refresh_token=replay.refresh_token)
    return QboClient.connect(connection, store, retry=FAST)
