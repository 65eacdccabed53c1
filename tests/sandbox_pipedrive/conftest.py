"""Fixtures for the Pipedrive emulator tests: a sandbox, an API client, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pd_helpers import Receiver, api_client, running_receiver

from dealbooks.sandbox.server import Sandbox


@pytest.fixture
def pd(sandbox: Sandbox) -> Sandbox:
    """The shared sandbox (tests/conftest.py), rate limits off."""
    return sandbox


@pytest.fixture
def pd_throttled(throttled_sandbox: Sandbox) -> Sandbox:
    """The shared sandbox with rate limits on."""
    return throttled_sandbox


@pytest.fixture
def api(pd: Sandbox) -> Iterator[httpx.Client]:
    with api_client(pd) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state
