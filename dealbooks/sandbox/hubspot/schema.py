"""Static facts of the emulated HubSpot portal: object types, built-in properties, association types.

Names and ids follow HubSpot's public CRM documentation: object type ids ``0-1`` contacts, ``0-2``
companies, ``0-3`` deals, ``0-7`` products, ``0-8`` line items, ``0-46`` notes; HUBSPOT_DEFINED
association type ids (deal→line item 19 / line item→deal 20, deal→company 5 primary / 341
unlabeled, deal→contact 3 / contact→deal 4, note→deal 214 / deal→note 213, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OBJECT_TYPES: dict[str, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "products": "0-7",
    "line_items": "0-8",
    "notes": "0-46",
}
"""Plural API name → object type id."""

SINGULAR: dict[str, str] = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "products": "product",
    "line_items": "line_item",
    "notes": "note",
}

V3_ASSOCIATION_KEYS: dict[str, str] = {"line_items": "line items"}
"""Key used in the v3 ``associations`` block of an object (HubSpot writes "line items" with a space)."""

_ALIASES: dict[str, str] = {}
for _plural, _type_id in OBJECT_TYPES.items():
    _ALIASES[_plural] = _plural
    _ALIASES[_type_id] = _plural
    _ALIASES[SINGULAR[_plural]] = _plural
_ALIASES["line items"] = "line_items"
_ALIASES["lineitems"] = "line_items"
_ALIASES["line_item"] = "line_items"


def normalize_object_type(name: str) -> str | None:
    """The plural API name for any accepted spelling (``deal``, ``deals``, ``0-3``); None if unknown."""
    return _ALIASES.get(name.strip().lower())


@dataclass(frozen=True)
class AssociationType:
    """One HUBSPOT_DEFINED association type (one direction)."""

    type_id: int
    from_type: str
    to_type: str
    inverse_id: int
    label: str | None = None
    default: bool = True

    @property
    def v3_name(self) -> str:
        """The type name in a v3 ``associations`` block (``deal_to_company_unlabeled`` ...)."""
        base = f"{SINGULAR[self.from_type]}_to_{SINGULAR[self.to_type]}"
        if self.label is None and (self.from_type, self.to_type) in _LABELLED_PAIRS:
            return f"{base}_unlabeled"
        return base


def _pair(a: int, b: int, from_type: str, to_type: str, label: str | None = None,
          default: bool = True) -> list[AssociationType]:
    return [AssociationType(a, from_type, to_type, b, label, default),
            AssociationType(b, to_type, from_type, a, label, default)]


ASSOCIATION_TYPES: dict[int, AssociationType] = {
    t.type_id: t
    for t in (
        *_pair(341, 342, "deals", "companies"),
        *_pair(5, 6, "deals", "companies", "Primary", default=False),
        *_pair(3, 4, "deals", "contacts"),
        *_pair(19, 20, "deals", "line_items"),
        *_pair(213, 214, "deals", "notes"),
        *_pair(279, 280, "contacts", "companies"),
        *_pair(1, 2, "contacts", "companies", "Primary", default=False),
        *_pair(202, 201, "notes", "contacts"),
        *_pair(190, 189, "notes", "companies"),
    )
}

_LABELLED_PAIRS = {(t.from_type, t.to_type) for t in ASSOCIATION_TYPES.values() if t.label}

IMPLIED_TYPES: dict[int, int] = {5: 341, 6: 342, 1: 279, 2: 280}
"""A labelled (primary) association always also carries the unlabelled type."""


def default_association_type(from_type: str, to_type: str) -> AssociationType | None:
    """The unlabelled default type between two object types, if HubSpot defines one."""
    for assoc in ASSOCIATION_TYPES.values():
        if assoc.from_type == from_type and assoc.to_type == to_type and assoc.default:
            return assoc
    return None


def _prop(name: str, label: str, type_: str = "string", field_type: str = "text", *,
          group: str = "", read_only: bool = False, calculated: bool = False,
          options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": options or [],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": False,
        "hubspotDefined": True,
        "formField": not read_only,
        "modificationMetadata": {"archivable": False, "readOnlyDefinition": True,
                                 "readOnlyValue": read_only or calculated},
        "archived": False,
    }


def _common(group: str, modified: str = "hs_lastmodifieddate") -> list[dict[str, Any]]:
    return [
        _prop("createdate", "Create Date", "datetime", "date", group=group, read_only=True),
        _prop(modified, "Last Modified Date", "datetime", "date", group=group, read_only=True),
        _prop("hs_object_id", "Record ID", "number", "number", group=group, read_only=True),
        _prop("hubspot_owner_id", "Owner", "enumeration", "select", group=group),
    ]


_CURRENCIES = [{"label": c, "value": c, "displayOrder": i, "hidden": False, "description": ""}
               for i, c in enumerate(("USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK"))]

BUILTIN_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "deals": [
        _prop("dealname", "Deal Name", group="dealinformation"),
        _prop("amount", "Amount", "number", "number", group="dealinformation"),
        _prop("pipeline", "Pipeline", "enumeration", "select", group="dealinformation"),
        _prop("dealstage", "Deal Stage", "enumeration", "radio", group="dealinformation"),
        _prop("closedate", "Close Date", "datetime", "date", group="dealinformation"),
        _prop("deal_currency_code", "Currency", "enumeration", "select", group="dealinformation",
              options=_CURRENCIES),
        _prop("dealtype", "Deal Type", "enumeration", "radio", group="dealinformation", options=[
            {"label": "New Business", "value": "newbusiness", "displayOrder": 0, "hidden": False,
             "description": ""},
            {"label": "Existing Business", "value": "existingbusiness", "displayOrder": 1,
             "hidden": False, "description": ""}]),
        _prop("description", "Deal Description", "string", "textarea", group="dealinformation"),
        _prop("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", group="dealinformation",
              calculated=True),
        _prop("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", group="dealinformation",
              calculated=True),
        _prop("hs_deal_stage_probability", "Deal probability", "number", "number",
              group="dealinformation", calculated=True),
        *_common("dealinformation"),
    ],
    "companies": [
        _prop("name", "Company name", group="companyinformation"),
        _prop("domain", "Company Domain Name", group="companyinformation"),
        _prop("phone", "Phone Number", group="companyinformation"),
        _prop("address", "Street Address", group="companyinformation"),
        _prop("address2", "Street Address 2", group="companyinformation"),
        _prop("city", "City", group="companyinformation"),
        _prop("state", "State/Region", group="companyinformation"),
        _prop("zip", "Postal Code", group="companyinformation"),
        _prop("country", "Country/Region", group="companyinformation"),
        _prop("industry", "Industry", group="companyinformation"),
        _prop("description", "Description", "string", "textarea", group="companyinformation"),
        *_common("companyinformation"),
    ],
    "contacts": [
        _prop("firstname", "First Name", group="contactinformation"),
        _prop("lastname", "Last Name", group="contactinformation"),
        _prop("email", "Email", group="contactinformation"),
        _prop("phone", "Phone Number", group="contactinformation"),
        _prop("company", "Company Name", group="contactinformation"),
        _prop("jobtitle", "Job Title", group="contactinformation"),
        _prop("address", "Street Address", group="contactinformation"),
        _prop("city", "City", group="contactinformation"),
        _prop("state", "State/Region", group="contactinformation"),
        _prop("zip", "Postal Code", group="contactinformation"),
        _prop("country", "Country/Region", group="contactinformation"),
        _prop("hs_lastmodifieddate", "Object last modified date/time", "datetime", "date",
              group="contactinformation", read_only=True),
        *_common("contactinformation", modified="lastmodifieddate"),
    ],
    "products": [
        _prop("name", "Name", group="productinformation"),
        _prop("description", "Description", "string", "textarea", group="productinformation"),
        _prop("price", "Unit price", "number", "number", group="productinformation"),
        _prop("hs_sku", "SKU", group="productinformation"),
        _prop("hs_cost_of_goods_sold", "Unit cost", "number", "number", group="productinformation"),
        _prop("recurringbillingfrequency", "Billing frequency", "enumeration", "select",
              group="productinformation"),
        *_common("productinformation"),
    ],
    "line_items": [
        _prop("name", "Name", group="lineiteminformation"),
        _prop("description", "Description", "string", "textarea", group="lineiteminformation"),
        _prop("quantity", "Quantity", "number", "number", group="lineiteminformation"),
        _prop("price", "Unit price", "number", "number", group="lineiteminformation"),
        _prop("amount", "Net price", "number", "number", group="lineiteminformation", calculated=True),
        _prop("discount", "Unit discount", "number", "number", group="lineiteminformation"),
        _prop("hs_discount_percentage", "Discount Percentage", "number", "number",
              group="lineiteminformation"),
        _prop("hs_total_discount", "Total discount", "number", "number", group="lineiteminformation",
              calculated=True),
        _prop("hs_product_id", "Product ID", "number", "number", group="lineiteminformation"),
        _prop("hs_sku", "SKU", group="lineiteminformation"),
        _prop("hs_line_item_currency_code", "Currency", "enumeration", "select",
              group="lineiteminformation", options=_CURRENCIES),
        _prop("hs_position_on_quote", "Position on quote", "number", "number",
              group="lineiteminformation"),
        _prop("recurringbillingfrequency", "Billing frequency", "enumeration", "select",
              group="lineiteminformation"),
        *_common("lineiteminformation"),
    ],
    "notes": [
        _prop("hs_note_body", "Note body", "string", "textarea", group="engagement"),
        _prop("hs_timestamp", "Activity date", "datetime", "date", group="engagement"),
        _prop("hs_attachment_ids", "Attachment IDs", "enumeration", "checkbox", group="engagement"),
        *_common("engagement"),
    ],
}

BUILTIN_GROUPS: dict[str, list[dict[str, Any]]] = {
    object_type: [{"name": group, "label": group.replace("information", " information").title(),
                   "displayOrder": -1, "archived": False}
                  for group in sorted({p["groupName"] for p in props})]
    for object_type, props in BUILTIN_PROPERTIES.items()
}

DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "products": ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
    "line_items": ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_product_id",
                   "name", "price", "quantity"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
"""Properties returned when a request names none (HubSpot's documented defaults)."""


def _stage(stage_id: str, label: str, order: int, probability: str, closed: bool) -> dict[str, Any]:
    return {"id": stage_id, "label": label, "displayOrder": order,
            "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
            "archived": False, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}


SEED_PIPELINES: list[dict[str, Any]] = [
    {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False, "stages": [
        _stage("appointmentscheduled", "Appointment Scheduled", 0, "0.2", False),
        _stage("qualifiedtobuy", "Qualified To Buy", 1, "0.4", False),
        _stage("presentationscheduled", "Presentation Scheduled", 2, "0.6", False),
        _stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, "0.8", False),
        _stage("contractsent", "Contract Sent", 4, "0.9", False),
        _stage("closedwon", "Closed Won", 5, "1.0", True),
        _stage("closedlost", "Closed Lost", 6, "0.0", True),
    ]},
    {"id": "75312001", "label": "Renewals", "displayOrder": 1, "archived": False, "stages": [
        _stage("75312002", "Renewal due", 0, "0.5", False),
        _stage("75312003", "Renewed", 1, "1.0", True),
        _stage("75312004", "Churned", 2, "0.0", True),
    ]},
]
"""The default deal pipeline plus a custom one whose stage ids are numeric, as custom stages are."""

SEED_PRODUCTS: list[dict[str, str]] = [
    {"name": "Consulting (hour)", "hs_sku": "CONSULT-HR", "price": "150.00",
     "description": "Implementation consulting, billed per hour"},
    {"name": "Pro licence (annual)", "hs_sku": "LIC-PRO", "price": "1200.00",
     "description": "Annual Pro licence, one seat"},
]
"""Products whose SKUs match the items the QBO sandbox seeds."""
