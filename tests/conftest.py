"""Shared fixtures: a real sandbox server on a free port, per test or per module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dealbooks.sandbox.server import Sandbox
from dealbooks.sandbox.state import SandboxOptions

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback sandbox only; see clients/qbo.py


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox with the services' rate limits off (tests that test them turn them on)."""
    with Sandbox(options=SandboxOptions(throttle=False, webhook_retry_delays=(0.2, 0.5, 1.0))) as sb:
        yield sb


def messaging_sandbox(throttle: bool = False, state_file: Path | None = None) -> Sandbox:
    """A ready-to-start sandbox serving only the Slack emulator and the SMTP sink (fast)."""
    return Sandbox(options=SandboxOptions(throttle=throttle, state_file=state_file), services=["slack", "smtp"])


@pytest.fixture
def make_msb() -> Callable[..., Sandbox]:
    """Factory of Slack + SMTP sandboxes for tests that need their own options (persistence)."""
    return messaging_sandbox


@pytest.fixture
def msb() -> Iterator[Sandbox]:
    """Slack + SMTP sandbox with rate limits off."""
    with messaging_sandbox(throttle=False) as sb:
        yield sb


@pytest.fixture
def throttled_msb() -> Iterator[Sandbox]:
    """Slack + SMTP sandbox with Slack's rate limit on."""
    with messaging_sandbox(throttle=True) as sb:
        yield sb


@pytest.fixture
def throttled_sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox with the real rate limits on."""
    with Sandbox(options=SandboxOptions(throttle=True, webhook_retry_delays=(0.2, 0.5, 1.0))) as sb:
        yield sb


# -- ledger on SQLite and PostgreSQL ---------------------------------------------------------------
PG_URL = os.environ.get("DEALBOOKS_TEST_POSTGRES_URL", "")


def _fresh_postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """Create a throwaway database next to ``base_url``'s; returns its URL and a dropper."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    name = f"dealbooks_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        from dealbooks.ledger.db import dispose_all

        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A migrated-on-first-use, empty ledger URL: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    if not PG_URL:
        pytest.skip("DEALBOOKS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    url, drop = _fresh_postgres_database(PG_URL)
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def ledger(ledger_url: str):
    from dealbooks.ledger import Ledger

    return Ledger(ledger_url)


# -- a real Prefect API ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """Prefect's test harness: a temporary Prefect server with its own SQLite database."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


# -- the product configured against a sandbox -------------------------------------------------------
@dataclass
class Configured:
    """Blocks saved in the Prefect test API, pointing at ``sandbox``; a fresh ledger per test."""

    sandbox: Sandbox
    blocks: dict[str, str]
    ledger_url: str

    @property
    def ledger(self):
        from dealbooks.ledger import Ledger

        return Ledger(self.ledger_url)

    def context(self):
        from dealbooks.flows.context import RunContext

        return RunContext(dict(self.blocks), self.ledger_url)


def save_sandbox_blocks(config: dict, suffix: str, settings: dict | None = None) -> dict[str, str]:
    """Save one block of each kind for a sandbox's config under ``<kind>-<suffix>``; returns the names."""
    from dealbooks.sandbox.blocks import save_sandbox_blocks as save

    kinds = ("qbo", "pipedrive", "hubspot", "slack", "smtp", "settings")
    return save(config, {kind: f"{kind}-{suffix}" for kind in kinds},
                webhook_password="hook-pass-" + suffix, settings=settings)


@pytest.fixture
def configured(sandbox: Sandbox, prefect_api: None, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Configured:
    """The whole product wired to a fresh sandbox: blocks saved, ledger on a fresh SQLite file."""
    import uuid

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("DEALBOOKS_LEDGER_URL", url)
    names = save_sandbox_blocks(sandbox.config, uuid.uuid4().hex[:8])
    return Configured(sandbox, names, url)


# -- the CI log shows the ledger suite on both databases ------------------------------------------
_LEDGER_RESULTS: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count ledger-backed test outcomes per database (the ``ledger_url`` fixture's param)."""
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    for backend in ("sqlite", "postgres"):
        if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid:
            counts = _LEDGER_RESULTS.setdefault(backend, {})
            counts[report.outcome] = counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _LEDGER_RESULTS:
        terminalreporter.section("ledger suites by database")
        for backend in ("sqlite", "postgres"):
            counts = _LEDGER_RESULTS.get(backend, {})
            line = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "not run"
            terminalreporter.write_line(f"{backend}: {line}")
