"""``POST /batch``: up to 30 create/update/delete/query items; one 200 with per-item results or Faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dealbooks.sandbox.qbo import errors, query, service
from dealbooks.sandbox.qbo.store import Company
from dealbooks.sandbox.qbo.webhooks import Event

MAX_ITEMS = 30


def run(company: Company, body: Any, events: list[Event],
        decorate: Callable[[str, dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Execute a batch; each item fails or succeeds on its own.

    Raises:
        QboFault: for a malformed envelope or more than 30 items (the whole request fails).
    """
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise errors.required("BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise errors.QboFault(2010, "Request has invalid or unsupported property",
                              f"Batch request can have at most {MAX_ITEMS} BatchItemRequest items; "
                              f"{len(items)} supplied.", "BatchItemRequest")
    results = []
    for item in items:
        bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
        try:
            results.append(_one(company, item, events, decorate))
        except errors.QboFault as fault:
            results.append({"bId": bid, "Fault": fault.fault()})
    return results


def _one(company: Company, item: Any, events: list[Event],
         decorate: Callable[[str, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(item, dict) or not item.get("bId"):
        raise errors.required("bId")
    bid = str(item["bId"])
    if "Query" in item:
        return {"bId": bid, "QueryResponse": query.execute(company, str(item["Query"]), decorate)}
    keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
    if len(keys) != 1:
        raise errors.invalid_property("A batch item must carry exactly one entity or a Query")
    entity = service.entity_of(keys[0])
    payload = item[keys[0]]
    if not isinstance(payload, dict):
        raise errors.invalid_property(f"{keys[0]} must be an object")
    operation = str(item.get("operation") or "create").lower()
    if operation == "delete":
        return {"bId": bid, entity: service.delete(company, entity, payload, events)}
    if operation == "void":
        return {"bId": bid, entity: decorate(entity, service.void(company, entity, payload, events))}
    if operation not in ("create", "update"):
        raise errors.unsupported(f"Operation {operation} is not supported in batch.")
    if operation == "create" and payload.get("Id") not in (None, "", 0, "0"):
        raise errors.invalid_property("Id must not be supplied for a create operation")
    if operation == "update" and payload.get("Id") in (None, "", 0, "0"):
        raise errors.required("Id")
    return {"bId": bid, entity: decorate(entity, service.save(company, entity, payload, events))}
