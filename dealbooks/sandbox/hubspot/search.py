"""CRM search (``POST /crm/v3/objects/{type}/search``) and plain listing with HubSpot's limits.

Limits as documented: ``limit`` ≤ 200, ≤ 5 filter groups, ≤ 6 filters per group (18 in all),
at most 10,000 results reachable through ``after`` paging.
"""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal
from typing import Any

from dealbooks.sandbox.hubspot.store import Store
from dealbooks.sandbox.hubspot.values import bad_request, parse_decimal, parse_time_ms

MAX_LIMIT = 200
MAX_RESULTS = 10000
_TOKEN = re.compile(r"[\w@.\-]+", re.UNICODE)
_QUERY_PROPS = {
    "deals": ("dealname",), "companies": ("name", "domain", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "products": ("name", "hs_sku", "description"), "line_items": ("name", "hs_sku"), "notes": ("hs_note_body",),
}


def _key(prop_type: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if prop_type == "number":
        return parse_decimal(value)
    if prop_type in ("datetime", "date"):
        return parse_time_ms(value)
    return str(value).casefold()


def _matches(record: dict[str, Any], flt: dict[str, Any], defs: dict[str, dict[str, Any]]) -> bool:
    name = flt.get("propertyName", "")
    operator = str(flt.get("operator", "EQ")).upper()
    prop_type = defs.get(name, {}).get("type", "string")
    raw = record["properties"].get(name)
    if name == "hs_object_id" or name == "id":
        raw, prop_type = record["id"], "number"
    current = _key(prop_type, raw)
    if operator == "HAS_PROPERTY":
        return current is not None
    if operator == "NOT_HAS_PROPERTY":
        return current is None
    if operator in ("IN", "NOT_IN"):
        values = {_key(prop_type, v) for v in flt.get("values") or []}
        return (current in values) == (operator == "IN")
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(flt.get("value", "")).casefold()
        tokens = _TOKEN.findall(str(raw or "").casefold()) + [str(raw or "").casefold()]
        hit = any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
        return hit == (operator == "CONTAINS_TOKEN")
    wanted = _key(prop_type, flt.get("value"))
    if operator == "EQ":
        return current == wanted
    if operator == "NEQ":
        return current != wanted
    if current is None or wanted is None:
        return False
    if operator == "BETWEEN":
        high = _key(prop_type, flt.get("highValue"))
        return high is not None and wanted <= current <= high
    comparisons = {"LT": current < wanted, "LTE": current <= wanted,
                   "GT": current > wanted, "GTE": current >= wanted}
    if operator not in comparisons:
        raise bad_request(f"Unknown filter operator {operator}.")
    return comparisons[operator]


def _sort_key(record: dict[str, Any], name: str, prop_type: str) -> tuple[int, Any]:
    if name in ("hs_object_id", "id"):
        return (0, int(record["id"]))
    value = _key(prop_type, record["properties"].get(name))
    if value is None:
        return (1, 0)
    return (0, value if not isinstance(value, Decimal) else float(value))


def _parse_sorts(sorts: list[Any]) -> list[tuple[str, bool]]:
    parsed = []
    for sort in sorts or []:
        if isinstance(sort, dict):
            parsed.append((str(sort.get("propertyName", "")),
                           str(sort.get("direction", "ASCENDING")).upper().startswith("DESC")))
        else:
            text = str(sort)
            parsed.append((text.lstrip("-"), text.startswith("-")))
    return parsed


def search(store: Store, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run one search request; returns HubSpot's ``{total, results, paging}`` document."""
    limit = int(body.get("limit") or 10)
    if limit < 1 or limit > MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
    groups = body.get("filterGroups") or []
    if len(groups) > 5 or any(len(g.get("filters") or []) > 6 for g in groups) or \
            sum(len(g.get("filters") or []) for g in groups) > 18:
        raise bad_request("Too many filters: at most 5 filterGroups with 6 filters each (18 in all).")
    try:
        after = int(body.get("after") or 0)
    except ValueError:
        raise bad_request(f"after must be a number, got {body.get('after')!r}.") from None
    if after + limit > MAX_RESULTS:
        raise bad_request(f"Paging past {MAX_RESULTS} results is not supported; narrow the filters "
                          "(e.g. by hs_lastmodifieddate) instead.")
    defs = store.property_defs(object_type)
    records = [r for r in store.data["objects"][object_type].values() if not r.get("archived")]
    if groups:
        records = [r for r in records
                   if any(all(_matches(r, f, defs) for f in g.get("filters") or []) for g in groups)]
    query = str(body.get("query") or "").strip().casefold()
    if query:
        props = _QUERY_PROPS.get(object_type, ())
        records = [r for r in records if any(query in str(r["properties"].get(p) or "").casefold()
                                             for p in props)]
    records.sort(key=lambda r: int(r["id"]))
    for name, descending in reversed(_parse_sorts(body.get("sorts") or [])):
        prop_type = defs.get(name, {}).get("type", "string")
        present = [r for r in records if _sort_key(r, name, prop_type)[0] == 0]
        absent = [r for r in records if _sort_key(r, name, prop_type)[0] == 1]
        present.sort(key=lambda r: _sort_key(r, name, prop_type)[1], reverse=descending)
        records = present + absent
    page = records[after:after + limit]
    out: dict[str, Any] = {
        "total": len(records),
        "results": [store.public(object_type, r, body.get("properties") or None) for r in page],
    }
    if after + limit < len(records):
        out["paging"] = {"next": {"after": str(after + limit)}}
    return out


def list_page(store: Store, object_type: str, limit: int, after: str | None, properties: list[str],
              associations: list[str], base_link: str) -> dict[str, Any]:
    """``GET /crm/v3/objects/{type}``: id order, cursor ``after`` is the last id seen."""
    if limit < 1 or limit > 100:
        raise bad_request(f"limit must be between 1 and 100, got {limit}.")
    records = sorted((r for r in store.data["objects"][object_type].values() if not r.get("archived")),
                     key=lambda r: int(r["id"]))
    if after:
        try:
            cursor = int(after)
        except ValueError:
            raise bad_request(f"after must be a record id, got {after!r}.") from None
        records = [r for r in records if int(r["id"]) > cursor]
    page = records[:limit]
    out: dict[str, Any] = {"results": [store.public(object_type, r, properties, associations) for r in page]}
    if len(records) > limit:
        next_after = str(int(page[-1]["id"]))
        out["paging"] = {"next": {"after": next_after, "link": f"{base_link}?after={next_after}"}}
    return out
