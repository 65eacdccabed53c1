"""Fixtures for the QBO emulator conformance tests: a sandbox serving only the QBO emulator, and
real python-quickbooks / intuitlib clients pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks

from dealbooks.sandbox.server import Sandbox
from dealbooks.sandbox.state import SandboxOptions

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback sandbox only


@contextmanager
def qbo_sandbox(**options: Any) -> Iterator[Sandbox]:
    """A real HTTP sandbox with only the QBO emulator mounted (others are not needed here)."""
    options.setdefault("throttle", False)
    options.setdefault("webhook_retry_delays", (0.2, 0.4, 0.8))
    with Sandbox(options=SandboxOptions(**options), services=["qbo"]) as sb:
        yield sb


@pytest.fixture
def qsb() -> Iterator[Sandbox]:
    with qbo_sandbox() as sb:
        yield sb


def auth_client(sb: Sandbox, **kwargs: Any) -> AuthClient:
    cfg = sb.config["qbo"]
    return AuthClient(cfg["client_id"], kwargs.pop("client_secret", cfg["client_secret"]),
                      f"{sb.url}/callback", cfg["discovery_url"], **kwargs)


def qb_client(sb: Sandbox, refresh_token: str | None = None, realm_id: str | None = None) -> QuickBooks:
    """An unmodified ``quickbooks.QuickBooks`` whose only change is the API base URL."""
    cfg = sb.config["qbo"]
    client = QuickBooks(auth_client=auth_client(sb), refresh_token=refresh_token or cfg["refresh_token"],
                        company_id=realm_id or cfg["realm_id"], minorversion=75)
    client.api_url_v3 = cfg["api_base"]
    return client


@pytest.fixture
def qb(qsb: Sandbox) -> QuickBooks:
    return qb_client(qsb)


def control(sb: Sandbox, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    response = requests.request(method, f"{sb.url}/_sandbox/{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def raw(sb: Sandbox, qb: QuickBooks, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A low-level request with the client's current access token (for shape checks)."""
    headers = {"Authorization": f"Bearer {qb.session.access_token}", "Accept": "application/json"}
    headers.update(kwargs.pop("headers", {}))
    params = {"minorversion": 75, **kwargs.pop("params", {})}
    url = f"{sb.config['qbo']['api_base']}/company/{qb.company_id}/{path}"
    return requests.request(method, url, headers=headers, params=params, timeout=30, **kwargs)
