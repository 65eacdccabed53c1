"""Change data capture: ``GET /cdc?entities=Invoice,Payment&changedSince=...``.

At most 30 days back; at most 1000 objects per response (the oldest changes first, so a client can
move ``changedSince`` forward); deleted objects appear as ``{"Id", "status": "Deleted", ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dealbooks.sandbox.qbo import errors, util
from dealbooks.sandbox.qbo.store import Company

MAX_OBJECTS = 1000
MAX_DAYS = 30
CDC_ENTITIES = {"Customer", "Vendor", "Employee", "Item", "Account", "Term", "TaxCode", "TaxRate", "Invoice",
                "Payment", "CompanyInfo", "Preferences"}


def changes(company: Company, entities: str, changed_since: str,
            decorate: Callable[[str, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Build the ``CDCResponse`` list content.

    Raises:
        QboFault: 2020 for a missing parameter, 4001 for an unknown entity or a window over 30 days.
    """
    if not entities:
        raise errors.required("entities")
    if not changed_since:
        raise errors.required("changedSince")
    canonical = {name.lower(): name for name in CDC_ENTITIES}
    names = []
    for raw in entities.split(","):
        name = canonical.get(raw.strip().lower())
        if name is None:
            raise errors.query_validation_error(f"Invalid entity {raw.strip()} for change data capture")
        names.append(name)
    try:
        since = util.parse_instant(changed_since, company.zone)
    except ValueError as exc:
        raise errors.query_validation_error(f"invalid changedSince value '{changed_since}'") from exc
    if since < company.now() - timedelta(days=MAX_DAYS):
        raise errors.query_validation_error(f"changedSince can not be more than {MAX_DAYS} days in the past")
    floor = since.timestamp()
    found: list[tuple[float, str, str]] = []
    for name in names:
        for record_id, epoch in company.doc["changes"].get(name, {}).items():
            if epoch >= floor:
                found.append((epoch, name, record_id))
    found.sort(key=lambda item: item[0])
    found = found[:MAX_OBJECTS]
    per_entity: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _, name, record_id in found:
        rec = company.get(name, record_id)
        if rec is not None:
            per_entity[name].append(decorate(name, rec))
        elif company.is_deleted(name, record_id):
            stamp = company.doc["deleted"][name][record_id]
            per_entity[name].append({"domain": "QBO", "status": "Deleted", "Id": record_id,
                                     "MetaData": {"LastUpdatedTime": stamp}})
    blocks = []
    for name in names:
        rows = per_entity[name]
        blocks.append({name: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
    return {"QueryResponse": blocks}
