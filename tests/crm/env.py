"""The contract of a CRM test environment: the same CRM contract suite runs on both CRMs.

``tests/crm/pipedrive_env.py`` and ``tests/crm/hubspot_env.py`` each provide
``make_env(sandbox) -> CrmTestEnv``; they act on the CRM sandbox only through its public API (as a
salesperson would in the CRM's UI), never by editing sandbox state.
"""

from __future__ import annotations

from typing import Any, Protocol

from dealbooks.clients.crm import CrmClient
from dealbooks.sandbox.salesperson import ProductSpec

__all__ = ["CrmTestEnv", "ProductSpec"]


class CrmTestEnv(Protocol):
    client: CrmClient

    def create_deal(
        self,
        title: str,
        *,
        org_name: str | None = "Acme Corp",
        person_name: str | None = "Jane Doe",
        email: str | None = "jane@example.com",
        products: list[ProductSpec] | None = None,
        currency: str = "USD",
        address: dict[str, str] | None = None,
    ) -> str:
        """Create organisation/company, person/contact, deal and its products; return the deal id."""

    def mark_won(self, deal_id: str) -> None:
        """Move the deal to won (Pipedrive status=won; HubSpot dealstage=closedwon)."""

    def read_invoice_fields(self, deal_id: str) -> dict[str, Any]:
        """The deal's write-back fields by dealbooks field name (e.g. "invoice_number")."""

    def notes(self, deal_id: str) -> list[str]:
        """Contents of the notes on the deal's timeline, oldest first."""
