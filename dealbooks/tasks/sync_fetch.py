"""What changed in QuickBooks since the last status sync: CDC, paged queries, or everything.

Three ways to fetch, cheapest first:

- ``cdc``: one ``GET /cdc?entities=Invoice,Payment&changedSince=<cursor>`` returns every invoice and
  payment changed since the cursor, deletions included. Used when the cursor is inside QBO's
  30-day window and fewer than 1000 objects changed (one response holds at most 1000).
- ``query``: paged ``SELECT * FROM Invoice|Payment WHERE MetaData.LastUpdatedTime >= cursor`` when
  CDC is capped or refuses the window. Queries do not return deleted objects; the periodic full
  reconcile finds those.
- ``full``: every invoice (paged), plus the payments changed since the cursor (all payments when
  there is none). Invoices the ledger knows but QBO no longer lists are deleted.

The cursor is QBO's own clock (the ``time`` of the first response) minus ``CURSOR_OVERLAP``, never
the worker's clock: a sandbox clock moved forward, or a worker clock that drifts, cannot skip
changes. Re-fetching the overlap costs nothing but a compare (unchanged rows make no events).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dealbooks.domain.status import parse_timestamp
from dealbooks.exceptions import QboValidationError

log = logging.getLogger("dealbooks.sync")

CDC_MAX_OBJECTS = 1000
CDC_WINDOW = timedelta(days=30)
CDC_MARGIN = timedelta(hours=1)  # stay clear of the window's edge (clock differences)
CURSOR_OVERLAP = timedelta(minutes=5)
PAGE_SIZE = 1000
ENTITIES = ("Invoice", "Payment")


@dataclass
class Fetched:
    """Invoices and payments fetched from QBO for one sync.

    Attributes:
        mode: "cdc", "query" or "full".
        invoices: QBO Invoice JSON (CDC deletion stubs included).
        payments: QBO Payment JSON changed in the window.
        server_time: QBO's clock when the fetch started (UTC).
        since: The cursor the fetch started from (None: from the beginning).
        complete: True when ``invoices`` lists every invoice of the company (full mode).
        requests: QBO requests made.
        reason: Why this mode was used (shown in logs and the run's result).
    """

    mode: str
    invoices: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    server_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    since: datetime | None = None
    complete: bool = False
    requests: int = 0
    reason: str = ""

    @property
    def next_cursor(self) -> datetime:
        """Where the next incremental sync starts."""
        return self.server_time - CURSOR_OVERLAP


def _server_time(body: Mapping[str, Any]) -> datetime:
    """The ``time`` QBO stamps on every response, as UTC; the worker's clock when absent."""
    return parse_timestamp(body.get("time")) or datetime.now(UTC)


def _instant(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _cdc(qbo: Any, since: datetime) -> Fetched:
    body = qbo.transport.request("GET", "cdc", params={"entities": ",".join(ENTITIES), "changedSince": _instant(since)})
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in ENTITIES}
    for block in body.get("CDCResponse", []):
        for response in block.get("QueryResponse", []):
            for name in ENTITIES:
                found[name].extend(response.get(name) or [])
    return Fetched("cdc", found["Invoice"], found["Payment"], _server_time(body), since, requests=1)


def _query_all(qbo: Any, sql: str) -> tuple[list[dict[str, Any]], datetime, int]:
    """Every row of ``sql`` over STARTPOSITION pages; also QBO's time at the first page and the page count."""
    entity = sql.split()[sql.upper().split().index("FROM") + 1]
    rows: list[dict[str, Any]] = []
    start, pages, first_time = 1, 0, None
    while True:
        text = f"{sql} STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
        body = qbo.transport.call(lambda qb, text=text: qb.query(text))
        pages += 1
        first_time = first_time or _server_time(body)
        page = (body.get("QueryResponse") or {}).get(entity) or []
        rows.extend(page)
        if len(page) < PAGE_SIZE:
            return rows, first_time, pages
        start += PAGE_SIZE


def _changed_since(qbo: Any, entity: str, since: datetime | None) -> tuple[list[dict[str, Any]], datetime, int]:
    where = f" WHERE MetaData.LastUpdatedTime >= '{_instant(since)}'" if since else ""
    return _query_all(qbo, f"SELECT * FROM {entity}{where} ORDERBY Id")


def fetch_by_query(qbo: Any, since: datetime, reason: str) -> Fetched:
    """Invoices and payments whose ``LastUpdatedTime`` is at or after ``since``, paged."""
    invoices, started, n1 = _changed_since(qbo, "Invoice", since)
    payments, _, n2 = _changed_since(qbo, "Payment", since)
    return Fetched("query", invoices, payments, started, since, requests=n1 + n2, reason=reason)


def fetch_all(qbo: Any, since: datetime | None, reason: str) -> Fetched:
    """Every invoice, and the payments changed since ``since`` (all when None)."""
    invoices, started, n1 = _query_all(qbo, "SELECT * FROM Invoice ORDERBY Id")
    payments, _, n2 = _changed_since(qbo, "Payment", since)
    return Fetched("full", invoices, payments, started, since, complete=True, requests=n1 + n2, reason=reason)


def fetch_changes(qbo: Any, since: datetime | None, *, full: bool = False, full_reason: str = "") -> Fetched:
    """Fetch what changed since ``since`` the cheapest way that is still complete.

    Args:
        qbo: The ``QboClient``.
        since: The stored cursor (QBO time); None when no sync has run yet.
        full: Fetch every invoice (the periodic full reconcile, or asked for).
        full_reason: Why a full fetch was asked for (for the run's result).

    Returns:
        The fetched invoices and payments, and where the next sync starts.
    """
    if since is None:
        return fetch_all(qbo, None, "first sync: every invoice is read once")
    if full:
        return fetch_all(qbo, since, full_reason or "full reconcile")
    if datetime.now(UTC) - since > CDC_WINDOW - CDC_MARGIN:
        return fetch_by_query(qbo, since, "cursor older than the 30-day CDC window")
    try:
        fetched = _cdc(qbo, since)
    except QboValidationError as exc:  # QBO refuses a window it considers over 30 days (its clock)
        log.info("CDC refused (%s); falling back to queries", exc.code or exc.category)
        return fetch_by_query(qbo, since, "CDC refused the window")
    if len(fetched.invoices) + len(fetched.payments) >= CDC_MAX_OBJECTS:
        return fetch_by_query(qbo, since, f"CDC hit its {CDC_MAX_OBJECTS}-object cap")
    fetched.reason = "incremental (CDC)"
    return fetched
