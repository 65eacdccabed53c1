"""Fixtures for the invoice-on-won flow: a CRM test env per CRM on the ``configured`` sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.crm.env import ProductSpec
from tests.crm.hubspot_env import make_env as hubspot_env
from tests.crm.pipedrive_env import make_env as pipedrive_env

CONSULTING = ProductSpec("Consulting hours", Decimal("10"), Decimal("150"), sku="CONSULT-HR")
LICENCE = ProductSpec("Pro licence", Decimal("2"), Decimal("99.5"), sku="LIC-PRO", discount_percent=Decimal("10"))
CUSTOM = ProductSpec("Bespoke workshop", Decimal("1"), Decimal("800"), sku="")


@pytest.fixture(params=["pipedrive", "hubspot"])
def crm(request: pytest.FixtureRequest, configured: Any) -> tuple[str, Any]:
    """(crm name, CrmTestEnv) on the configured sandbox."""
    make = pipedrive_env if request.param == "pipedrive" else hubspot_env
    return request.param, make(configured.sandbox)


def qbo_control(configured: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{configured.sandbox.url}/_sandbox/qbo/{path}"
    response = httpx.post(url, json=body) if body is not None else httpx.get(url)
    response.raise_for_status()
    return response.json()


def qbo_invoices(configured: Any) -> list[dict[str, Any]]:
    return configured.context().qbo.query_all("SELECT * FROM Invoice")
