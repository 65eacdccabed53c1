"""Shared helpers of the v2 routes: cursor paging, sorting, response envelopes, references.

Lists use cursor paging like the real v2 API: ``limit`` (default 100, at most 500) and an opaque
``cursor``; the response's ``additional_data.next_cursor`` is null on the last page. Cursors are
keyset positions (sort value + id), so records updated while a client pages move behind it
instead of shifting pages.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request

from dealbooks.sandbox.pipedrive.store import ApiError, Store

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


# -- paging ---------------------------------------------------------------------------------------
def page(request: Request, records: list[dict[str, Any]], sort_by: str = "id",
         direction: str = "asc") -> tuple[list[dict[str, Any]], str | None]:
    """One cursor page of ``records`` sorted by (``sort_by``, id)."""
    try:
        limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
    except ValueError as exc:
        raise ApiError(400, "limit must be an integer") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}")
    reverse = direction == "desc"
    records = sorted(records, key=lambda r: (r.get(sort_by) or "", r["id"]), reverse=reverse)
    cursor = request.query_params.get("cursor")
    if cursor:
        try:
            position = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
            after = (position["v"], position["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(400, "Invalid cursor") from exc
        if reverse:
            records = [r for r in records if ((r.get(sort_by) or ""), r["id"]) < after]
        else:
            records = [r for r in records if ((r.get(sort_by) or ""), r["id"]) > after]
    chunk = records[:limit]
    next_cursor = None
    if len(records) > limit:
        last = chunk[-1]
        raw = json.dumps({"v": last.get(sort_by) or "", "id": last["id"]}).encode()
        next_cursor = base64.urlsafe_b64encode(raw).decode()
    return chunk, next_cursor


def sort_params(request: Request, allowed: tuple[str, ...]) -> tuple[str, str]:
    sort_by = request.query_params.get("sort_by", "id")
    direction = request.query_params.get("sort_direction", "asc")
    if sort_by not in allowed:
        raise ApiError(400, f"sort_by must be one of: {', '.join(allowed)}")
    if direction not in ("asc", "desc"):
        raise ApiError(400, "sort_direction must be asc or desc")
    return sort_by, direction


def listed(data: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"success": True, "data": data, "additional_data": {"next_cursor": next_cursor}}


def one(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def int_list(raw: str | None, name: str) -> set[int] | None:
    if not raw:
        return None
    try:
        return {int(x) for x in raw.split(",") if x.strip()}
    except ValueError as exc:
        raise ApiError(400, f"{name} must be a comma-separated list of integers") from exc


def require_ref(store: Store, kind: str, value: Any, label: str) -> int | None:
    if value is None:
        return None
    try:
        ref = int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"{label} must be an integer") from exc
    if str(ref) not in store.table(kind):
        raise ApiError(400, f"{label.replace('_id', '').capitalize()} with id {ref} does not exist")
    return ref
