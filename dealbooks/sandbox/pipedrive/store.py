"""Pipedrive emulator records: storage in ``state.data["pipedrive"]`` and the API shapes.

Records are kept in one canonical, JSON-able form close to the v2 API (integer ids, RFC 3339
times ending in ``Z``, custom field values under ``custom_fields`` by their 40-char hash key).
The v2 and v1 response shapes are rendered from it. Callers hold ``state.lock`` while reading or
mutating and call ``state.mark_dirty()`` after a mutation.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timezone
from typing import Any

from dealbooks.sandbox.state import SandboxState

COLLECTIONS = (
    "users", "pipelines", "stages", "products", "organizations", "persons", "deals",
    "deal_products", "notes", "deal_fields", "webhooks",
)

DEAL_STATUSES = ("open", "won", "lost", "deleted")

# Field types accepted by POST /v1/dealFields (the subset the emulator validates values for).
FIELD_TYPES = ("varchar", "varchar_auto", "text", "double", "monetary", "date", "enum", "set",
               "phone", "time", "address", "int")

STANDARD_DEAL_FIELDS = (
    ("title", "Title", "varchar"), ("value", "Value", "monetary"), ("currency", "Currency", "varchar"),
    ("status", "Status", "status"), ("stage_id", "Stage", "stage"), ("pipeline_id", "Pipeline", "double"),
    ("person_id", "Contact person", "people"), ("org_id", "Organization", "org"),
    ("owner_id", "Owner", "user"), ("add_time", "Deal created", "date"),
    ("update_time", "Update time", "date"), ("won_time", "Won time", "date"),
    ("expected_close_date", "Expected close date", "date"),
)

DEAL_WRITABLE = ("title", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id", "value",
                 "currency", "status", "expected_close_date", "probability", "lost_reason",
                 "visible_to", "label_ids", "add_time", "won_time", "lost_time", "close_time")


def iso(dt: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, second precision, as the v2 API writes times."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_time(value: str | None) -> str | None:
    """A stored v2 time as the v1 API writes it (``YYYY-MM-DD HH:MM:SS``, UTC)."""
    if not value:
        return None
    return value.replace("T", " ").rstrip("Z")


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 time (``Z`` or offset; a naive value is UTC).

    Raises:
        ValueError: not a time.
    """
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


