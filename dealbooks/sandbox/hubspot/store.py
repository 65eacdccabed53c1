"""The HubSpot portal's records in ``state.data["hubspot"]``: objects, associations, properties.

A ``Store`` is made per request; callers hold ``state.lock`` around every method and afterwards
hand ``store.events`` (webhook events the mutations produced) to the webhook module.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dealbooks.sandbox.hubspot import schema
from dealbooks.sandbox.hubspot.values import (
    bad_request,
    format_decimal,
    invalid_properties,
    iso_ms,
    normalize_value,
    not_found,
    parse_decimal,
)
from dealbooks.sandbox.state import SandboxState

SETTINGS_DEFAULTS: dict[str, Any] = {
    "rate_limit_per_10s": 190,
    "daily_limit": 625000,
    "search_per_second": 5,
}


def ensure_layout(state: SandboxState) -> dict[str, Any]:
    """The service's data document with every top-level key present (call under the lock)."""
    data = state.data.setdefault("hubspot", {})
    data.setdefault("portal_id", 0)
    data.setdefault("app_id", 0)
    data.setdefault("next_id", 10000000001)
    data.setdefault("next_event_id", 1)
    data.setdefault("next_subscription_id", 1)
    data.setdefault("objects", {name: {} for name in schema.OBJECT_TYPES})
    for name in schema.OBJECT_TYPES:
        data["objects"].setdefault(name, {})
    data.setdefault("associations", {})
    data.setdefault("custom_properties", {})
    data.setdefault("custom_groups", {})
    data.setdefault("pipelines", {})
    data.setdefault("subscriptions", [])
    settings = data.setdefault("settings", {})
    for key, value in SETTINGS_DEFAULTS.items():
        settings.setdefault(key, value)
    return data


