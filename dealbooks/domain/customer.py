"""Who an invoice is for: the QBO customer a deal maps to, from ``InvoiceSettings`` sources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dealbooks.domain.deal import Address, Deal
from dealbooks.exceptions import InvoiceBuildError

EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
CRM_NAMES = {"pipedrive": "Pipedrive", "hubspot": "HubSpot"}
MAX_NAME, MAX_EMAIL = 100, 100  # QBO DisplayName ≤ 500 in theory; 100 keeps every form readable


def resolve_source(deal: Deal, source: str) -> Any:
    """Value at a settings source path (``organization.name``, ``deal.fields.<key>`` ...), or None."""
    head, _, rest = source.partition(".")
    target: Any = {"deal": deal, "organization": deal.organization, "person": deal.person}.get(head)
    if target is None:
        return None
    if rest.startswith("fields."):
        return (target.fields or {}).get(rest.removeprefix("fields."))
    return getattr(target, rest, None)


@dataclass(frozen=True)
class CustomerDraft:
    """The customer as the CRM describes it; matched or created in QBO."""

    display_name: str
    email: str
    address: Address | None
    tax_id: str
    currency: str


@dataclass(frozen=True)
class QboCustomer:
    """The fields of a QBO Customer the invoice builder needs."""

    id: str
    display_name: str
    currency: str = ""
    email: str = ""
    terms_id: str = ""
    address: Address | None = None
    tax_id: str = ""

    @classmethod
    def from_qbo(cls, data: dict[str, Any]) -> QboCustomer:
        addr = data.get("BillAddr") or {}
        return cls(
            id=str(data["Id"]),
            display_name=data.get("DisplayName", ""),
            currency=(data.get("CurrencyRef") or {}).get("value", ""),
            email=(data.get("PrimaryEmailAddr") or {}).get("Address", ""),
            terms_id=str((data.get("SalesTermRef") or {}).get("value", "")),
            address=Address(addr.get("Line1", ""), addr.get("City", ""), addr.get("CountrySubDivisionCode", ""),
                            addr.get("PostalCode", ""), addr.get("Country", "")) if addr else None,
            tax_id=data.get("PrimaryTaxIdentifier", "") or data.get("BusinessNumber", "") or "",
        )


def customer_draft(deal: Deal, settings: Any) -> CustomerDraft:
    """The customer for ``deal`` per the settings' sources.

    Raises:
        InvoiceBuildError: no_organization / no_email / invalid_email with what to fix in the CRM.
    """
    name = _text(resolve_source(deal, settings.recipient_name_source))
    if not name:
        what = "organization" if settings.recipient_name_source.startswith("organization") else "recipient"
        raise InvoiceBuildError(
            f"Deal {deal.id} ({deal.title!r}) has no {what} name at {settings.recipient_name_source}: "
            f"link an {what} to the deal in {CRM_NAMES[deal.crm]} or change InvoiceSettings.recipient_name_source.",
            category="no_organization" if what == "organization" else "no_recipient")
    email = _text(resolve_source(deal, settings.email_source))
    if not email:
        raise InvoiceBuildError(
            f"Deal {deal.id} ({deal.title!r}) has no billing email at {settings.email_source}: add an email to "
            f"the deal's contact in {CRM_NAMES[deal.crm]} or change InvoiceSettings.email_source.",
            category="no_email")
    if len(email) > MAX_EMAIL or not EMAIL.match(email):
        raise InvoiceBuildError(
            f"Deal {deal.id}: {email[:60]!r} is not a usable email address (QuickBooks takes up to 100 characters "
            "like name@example.com); correct it in the CRM.", category="invalid_email")
    address = resolve_source(deal, settings.address_source)
    tax_id = _text(resolve_source(deal, settings.tax_id_source)) if settings.tax_id_source else ""
    return CustomerDraft(
        display_name=_display_name(name),
        email=email,
        address=address if isinstance(address, Address) and not address.is_empty() else None,
        tax_id=tax_id,
        currency=deal.currency.upper(),
    )


def customer_payload(draft: CustomerDraft, *, multicurrency: bool) -> dict[str, Any]:
    """QBO Customer create body."""
    body: dict[str, Any] = {"DisplayName": draft.display_name, "CompanyName": draft.display_name[:100],
                            "PrimaryEmailAddr": {"Address": draft.email}}
    if draft.address:
        body["BillAddr"] = _qbo_address(draft.address)
    if draft.tax_id:
        body["PrimaryTaxIdentifier"] = draft.tax_id
    if multicurrency and draft.currency:
        body["CurrencyRef"] = {"value": draft.currency}
    return body


def customer_updates(existing: QboCustomer, draft: CustomerDraft) -> dict[str, Any]:
    """Sparse-update fields where the CRM differs from QBO (empty when nothing differs)."""
    changes: dict[str, Any] = {}
    if draft.email and draft.email.lower() != existing.email.lower():
        changes["PrimaryEmailAddr"] = {"Address": draft.email}
    if draft.address and draft.address != existing.address:
        changes["BillAddr"] = _qbo_address(draft.address)
    if draft.tax_id and draft.tax_id != existing.tax_id:
        changes["PrimaryTaxIdentifier"] = draft.tax_id
    return changes


def _qbo_address(address: Address) -> dict[str, str]:
    fields = {"Line1": address.street, "City": address.city, "CountrySubDivisionCode": address.region,
              "PostalCode": address.postal_code, "Country": address.country}
    return {key: value[:500] for key, value in fields.items() if value}


def _display_name(name: str) -> str:
    # QBO refuses ':' (it separates sub-customers) and tabs/newlines in DisplayName.
    cleaned = re.sub(r"[\t\r\n]+", " ", name).replace(":", "-").strip()
    return cleaned[:MAX_NAME]


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""