class ApiError(Exception):
    """An error answered in Pipedrive's error shape with an HTTP status."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class Store:
    """Typed access to the emulator's part of the sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # -- raw access -----------------------------------------------------------------------------
    @property
    def root(self) -> dict[str, Any]:
        data = self.state.data.setdefault("pipedrive", {})
        for name in COLLECTIONS:
            data.setdefault(name, {})
        data.setdefault("next_id", {})
        return data

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.root[name]

    def next_id(self, kind: str) -> int:
        counters = self.root["next_id"]
        counters[kind] = int(counters.get(kind, 0)) + 1
        return counters[kind]

    def get(self, kind: str, record_id: Any, label: str | None = None) -> dict[str, Any]:
        """The record or a 404 ``ApiError`` named like Pipedrive's ("Deal not found")."""
        record = self.table(kind).get(str(record_id))
        if record is None:
            raise ApiError(404, f"{label or kind.rstrip('s').capitalize()} not found")
        return record

    def now(self) -> str:
        return iso(self.state.now())

    @property
    def company(self) -> dict[str, Any]:
        return self.root.setdefault("company", {})

    @property
    def default_user_id(self) -> int:
        return int(self.company.get("admin_user_id", 1))

    # -- custom fields --------------------------------------------------------------------------
    def custom_deal_fields(self) -> list[dict[str, Any]]:
        fields = [f for f in self.table("deal_fields").values() if f.get("edit_flag") and f.get("active_flag")]
        return sorted(fields, key=lambda f: f["id"])

    def field_key(self, field_id: int, name: str) -> str:
        """A 40-hex key unique to this account (like Pipedrive's hash keys), stable per field id."""
        salt = self.company.get("field_salt", "")
        return hashlib.sha1(f"{salt}:{field_id}:{name}".encode()).hexdigest()

    def coerce_custom(self, values: Any) -> dict[str, Any]:
        """Validate a ``custom_fields`` object against the deal fields; returns key → stored value."""
        if not isinstance(values, dict):
            raise ApiError(400, "custom_fields must be an object")
        by_key = {f["key"]: f for f in self.custom_deal_fields()}
        unknown = [k for k in values if k not in by_key]
        if unknown:
            raise ApiError(400, f"Invalid field(s) in the payload: {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for key, value in values.items():
            out[key] = _coerce_value(by_key[key], value)
        return out

    # -- v2 renderings --------------------------------------------------------------------------
    def deal_v2(self, deal: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in deal.items() if k != "custom_fields"}
        stored = deal.get("custom_fields") or {}
        out["custom_fields"] = {f["key"]: copy.deepcopy(stored.get(f["key"])) for f in self.custom_deal_fields()}
        return out

    def plain_v2(self, record: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(record)

    # -- v1 renderings --------------------------------------------------------------------------
    def user_v1(self, user_id: int | None) -> dict[str, Any] | None:
        user = self.table("users").get(str(user_id)) if user_id is not None else None
        if user is None:
            return None
        return {"id": user["id"], "name": user["name"], "email": user["email"], "has_pic": 0,
                "pic_hash": None, "active_flag": True, "value": user["id"]}

    def person_ref_v1(self, person_id: int | None) -> dict[str, Any] | None:
        person = self.table("persons").get(str(person_id)) if person_id is not None else None
        if person is None:
            return None
        return {"active_flag": not person.get("is_deleted", False), "name": person["name"],
                "email": [_v1_contact(e) for e in person.get("emails", [])] or [{"value": "", "primary": True}],
                "phone": [_v1_contact(p) for p in person.get("phones", [])] or [{"value": "", "primary": True}],
                "owner_id": person.get("owner_id"), "value": person["id"]}

    def org_ref_v1(self, org_id: int | None) -> dict[str, Any] | None:
        org = self.table("organizations").get(str(org_id)) if org_id is not None else None
        if org is None:
            return None
        address = org.get("address") or {}
        return {"name": org["name"], "people_count": sum(1 for p in self.table("persons").values()
                                                         if p.get("org_id") == org["id"]),
                "owner_id": org.get("owner_id"), "address": address.get("value") or None,
                "active_flag": not org.get("is_deleted", False),
                "cc_email": f"{self.company.get('domain', 'sandbox')}@pipedrivemail.com", "value": org["id"]}

    def deal_v1(self, deal: dict[str, Any]) -> dict[str, Any]:
        """The v1 deal: ``user_id``/``person_id``/``org_id`` as objects with ``value``, v1 times."""
        owner = self.table("users").get(str(deal.get("owner_id")))
        person = self.table("persons").get(str(deal.get("person_id")))
        org = self.table("organizations").get(str(deal.get("org_id")))
        stage = self.table("stages").get(str(deal.get("stage_id")))
        products = [p for p in self.table("deal_products").values() if p["deal_id"] == deal["id"]]
        notes = [n for n in self.table("notes").values() if n.get("deal_id") == deal["id"] and n.get("active_flag")]
        deleted = bool(deal.get("is_deleted"))
        out: dict[str, Any] = {
            "id": deal["id"],
            "creator_user_id": self.user_v1(deal.get("creator_user_id")),
            "user_id": self.user_v1(deal.get("owner_id")),
            "person_id": self.person_ref_v1(deal.get("person_id")),
            "org_id": self.org_ref_v1(deal.get("org_id")),
            "stage_id": deal.get("stage_id"),
            "title": deal["title"],
            "value": deal.get("value", 0),
            "currency": deal.get("currency"),
            "add_time": v1_time(deal.get("add_time")),
            "update_time": v1_time(deal.get("update_time")),
            "stage_change_time": v1_time(deal.get("stage_change_time")),
            "active": deal.get("status") == "open" and not deleted,
            "deleted": deleted,
            "status": "deleted" if deleted else deal.get("status"),
            "probability": deal.get("probability"),
            "lost_reason": deal.get("lost_reason"),
            "visible_to": str(deal.get("visible_to", 3)),
            "close_time": v1_time(deal.get("close_time")),
            "pipeline_id": deal.get("pipeline_id"),
            "won_time": v1_time(deal.get("won_time")),
            "first_won_time": v1_time(deal.get("first_won_time")),
            "lost_time": v1_time(deal.get("lost_time")),
            "products_count": len(products),
            "notes_count": len(notes),
            "expected_close_date": deal.get("expected_close_date"),
            "label": ",".join(str(x) for x in deal.get("label_ids") or []) or None,
            "stage_order_nr": stage.get("order_nr") if stage else None,
            "person_name": person["name"] if person else None,
            "org_name": org["name"] if org else None,
            "owner_name": owner["name"] if owner else None,
            "formatted_value": f"{deal.get('value', 0)} {deal.get('currency')}",
            "weighted_value": deal.get("value", 0),
            "weighted_value_currency": deal.get("currency"),
            "cc_email": f"{self.company.get('domain', 'sandbox')}+deal{deal['id']}@pipedrivemail.com",
            "org_hidden": False,
            "person_hidden": False,
        }
        stored = deal.get("custom_fields") or {}
        for field in self.custom_deal_fields():
            out[field["key"]] = stored.get(field["key"])
        return out

    def related_objects_v1(self, deal: dict[str, Any]) -> dict[str, Any]:
        related: dict[str, Any] = {}
        owner = self.user_v1(deal.get("owner_id"))
        if owner:
            user = dict(owner)
            user.pop("value")
            related["user"] = {str(user["id"]): user}
        person = self.person_ref_v1(deal.get("person_id"))
        if person:
            related["person"] = {str(person["value"]): {"active_flag": person["active_flag"], "id": person["value"],
                                                        "name": person["name"], "email": person["email"],
                                                        "phone": person["phone"]}}
        org = self.org_ref_v1(deal.get("org_id"))
        if org:
            related["organization"] = {str(org["value"]): {"id": org["value"], "name": org["name"],
                                                           "people_count": org["people_count"],
                                                           "owner_id": org["owner_id"], "address": org["address"],
                                                           "active_flag": org["active_flag"],
                                                           "cc_email": org["cc_email"]}}
        return related

    def note_v1(self, note: dict[str, Any]) -> dict[str, Any]:
        out = dict(note)
        out["add_time"] = v1_time(note.get("add_time"))
        out["update_time"] = v1_time(note.get("update_time"))
        deal = self.table("deals").get(str(note.get("deal_id")))
        out["deal"] = {"title": deal["title"]} if deal else None
        owner = self.table("users").get(str(note.get("user_id")))
        out["user"] = ({"email": owner["email"], "name": owner["name"], "icon_url": None, "is_you": True}
                       if owner else None)
        return out

    # -- derived values -------------------------------------------------------------------------
    def recompute_deal_value(self, deal: dict[str, Any]) -> None:
        """Pipedrive sets a deal's value to the sum of its enabled products when it has any."""
        lines = [p for p in self.table("deal_products").values() if p["deal_id"] == deal["id"] and p.get("is_enabled", True)]
        if lines:
            deal["value"] = round(sum(float(p["sum"]) for p in lines), 2)


def product_sum(item_price: float, quantity: float, discount: float, discount_type: str,
                tax: float, tax_method: str) -> float:
    """A deal product's ``sum``: price × quantity less the discount, plus tax when exclusive.

    (?) Pipedrive documents ``sum`` as the total including the discount; with an exclusive tax
    method the UI shows tax on top, so the emulator adds it for ``tax_method == "exclusive"``.
    """
    gross = item_price * quantity
    net = gross - gross * discount / 100 if discount_type == "percentage" else gross - discount
    if tax_method == "exclusive" and tax:
        net += net * tax / 100
    return round(net, 2)


def _v1_contact(entry: dict[str, Any]) -> dict[str, Any]:
    return {"label": entry.get("label", "work"), "value": entry.get("value", ""), "primary": bool(entry.get("primary"))}


def _coerce_value(field: dict[str, Any], value: Any) -> Any:
    if value is None or value == "":
        return None
    kind = field.get("field_type")
    name = field.get("name")
    if kind in ("double", "int"):
        if isinstance(value, bool):
            raise ApiError(400, f"Custom field '{name}' expects a number")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Custom field '{name}' expects a number, got {value!r}") from exc
        return int(number) if kind == "int" else number
    if kind == "monetary":
        if isinstance(value, dict):
            amount = value.get("value")
            currency = value.get("currency")
        else:
            amount, currency = value, None
        try:
            return {"value": float(amount), "currency": currency}
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Custom field '{name}' expects a monetary value") from exc
    if kind == "date":
        try:
            return datetime.strptime(str(value)[:10], "%Y-%m-%d").date().isoformat()
        except ValueError as exc:
            raise ApiError(400, f"Custom field '{name}' expects a date YYYY-MM-DD, got {value!r}") from exc
    if not isinstance(value, (str, int, float)):
        raise ApiError(400, f"Custom field '{name}' expects a string")
    text = str(value)
    if kind in ("varchar", "varchar_auto", "phone") and len(text) > 255:
        raise ApiError(400, f"Custom field '{name}' is limited to 255 characters")
    return text