class Store:
    """Operations on the portal's records; every method expects ``state.lock`` to be held."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.data = ensure_layout(state)
        self.events: list[dict[str, Any]] = []

    # -- helpers ---------------------------------------------------------------------------------
    def object_type(self, name: str) -> str:
        resolved = schema.normalize_object_type(name)
        if resolved is None:
            raise bad_request(f"Unable to infer object type from: {name}")
        return resolved

    def _new_id(self) -> str:
        value = self.data["next_id"]
        self.data["next_id"] = value + 1
        return str(value)

    def now_iso(self) -> str:
        return iso_ms(self.state.now())

    def property_defs(self, object_type: str) -> dict[str, dict[str, Any]]:
        defs = {p["name"]: p for p in schema.BUILTIN_PROPERTIES[object_type]}
        defs.update(self.data["custom_properties"].get(object_type, {}))
        if object_type == "deals":
            pipelines = self.data["pipelines"].get("deals", [])
            defs["pipeline"] = {**defs["pipeline"], "options": [
                {"label": p["label"], "value": p["id"], "displayOrder": p["displayOrder"],
                 "hidden": False, "description": ""} for p in pipelines]}
            defs["dealstage"] = {**defs["dealstage"], "options": [
                {"label": s["label"], "value": s["id"], "displayOrder": s["displayOrder"],
                 "hidden": False, "description": f"{p['label']}: {s['label']}"}
                for p in pipelines for s in p["stages"]]}
        return defs

    def pipeline(self, pipeline_id: str) -> dict[str, Any] | None:
        return next((p for p in self.data["pipelines"].get("deals", []) if p["id"] == pipeline_id), None)

    # -- objects ---------------------------------------------------------------------------------
    def get(self, object_type: str, object_id: str, *, archived: bool = False) -> dict[str, Any]:
        record = self.data["objects"][object_type].get(str(object_id))
        if record is None or record.get("archived", False) != archived:
            raise not_found(object_type, object_id)
        return record

    def find(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        record = self.data["objects"][object_type].get(str(object_id))
        return None if record is None or record.get("archived") else record

    def _validate(self, object_type: str, properties: dict[str, Any],
                  current: dict[str, Any] | None) -> dict[str, str]:
        defs = self.property_defs(object_type)
        problems: list[dict[str, Any]] = []
        clean: dict[str, str] = {}
        for name, value in (properties or {}).items():
            prop = defs.get(name)
            if prop is None:
                problems.append({"name": name, "error": "PROPERTY_DOESNT_EXIST",
                                 "message": f'Property "{name}" does not exist'})
                continue
            if prop["modificationMetadata"]["readOnlyValue"]:
                problems.append({"name": name, "error": "READ_ONLY_VALUE",
                                 "message": f'"{name}" is a read only property; its value cannot be set.'})
                continue
            if name in ("dealstage", "pipeline"):
                clean[name] = "" if value is None else str(value)
                continue
            stored, error = normalize_value(prop, value)
            if error:
                problems.append({"name": name, "error": error,
                                 "message": f"{value!r} was not a valid value for {name} ({error})"})
            else:
                clean[name] = stored or ""
        if object_type == "deals":
            self._validate_stage(clean, current, problems)
        if problems:
            raise invalid_properties(problems, self.data["portal_id"])
        return clean

    def _validate_stage(self, clean: dict[str, str], current: dict[str, Any] | None,
                        problems: list[dict[str, Any]]) -> None:
        if current is None or "pipeline" in clean or "dealstage" in clean:
            pipeline_id = clean.get("pipeline") or (current or {}).get("pipeline") or "default"
            pipeline = self.pipeline(pipeline_id)
            if pipeline is None:
                problems.append({"name": "pipeline", "error": "INVALID_OPTION",
                                 "message": f"{pipeline_id} was not one of the allowed options"})
                return
            stage_ids = [s["id"] for s in pipeline["stages"]]
            stage = clean.get("dealstage") or (current or {}).get("dealstage") or stage_ids[0]
            if stage not in stage_ids:
                problems.append({"name": "dealstage", "error": "INVALID_OPTION",
                                 "message": f"{stage} was not one of the allowed options: {stage_ids} "
                                            f"(pipeline {pipeline_id})"})
                return
            clean["pipeline"], clean["dealstage"] = pipeline_id, stage

    def _derive(self, object_type: str, props: dict[str, str], changed: set[str]) -> None:
        """Calculated properties (deal stage flags, line item amounts, product copy-through)."""
        if object_type == "deals" and ("dealstage" in changed or "pipeline" in changed):
            pipeline = self.pipeline(props.get("pipeline", "default"))
            stage = next((s for s in (pipeline or {}).get("stages", []) if s["id"] == props.get("dealstage")),
                         None)
            if stage is not None:
                closed = stage["metadata"]["isClosed"] == "true"
                won = closed and stage["metadata"]["probability"] == "1.0"
                props["hs_is_closed"] = "true" if closed else "false"
                props["hs_is_closed_won"] = "true" if won else "false"
                props["hs_deal_stage_probability"] = stage["metadata"]["probability"]
                if closed and not props.get("closedate"):
                    props["closedate"] = self.now_iso()
        if object_type == "line_items":
            quantity = parse_decimal(props.get("quantity")) or Decimal(0)
            price = parse_decimal(props.get("price")) or Decimal(0)
            gross = quantity * price
            percent = parse_decimal(props.get("hs_discount_percentage"))
            unit_discount = parse_decimal(props.get("discount"))
            if percent:
                total_discount = gross * percent / Decimal(100)
            else:
                total_discount = quantity * (unit_discount or Decimal(0))
            props["amount"] = format_decimal((gross - total_discount).quantize(Decimal("0.01")))
            props["hs_total_discount"] = format_decimal(total_discount.quantize(Decimal("0.01")))

    def _copy_product(self, props: dict[str, str]) -> None:
        product_id = props.get("hs_product_id")
        if not product_id:
            return
        product = self.find("products", product_id)
        if product is None:
            raise bad_request(f"Product with id {product_id} does not exist (hs_product_id).")
        for name in ("name", "price", "hs_sku", "description", "recurringbillingfrequency"):
            if not props.get(name) and product["properties"].get(name):
                props[name] = product["properties"][name]

    def create(self, object_type: str, properties: dict[str, Any],
               associations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        clean = self._validate(object_type, properties, None)
        if object_type == "notes" and not clean.get("hs_timestamp"):
            raise invalid_properties([{"name": "hs_timestamp", "error": "REQUIRED_PROPERTY",
                                       "message": "hs_timestamp is required"}], self.data["portal_id"])
        pending = [self._association_input(object_type, a) for a in associations or []]
        object_id = self._new_id()
        now = self.now_iso()
        props = {k: v for k, v in clean.items()}
        if object_type == "line_items":
            self._copy_product(props)
        props.update({"createdate": now, "hs_lastmodifieddate": now, "hs_object_id": object_id})
        if object_type == "contacts":
            props["lastmodifieddate"] = now
        if object_type == "notes":
            props["hs_createdate"] = now
        self._derive(object_type, props, set(props))
        record = {"id": object_id, "properties": props, "createdAt": now, "updatedAt": now,
                  "archived": False}
        self.data["objects"][object_type][object_id] = record
        for to_type, to_id, type_ids in pending:
            self.associate(object_type, object_id, to_type, to_id, type_ids)
        self._event(object_type, object_id, "creation", changeFlag="CREATED")
        self.state.mark_dirty()
        return record

    def _association_input(self, object_type: str, item: dict[str, Any]) -> tuple[str, str, list[int]]:
        to_id = str((item.get("to") or {}).get("id", ""))
        type_ids = []
        to_type = None
        for spec in item.get("types") or []:
            assoc = schema.ASSOCIATION_TYPES.get(int(spec.get("associationTypeId", 0)))
            if assoc is None or assoc.from_type != object_type:
                raise bad_request(f"Invalid association type {spec.get('associationTypeId')} "
                                  f"from {object_type}.", "VALIDATION_ERROR")
            to_type = assoc.to_type
            type_ids.append(assoc.type_id)
        if to_type is None:
            raise bad_request("Association input needs at least one type.")
        if self.find(to_type, to_id) is None:
            raise bad_request(f"Association target {schema.SINGULAR[to_type]} {to_id} does not exist.")
        return to_type, to_id, type_ids

    def update(self, object_type: str, object_id: str, properties: dict[str, Any],
               *, validated: dict[str, str] | None = None) -> dict[str, Any]:
        record = self.get(object_type, object_id)
        clean = validated if validated is not None else self._validate(object_type, properties,
                                                                         record["properties"])
        props = record["properties"]
        changed = {k for k, v in clean.items() if props.get(k, "") != v}
        if changed:
            for name in changed:
                props[name] = clean[name]
            now = self.now_iso()
            props["hs_lastmodifieddate"] = now
            if object_type == "contacts":
                props["lastmodifieddate"] = now
            record["updatedAt"] = now
            self._derive(object_type, props, changed)
            for name in sorted(changed):
                self._event(object_type, object_id, "propertyChange", propertyName=name,
                            propertyValue=props[name])
            self.state.mark_dirty()
        return record

    def validate_update(self, object_type: str, object_id: str, properties: dict[str, Any]) -> dict[str, str]:
        record = self.get(object_type, object_id)
        return self._validate(object_type, properties, record["properties"])

    def archive(self, object_type: str, object_id: str) -> None:
        record = self.get(object_type, object_id)
        record["archived"] = True
        record["archivedAt"] = self.now_iso()
        self._event(object_type, object_id, "deletion")
        self.state.mark_dirty()

    def public(self, object_type: str, record: dict[str, Any], properties: list[str] | None,
               associations: list[str] | None = None) -> dict[str, Any]:
        """The object as the API returns it: the requested (or default) properties only."""
        names = properties if properties else list(schema.DEFAULT_PROPERTIES[object_type])
        defs = self.property_defs(object_type)
        props = {n: (record["properties"].get(n) or None) for n in names if n in defs}
        out: dict[str, Any] = {"id": record["id"], "properties": props, "createdAt": record["createdAt"],
                               "updatedAt": record["updatedAt"], "archived": record.get("archived", False)}
        if record.get("archivedAt"):
            out["archivedAt"] = record["archivedAt"]
        if associations:
            block: dict[str, Any] = {}
            for name in associations:
                to_type = schema.normalize_object_type(name)
                if to_type is None:
                    continue
                results = [{"id": to_id, "type": schema.ASSOCIATION_TYPES[t].v3_name}
                           for to_id, type_ids in self.associations_of(object_type, record["id"], to_type)
                           for t in type_ids]
                if results:
                    block[schema.V3_ASSOCIATION_KEYS.get(to_type, to_type)] = {"results": results}
            if block:
                out["associations"] = block
        return out

    # -- associations ----------------------------------------------------------------------------
    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str,
                  type_ids: list[int]) -> list[int]:
        self.get(from_type, from_id)
        self.get(to_type, to_id)
        wanted: set[int] = set()
        for type_id in type_ids:
            assoc = schema.ASSOCIATION_TYPES.get(type_id)
            if assoc is None or assoc.from_type != from_type or assoc.to_type != to_type:
                raise bad_request(f"{type_id} is not a valid association type between "
                                  f"{from_type} and {to_type}.")
            wanted.add(type_id)
            if type_id in schema.IMPLIED_TYPES:
                wanted.add(schema.IMPLIED_TYPES[type_id])
        for a_type, a_id, b_type, b_id, ids in (
            (from_type, from_id, to_type, to_id, wanted),
            (to_type, to_id, from_type, from_id, {schema.ASSOCIATION_TYPES[t].inverse_id for t in wanted}),
        ):
            bucket = self.data["associations"].setdefault(f"{a_type}:{a_id}", {}).setdefault(b_type, {})
            bucket[str(b_id)] = sorted(set(bucket.get(str(b_id), [])) | ids)
        self._event(from_type, from_id, "associationChange", associationType=f"{schema.SINGULAR[from_type]}"
                    f"_TO_{schema.SINGULAR[to_type]}".upper(), fromObjectId=int(from_id),
                    toObjectId=int(to_id), associationRemoved=False)
        self.state.mark_dirty()
        return sorted(wanted)

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        for a_type, a_id, b_type, b_id in ((from_type, from_id, to_type, to_id),
                                           (to_type, to_id, from_type, from_id)):
            self.data["associations"].get(f"{a_type}:{a_id}", {}).get(b_type, {}).pop(str(b_id), None)
        self.state.mark_dirty()

    def associations_of(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[int]]]:
        bucket = self.data["associations"].get(f"{from_type}:{from_id}", {}).get(to_type, {})
        return [(to_id, ids) for to_id, ids in sorted(bucket.items(), key=lambda kv: int(kv[0]))
                if ids and self.find(to_type, to_id) is not None]

    # -- events ----------------------------------------------------------------------------------
    def _event(self, object_type: str, object_id: str, kind: str, **extra: Any) -> None:
        event_id = self.data["next_event_id"]
        self.data["next_event_id"] = event_id + 1
        self.events.append({"eventId": event_id, "portalId": self.data["portal_id"],
                            "appId": self.data["app_id"],
                            "occurredAt": int(self.state.now().timestamp() * 1000),
                            "subscriptionType": f"{schema.SINGULAR[object_type]}.{kind}",
                            "attemptNumber": 0, "objectId": int(object_id), "changeSource": "API",
                            **extra})
