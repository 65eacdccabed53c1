"""Property definitions, property groups and pipelines of the emulated portal."""

from __future__ import annotations

import re
from typing import Any

from dealbooks.sandbox.hubspot import schema
from dealbooks.sandbox.hubspot.store import Store
from dealbooks.sandbox.hubspot.values import HubSpotApiError, bad_request

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}
_FIELD_TYPES = {"textarea", "text", "date", "file", "number", "select", "radio", "checkbox",
                "booleancheckbox", "calculation_equation", "html", "phonenumber"}


def _timestamps(definition: dict[str, Any]) -> dict[str, Any]:
    out = dict(definition)
    out.setdefault("createdAt", None)
    out.setdefault("updatedAt", None)
    return {k: v for k, v in out.items() if v is not None}


def list_properties(store: Store, object_type: str) -> list[dict[str, Any]]:
    return [_timestamps(p) for p in store.property_defs(object_type).values() if not p.get("archived")]


def get_property(store: Store, object_type: str, name: str) -> dict[str, Any]:
    prop = store.property_defs(object_type).get(name)
    if prop is None or prop.get("archived"):
        raise HubSpotApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on {object_type}")
    return _timestamps(prop)


def _groups(store: Store, object_type: str) -> dict[str, dict[str, Any]]:
    groups = {g["name"]: g for g in schema.BUILTIN_GROUPS[object_type]}
    groups.update(store.data["custom_groups"].get(object_type, {}))
    return groups


def list_groups(store: Store, object_type: str) -> list[dict[str, Any]]:
    return [g for g in _groups(store, object_type).values() if not g.get("archived")]


def get_group(store: Store, object_type: str, name: str) -> dict[str, Any]:
    group = _groups(store, object_type).get(name)
    if group is None:
        raise HubSpotApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property group {name} on {object_type}")
    return group


def create_group(store: Store, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
    name = str(body.get("name") or "")
    label = body.get("label")
    if not _NAME.match(name) or not label:
        raise bad_request("A property group needs a lower-case name ([a-z0-9_]) and a label.")
    if name in _groups(store, object_type):
        raise HubSpotApiError(409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists.")
    group = {"name": name, "label": str(label), "displayOrder": int(body.get("displayOrder", -1)),
             "archived": False}
    store.data["custom_groups"].setdefault(object_type, {})[name] = group
    store.state.mark_dirty()
    return group


def create_property(store: Store, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
    name = str(body.get("name") or "")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise bad_request(f"Missing required field(s) for a property: {', '.join(missing)}.")
    if not _NAME.match(name):
        raise bad_request(f"Property name '{name}' is invalid: use lower-case letters, digits and "
                          "underscores, starting with a letter.")
    if body["type"] not in _TYPES or body["fieldType"] not in _FIELD_TYPES:
        raise bad_request(f"Invalid type/fieldType combination {body['type']}/{body['fieldType']}.")
    if name in store.property_defs(object_type):
        raise HubSpotApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
    if body["groupName"] not in _groups(store, object_type):
        raise bad_request(f"Property group '{body['groupName']}' does not exist for {object_type}.")
    now = store.now_iso()
    options = [{"label": str(o.get("label", o.get("value"))), "value": str(o.get("value")),
                "displayOrder": int(o.get("displayOrder", i)), "hidden": bool(o.get("hidden", False)),
                "description": str(o.get("description", ""))}
               for i, o in enumerate(body.get("options") or [])]
    definition = {
        "name": name, "label": str(body["label"]), "type": body["type"], "fieldType": body["fieldType"],
        "groupName": body["groupName"], "description": str(body.get("description", "")),
        "options": options, "displayOrder": int(body.get("displayOrder", -1)), "calculated": False,
        "externalOptions": False, "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
        "hidden": bool(body.get("hidden", False)), "hubspotDefined": False,
        "formField": bool(body.get("formField", False)),
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        "archived": False, "createdAt": now, "updatedAt": now,
    }
    store.data["custom_properties"].setdefault(object_type, {})[name] = definition
    store.state.mark_dirty()
    return definition


def update_property(store: Store, object_type: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    definition = store.data["custom_properties"].get(object_type, {}).get(name)
    if definition is None:
        if name in store.property_defs(object_type):
            raise bad_request(f"Property {name} is defined by HubSpot and cannot be changed.")
        raise HubSpotApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on {object_type}")
    for key in ("label", "description", "groupName", "displayOrder", "hidden", "formField", "options"):
        if key in body:
            definition[key] = body[key]
    definition["updatedAt"] = store.now_iso()
    store.state.mark_dirty()
    return definition


def _pipeline_public(pipeline: dict[str, Any], created: str) -> dict[str, Any]:
    out = dict(pipeline)
    out.setdefault("createdAt", created)
    out.setdefault("updatedAt", created)
    out["stages"] = [{**s, "createdAt": s.get("createdAt", created), "updatedAt": s.get("updatedAt", created)}
                     for s in pipeline["stages"]]
    return out


def list_pipelines(store: Store, object_type: str) -> list[dict[str, Any]]:
    if object_type != "deals":
        return []
    created = store.data.get("seeded_at", store.now_iso())
    return [_pipeline_public(p, created) for p in store.data["pipelines"].get("deals", [])]


def get_pipeline(store: Store, object_type: str, pipeline_id: str) -> dict[str, Any]:
    for pipeline in list_pipelines(store, object_type):
        if pipeline["id"] == pipeline_id:
            return pipeline
    raise HubSpotApiError(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id} for {object_type}")
