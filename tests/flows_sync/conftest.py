"""A world for the status-sync tests: won deals in both CRMs invoiced through the invoice-on-won flow.

Everything acts through public APIs: the CRM sandboxes through their APIs (``tests/crm/*_env.py``),
QuickBooks through ``QboClient`` (payments, voids, deletes as a bookkeeper would make them), the
sandbox clock and faults through ``/_sandbox/...``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crm"))

from env import ProductSpec  # noqa: E402
from hubspot_env import make_env as hubspot_env  # noqa: E402
from pipedrive_env import make_env as pipedrive_env  # noqa: E402


@dataclass
class World:
    """The configured product plus the two CRM envs and QBO helpers."""

    configured: Any
    envs: dict[str, Any]
    qbo: Any
    deals: dict[str, str] = field(default_factory=dict)  # label -> "crm:deal_id"

    @property
    def blocks(self) -> dict[str, str]:
        return self.configured.blocks

    @property
    def ledger(self) -> Any:
        return self.configured.ledger

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.configured.sandbox.url}/_sandbox/{path}", timeout=60, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def won_deal(self, crm: str, title: str, amount: str = "1000", org: str | None = None) -> str:
        """A won deal with one product, invoiced by the invoice-on-won flow; returns the QBO invoice id."""
        from dealbooks.flows.invoice_on_won import invoice_on_deal_won

        env = self.envs[crm]
        deal_id = env.create_deal(title, org_name=org or f"{title} Inc", person_name="Pat Payer",
                                  email=f"{uuid.uuid4().hex[:8]}@example.com",
                                  products=[ProductSpec("Consulting", Decimal("1"), Decimal(amount))])
        env.mark_won(deal_id)
        result = invoice_on_deal_won(crm=crm, deal_ids=[deal_id], blocks=self.blocks)
        assert result["counts"] == {"synced": 1}, result
        link = self.ledger.links.get(crm, deal_id)
        self.deals[title] = f"{crm}:{deal_id}"
        return link.invoice_id

    def deal_of(self, title: str) -> tuple[str, str]:
        crm, deal_id = self.deals[title].split(":", 1)
        return crm, deal_id

    def fields(self, title: str) -> dict[str, Any]:
        crm, deal_id = self.deal_of(title)
        return self.envs[crm].read_invoice_fields(deal_id)

    def notes(self, title: str) -> list[str]:
        crm, deal_id = self.deal_of(title)
        return self.envs[crm].notes(deal_id)

    def pay(self, invoice_id: str, amount: str) -> str:
        invoice = self.qbo.get_invoice(invoice_id)
        payload = {"CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": float(amount),
                   "Line": [{"Amount": float(amount), "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}
        return str(self.qbo.create_payment(payload, f"pay-{uuid.uuid4().hex}")["Id"])

    def sync(self, **kwargs: Any) -> dict[str, Any]:
        from dealbooks.flows.status_sync import status_sync

        return status_sync(blocks=self.blocks, **kwargs)

    def slack_messages(self) -> list[dict[str, Any]]:
        return self.control("GET", "slack/messages")["messages"]

    def sandbox_today(self) -> date:
        return datetime.fromisoformat(self.control("GET", "health")["now"]).date()


@pytest.fixture
def world(configured: Any) -> Iterator[World]:
    envs = {"pipedrive": pipedrive_env(configured.sandbox), "hubspot": hubspot_env(configured.sandbox)}
    ctx = configured.context()
    yield World(configured, envs, ctx.qbo)
    envs["pipedrive"].close()
