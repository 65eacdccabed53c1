"""The one CRM interface the flows use; Pipedrive and HubSpot implement it.

Implementations: ``dealbooks.clients.pipedrive.PipedriveClient`` (httpx) and
``dealbooks.clients.hubspot.HubSpotClient`` (hubspot-api-client). The same contract test suite
(``tests/crm/test_crm_contract.py``) runs against both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from dealbooks.domain.deal import CrmName, Deal, DealInvoiceFields
from dealbooks.exceptions import CrmError


@runtime_checkable
class CrmClient(Protocol):
    """What dealbooks needs from a CRM."""

    crm: CrmName

    def get_deal(self, deal_id: str) -> Deal:
        """The deal with its organisation/company, person/contact and products/line items.

        Raises:
            dealbooks.exceptions.CrmNotFound: the deal does not exist (or was deleted).
            dealbooks.exceptions.CrmError: any other failure, with ``retryable`` set.
        """

    def list_won_deals(self, since: datetime | None = None) -> Iterator[Deal]:
        """Deals whose status is won, updated at or after ``since`` (all when None), oldest first.

        Yields deals without lines/organisation/person loaded (``get_deal`` loads them): listing
        stays one paged call per page.
        """

    def ensure_invoice_fields(self) -> Mapping[str, str]:
        """Create the write-back custom fields / properties if missing; map field name → CRM key."""

    def write_invoice_fields(self, updates: Mapping[str, DealInvoiceFields]) -> dict[str, Exception | None]:
        """Write invoice fields to many deals (HubSpot: batches of 100; Pipedrive: one PATCH each).

        Returns deal id → None on success or the exception for that deal; one bad deal never
        stops the others.
        """

    def add_note(self, deal_id: str, content: str) -> str:
        """Add a note to the deal's timeline; returns the note id. ``content`` is simple HTML."""

    def add_notes(self, notes: Sequence[tuple[str, str]]) -> list[str | Exception]:
        """Add many ``(deal_id, content)`` notes (HubSpot: batches of 100); returns, in order, each
        note's id or the exception for that note."""

    def deal_url(self, deal_id: str) -> str:
        """Where a person opens the deal in the CRM's UI."""


def note_or_error(client: CrmClient, deal_id: str, content: str) -> str | Exception:
    """``client.add_note``, with the CRM's error returned instead of raised (for ``add_notes``)."""
    try:
        return client.add_note(deal_id, content)
    except CrmError as exc:
        return exc
