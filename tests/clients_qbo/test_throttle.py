"""Throttling against the real sandbox with QBO's limits on (500 requests/min, 10 concurrent per realm)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from dealbooks.clients.qbo import FileTokenStore, QboClient, QboConnection, RetryPolicy
from dealbooks.exceptions import QboRetryableError


def _client(sandbox: Any, tmp_path: Path, sleeps: list[float]) -> QboClient:
    cfg = sandbox.config["qbo"]
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=cfg["refresh_token"])
    conn = QboConnection(cfg["client_id"], cfg["client_secret"], cfg["realm_id"], cfg["discovery_url"], cfg["api_base"])

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return QboClient.connect(conn, store, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05,
                                                            timeout=30), sleep=sleep)


def _burst(fn: Any, n: int, workers: int = 32) -> list[Any]:
    def one(_: int) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            return exc

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def test_sandbox_throttles_an_unlimited_burst(throttled_sandbox: Any) -> None:
    """Control: a client without a limiter does hit QBO's 429 (3001) in this sandbox."""
    cfg = throttled_sandbox.config["qbo"]
    token = requests.post(f"{cfg['discovery_url'].rsplit('/qbo/', 1)[0]}/qbo/oauth2/v1/tokens/bearer",
                          data={"grant_type": "refresh_token", "refresh_token": cfg["refresh_token"]},
                          auth=(cfg["client_id"], cfg["client_secret"]), timeout=10).json()["access_token"]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
    url = f"{cfg['api_base']}/company/{cfg['realm_id']}/companyinfo/{cfg['realm_id']}"
    statuses = _burst(lambda: session.get(url, params={"minorversion": 75},
                                          headers={"Authorization": f"Bearer {token}",
                                                   "Accept": "application/json"}).status_code, 540, workers=48)
    assert 429 in statuses


def test_client_stays_under_the_throttle(throttled_sandbox: Any, tmp_path: Path) -> None:
    sleeps: list[float] = []
    client = _client(throttled_sandbox, tmp_path, sleeps)
    results = _burst(client.company_info, 470, workers=48)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    assert sleeps == [], "no request was throttled: the limiter kept us under 500/min and 10 concurrent"
    assert client.transport.limiter.max_in_flight <= 10


def test_forced_429_storm_is_retried_honouring_retry_after(throttled_sandbox: Any, tmp_path: Path) -> None:
    sleeps: list[float] = []
    client = _client(throttled_sandbox, tmp_path, sleeps)
    requests.post(f"{throttled_sandbox.url}/_sandbox/faults/qbo", json={"throttle_next": 2}, timeout=10)
    assert client.company_info()["CompanyName"]
    assert sleeps == [0.05, 0.05]  # Retry-After (1 s) honoured, capped by this test's policy
    requests.post(f"{throttled_sandbox.url}/_sandbox/faults/qbo", json={"throttle_next": 5}, timeout=10)
    try:
        client.company_info()
    except QboRetryableError as exc:
        assert exc.code == "3001"
    else:
        raise AssertionError("a throttle longer than the retry budget must surface as QboRetryableError")
