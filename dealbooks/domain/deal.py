"""The CRM-neutral deal: what Pipedrive and HubSpot both give the flows.

Both CRM clients turn their own records into these types; nothing downstream knows which CRM a
deal came from except through ``Deal.crm``. Amounts are ``Decimal``; times are UTC-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

CrmName = Literal["pipedrive", "hubspot"]
DealStatus = Literal["open", "won", "lost", "deleted"]


@dataclass(frozen=True)
class Address:
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    def is_empty(self) -> bool:
        return not any((self.street, self.city, self.region, self.postal_code, self.country))


@dataclass(frozen=True)
class Organization:
    """Pipedrive organization or HubSpot company."""

    id: str
    name: str
    address: Address | None = None
    email: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    """Pipedrive person or HubSpot contact; ``email`` is the primary address."""

    id: str
    name: str
    email: str = ""
    phone: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineItem:
    """A deal product (Pipedrive) or line item (HubSpot), as the CRM has it.

    ``discount`` is a percentage when ``discount_type`` is "percentage", else an amount off the line.
    """

    id: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""
    product_id: str = ""
    description: str = ""
    discount: Decimal = Decimal("0")
    discount_type: Literal["percentage", "amount"] = "percentage"
    tax_percent: Decimal | None = None

    @property
    def amount(self) -> Decimal:
        gross = self.quantity * self.unit_price
        if self.discount_type == "percentage":
            return gross - (gross * self.discount / Decimal(100))
        return gross - self.discount


@dataclass(frozen=True)
class Deal:
    """One deal with everything an invoice needs.

    ``fields`` holds the CRM's other deal fields (custom fields by key, HubSpot properties by name),
    which the ``InvoiceSettings`` mappings can point at.
    """

    crm: CrmName
    id: str
    title: str
    status: DealStatus
    value: Decimal
    currency: str
    organization: Organization | None = None
    person: Person | None = None
    lines: tuple[LineItem, ...] = ()
    won_at: datetime | None = None
    updated_at: datetime | None = None
    owner_id: str = ""
    owner_name: str = ""
    pipeline_id: str = ""
    stage_id: str = ""
    url: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable identity across CRMs, e.g. ``pipedrive:42``."""
        return f"{self.crm}:{self.id}"


@dataclass(frozen=True)
class DealInvoiceFields:
    """What dealbooks writes back onto a deal (rolled up across the deal's invoices)."""

    invoice_id: str = ""
    invoice_number: str = ""
    invoice_url: str = ""
    status: str = ""
    amount_billed: Decimal | None = None
    amount_paid: Decimal | None = None
    balance: Decimal | None = None
    currency: str = ""
    due_date: date | None = None
    last_payment_date: date | None = None

    def as_strings(self) -> dict[str, str]:
        """Non-empty fields as strings, keyed by the names in ``INVOICE_FIELD_LABELS``."""
        out: dict[str, str] = {}
        for name in INVOICE_FIELD_LABELS:
            value = getattr(self, name)
            if value is None or value == "":
                continue
            out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


INVOICE_FIELD_LABELS: dict[str, str] = {
    "invoice_id": "QuickBooks invoice id",
    "invoice_number": "Invoice number",
    "invoice_url": "Invoice link",
    "status": "Invoice status",
    "amount_billed": "Amount billed",
    "amount_paid": "Amount paid",
    "balance": "Open balance",
    "currency": "Invoice currency",
    "due_date": "Invoice due date",
    "last_payment_date": "Last payment date",
}
"""Write-back fields and the labels the CRM custom fields / properties are created with."""
