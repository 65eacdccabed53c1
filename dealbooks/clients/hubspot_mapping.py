"""HubSpot records → dealbooks' CRM-neutral types, the write-back property definitions, and notes.

Pure functions (no I/O) used by ``dealbooks.clients.hubspot.HubSpotClient``. HubSpot property
values are strings (or None); amounts become ``Decimal``, times UTC-aware datetimes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from dealbooks.domain.deal import (
    INVOICE_FIELD_LABELS,
    Address,
    Deal,
    LineItem,
    Organization,
    Person,
)
from dealbooks.exceptions import CrmError

BATCH_LIMIT = 100
PROPERTY_PREFIX = "dealbooks_"
PROPERTY_GROUP: dict[str, Any] = {"name": "dealbooks", "label": "dealbooks invoice", "displayOrder": -1}

DEAL_PROPERTIES: tuple[str, ...] = (
    "dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code", "hubspot_owner_id",
    "createdate", "hs_lastmodifieddate", "hs_is_closed_won", "dealtype", "description",
)
COMPANY_PROPERTIES: tuple[str, ...] = (
    "name", "domain", "phone", "address", "address2", "city", "state", "zip", "country",
)
CONTACT_PROPERTIES: tuple[str, ...] = (
    "firstname", "lastname", "email", "phone", "company", "address", "city", "state", "zip", "country",
)
LINE_ITEM_PROPERTIES: tuple[str, ...] = (
    "name", "description", "quantity", "price", "amount", "discount", "hs_discount_percentage", "hs_sku",
    "hs_product_id", "hs_position_on_quote", "hs_line_item_currency_code", "createdate",
)

_NUMBER_FIELDS = {"amount_billed", "amount_paid", "balance"}
_DATE_FIELDS = {"due_date", "last_payment_date"}


def invoice_property_specs() -> dict[str, dict[str, Any]]:
    """Field name → the property definition created on deals (``dealbooks_invoice_number`` ...)."""
    specs: dict[str, dict[str, Any]] = {}
    for order, (field_name, label) in enumerate(INVOICE_FIELD_LABELS.items()):
        if field_name in _NUMBER_FIELDS:
            type_, field_type = "number", "number"
        elif field_name in _DATE_FIELDS:
            type_, field_type = "date", "date"
        else:
            type_, field_type = "string", "text"
        specs[field_name] = {
            "name": f"{PROPERTY_PREFIX}{field_name}", "label": label, "type": type_, "fieldType": field_type,
            "groupName": PROPERTY_GROUP["name"], "displayOrder": order,
            "description": f"Written by dealbooks from QuickBooks Online ({label.lower()}).",
            "formField": False,
        }
    return specs


def decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def parse_time(value: Any) -> datetime | None:
    """An ISO datetime / date or epoch milliseconds as a UTC-aware datetime."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_organization(company_id: str, props: Mapping[str, Any]) -> Organization:
    street = ", ".join(p for p in (props.get("address") or "", props.get("address2") or "") if p)
    address = Address(street=street, city=props.get("city") or "", region=props.get("state") or "",
                      postal_code=props.get("zip") or "", country=props.get("country") or "")
    return Organization(id=str(company_id), name=props.get("name") or "",
                        address=None if address.is_empty() else address,
                        email=props.get("email") or "", fields=dict(props))


def to_person(contact_id: str, props: Mapping[str, Any]) -> Person:
    name = " ".join(p for p in (props.get("firstname") or "", props.get("lastname") or "") if p)
    return Person(id=str(contact_id), name=name or props.get("email") or "", email=props.get("email") or "",
                  phone=props.get("phone") or "", fields=dict(props))


def to_line_item(line_id: str, props: Mapping[str, Any], product_skus: Mapping[str, str]) -> LineItem:
    """One line item; the discount is a percentage when ``hs_discount_percentage`` is set, else
    ``discount`` (HubSpot's per-unit discount) times the quantity as an amount off the line."""
    quantity = decimal_or_none(props.get("quantity"))
    if quantity is None:  # only a missing quantity means one; 0 stays 0 and is refused as invalid_quantity
        quantity = Decimal(1)
    price = decimal_or_none(props.get("price")) or Decimal(0)
    percent = decimal_or_none(props.get("hs_discount_percentage"))
    unit_discount = decimal_or_none(props.get("discount"))
    product_id = str(props.get("hs_product_id") or "")
    sku = props.get("hs_sku") or product_skus.get(product_id, "")
    if percent:
        discount, discount_type = percent, "percentage"
    elif unit_discount:
        discount, discount_type = unit_discount * quantity, "amount"
    else:
        discount, discount_type = Decimal(0), "percentage"
    return LineItem(id=str(line_id), name=props.get("name") or "", quantity=quantity, unit_price=price,
                    sku=sku, product_id=product_id, description=props.get("description") or "",
                    discount=discount, discount_type=discount_type)  # type: ignore[arg-type]


def to_deal(deal_id: str, props: Mapping[str, Any], won_stages: Collection[str], lost_stages: Collection[str], *,
            currency_default: str, url: str, organization: Organization | None = None,
            person: Person | None = None, lines: tuple[LineItem, ...] = ()) -> Deal:
    stage = props.get("dealstage") or ""
    status = "won" if stage in won_stages else "lost" if stage in lost_stages else "open"
    return Deal(
        crm="hubspot", id=str(deal_id), title=props.get("dealname") or "", status=status,  # type: ignore[arg-type]
        value=decimal_or_none(props.get("amount")) or Decimal(0),
        currency=(props.get("deal_currency_code") or currency_default).upper(),
        organization=organization, person=person, lines=lines,
        won_at=parse_time(props.get("closedate")) if status == "won" else None,
        updated_at=parse_time(props.get("hs_lastmodifieddate")),
        owner_id=props.get("hubspot_owner_id") or "", pipeline_id=props.get("pipeline") or "",
        stage_id=stage, url=url, fields=dict(props),
    )


NOTE_TO_DEAL = 214  # association type note → deal (HUBSPOT_DEFINED)


def note_input(deal_id: str, content: str) -> dict[str, Any]:
    """A note create body, associated with the deal."""
    return {"properties": {"hs_note_body": content,
                           "hs_timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"},
            "associations": [{"to": {"id": str(deal_id)}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}]}]}


def note_ids_in_order(chunk: list[tuple[str, str]], results: list[Any]) -> list[str | Exception]:
    """Batch create results in input order: HubSpot does not promise the order, so each result is
    matched by its body (equal bodies take the results in turn)."""
    by_body: dict[str, list[str]] = {}
    for result in results:
        by_body.setdefault((result.properties or {}).get("hs_note_body", ""), []).append(str(result.id))
    out: list[str | Exception] = []
    for deal_id, content in chunk:
        ids = by_body.get(content)
        out.append(ids.pop(0) if ids else CrmError(f"HubSpot did not confirm the note on deal {deal_id}; "
                                                   "it is retried with the deal's next change."))
    return out
