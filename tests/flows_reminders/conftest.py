"""Helpers for the reminder and invoice-action tests: company clock, invoices, snapshots, captured mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from dealbooks.blocks import InvoiceSettings
from dealbooks.domain.snapshot_rows import snapshot_row
from dealbooks.domain.status import invoice_state


@dataclass
class World:
    """The configured product plus shortcuts to the sandbox's control and inspection routes."""

    configured: Any

    @property
    def url(self) -> str:
        return self.configured.sandbox.url

    @property
    def blocks(self) -> dict[str, str]:
        return self.configured.blocks

    @property
    def ledger(self) -> Any:
        return self.configured.ledger

    @property
    def qbo(self) -> Any:
        """A fresh client each time, like each flow run: the sandbox clock jumps days between uses, and a
        long-lived client would hold an access token the jump expired (see the report on qbo_auth)."""
        return self.configured.context().qbo

    def settings(self, **values: Any) -> None:
        """Replace the InvoiceSettings block (defaults + ``values``)."""
        InvoiceSettings(**values).save(self.blocks["settings"], overwrite=True)

    def clock(self, day: date) -> None:
        """Freeze the sandbox clock at 10:00 in Los Angeles (the sandbox company's timezone) on ``day``."""
        httpx.post(f"{self.url}/_sandbox/clock", json={"set": f"{day.isoformat()}T18:00:00+00:00", "freeze": True})

    def qbo_settings(self, **values: Any) -> None:
        httpx.post(f"{self.url}/_sandbox/qbo/preferences", json=values).raise_for_status()

    def smtp_faults(self, **values: Any) -> None:
        httpx.post(f"{self.url}/_sandbox/faults/smtp", json=values).raise_for_status()

    def mail(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/mail/messages").json()["messages"]

    def customer(self, name: str, email: str | None = None) -> str:
        body: dict[str, Any] = {"DisplayName": name}
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        return str(self.qbo.create_customer(body, f"cust-{name}"[:50])["Id"])

    def invoice(self, customer_id: str, amount: float, due: date, email: str | None = None, key: str = "") -> str:
        """An invoice created directly in QBO (TxnDate 30 days before ``due``)."""
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer_id}, "TxnDate": (due - timedelta(days=30)).isoformat(),
            "DueDate": due.isoformat(),
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "2"}, "Qty": 1, "UnitPrice": amount}}]}
        if email:
            body["BillEmail"] = {"Address": email}
        return str(self.qbo.create_invoice(body, f"inv-{customer_id}-{amount}-{due}-{key}")["Id"])

    def pay(self, invoice_id: str, amount: float) -> None:
        invoice = self.qbo.get_invoice(invoice_id)
        self.qbo.create_payment({"CustomerRef": invoice["CustomerRef"], "TotalAmt": amount, "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}, f"pay-{invoice_id}-{amount}")

    def status_sync(self, today: date) -> dict[str, Any]:
        """Run the real status-sync flow for ``today`` (snapshots, deal write-back, payment alerts)."""
        from dealbooks.flows.status_sync import status_sync

        return status_sync(trigger="manual", as_of=today, blocks=self.blocks)

    def sync(self, today: date) -> None:
        """A quick stand-in for the status sync where only the snapshots matter: one per invoice."""
        realm = self.qbo.realm_id
        rows = [snapshot_row(realm, invoice_state(inv, today)) for inv in self.qbo.query_all("SELECT * FROM Invoice")]
        self.ledger.snapshots.save(rows)


@pytest.fixture
def world(configured: Any) -> World:
    return World(configured)
