"""Deal ↔ invoice links: at most one "won" invoice per CRM deal, one deal per QBO invoice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, tuple_

from dealbooks.ledger.base import Repository
from dealbooks.ledger.models import DealInvoiceLink

WON = "won"


@dataclass(frozen=True)
class LinkResult:
    link: DealInvoiceLink
    created: bool  # False: another attempt recorded first; ``link`` is the winner's


class Links(Repository):
    def record(
        self,
        *,
        crm: str,
        deal_id: str,
        realm_id: str,
        invoice_id: str,
        purpose: str = WON,
        doc_number: str = "",
        customer_id: str = "",
        request_id: str = "",
        origin: str = "created",
    ) -> LinkResult:
        """Record the link unless one exists for the deal+purpose (or the invoice); return the winner."""
        inserted = self.insert_ignore(
            DealInvoiceLink.__table__,
            [dict(crm=crm, deal_id=deal_id, purpose=purpose, realm_id=realm_id, invoice_id=invoice_id,
                  doc_number=doc_number, customer_id=customer_id, request_id=request_id, origin=origin)],
        )
        winner = self.get(crm, deal_id, purpose)
        if winner is None:  # the invoice is linked to another deal (uq_link_invoice)
            other = self.for_invoice(realm_id, invoice_id)
            assert other is not None
            return LinkResult(other, False)
        return LinkResult(winner, bool(inserted))

    def get(self, crm: str, deal_id: str, purpose: str = WON) -> DealInvoiceLink | None:
        with self.session() as s:
            return s.scalar(select(DealInvoiceLink).filter_by(crm=crm, deal_id=deal_id, purpose=purpose))

    def for_deal(self, crm: str, deal_id: str) -> list[DealInvoiceLink]:
        with self.session() as s:
            return list(s.scalars(select(DealInvoiceLink).filter_by(crm=crm, deal_id=deal_id)
                                  .order_by(DealInvoiceLink.id)))

    def for_deals(self, keys: list[tuple[str, str]]) -> list[DealInvoiceLink]:
        """All links of many (crm, deal_id) pairs, in one query per 500 keys."""
        out: list[DealInvoiceLink] = []
        with self.session() as s:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                out += s.scalars(select(DealInvoiceLink).where(
                    tuple_(DealInvoiceLink.crm, DealInvoiceLink.deal_id).in_(chunk)))
        return out

    def for_invoice(self, realm_id: str, invoice_id: str) -> DealInvoiceLink | None:
        with self.session() as s:
            return s.scalar(select(DealInvoiceLink).filter_by(realm_id=realm_id, invoice_id=invoice_id))

    def for_invoices(self, realm_id: str, invoice_ids: list[str]) -> dict[str, DealInvoiceLink]:
        out: dict[str, DealInvoiceLink] = {}
        with self.session() as s:
            for start in range(0, len(invoice_ids), 500):
                rows = s.scalars(select(DealInvoiceLink).where(
                    DealInvoiceLink.realm_id == realm_id,
                    DealInvoiceLink.invoice_id.in_(invoice_ids[start:start + 500])))
                out.update({row.invoice_id: row for row in rows})
        return out

    def all(self, realm_id: str | None = None) -> list[DealInvoiceLink]:
        with self.session() as s:
            query = select(DealInvoiceLink).order_by(DealInvoiceLink.id)
            if realm_id:
                query = query.filter_by(realm_id=realm_id)
            return list(s.scalars(query))

    def unlink(self, realm_id: str, invoice_id: str) -> bool:
        """Remove the invoice's link (the deal may then get a new invoice); True if one existed."""
        with self.session() as s:
            result = s.execute(delete(DealInvoiceLink).filter_by(realm_id=realm_id, invoice_id=invoice_id))
            return bool(result.rowcount)
