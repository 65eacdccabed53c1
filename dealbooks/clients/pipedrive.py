"""Pipedrive client: a thin typed httpx client implementing ``CrmClient``.

Uses API v2 for deals, persons, organizations, products and deal products, and v1 where v2 has
no equivalent (deal fields, notes, the current user's company domain). The API token travels in
the ``x-api-token`` header only — never in the query string, where it would end up in httpx's
error messages and in logs.

Rate limits: Pipedrive answers every request with ``x-ratelimit-remaining`` / ``x-ratelimit-reset``
for its 2-second burst window. The client waits for the window to reset when it has used it up,
and on a 429 it sleeps ``Retry-After`` (or ``x-ratelimit-reset``) and retries, up to
``max_retries`` times, before raising ``CrmRateLimited``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from dealbooks.clients.crm import note_or_error
from dealbooks.domain.deal import (INVOICE_FIELD_LABELS, Address, CrmName, Deal, DealInvoiceFields, LineItem,
                                   Organization, Person)
from dealbooks.exceptions import CrmAuthError, CrmError, CrmNotFound, CrmRateLimited

log = logging.getLogger("dealbooks.clients.pipedrive")

PAGE_LIMIT = 500  # the v2 maximum
MAX_WAIT_SECONDS = 60.0

# Pipedrive custom field types the write-back fields are created with.
FIELD_TYPES: dict[str, str] = {
    "invoice_id": "varchar", "invoice_number": "varchar", "invoice_url": "varchar", "status": "varchar",
    "amount_billed": "double", "amount_paid": "double", "balance": "double", "currency": "varchar",
    "due_date": "date", "last_payment_date": "date",
}
EXTRA_DEAL_FIELDS = ("expected_close_date", "probability", "label_ids", "lost_reason", "origin")


class PipedriveClient:
    """Pipedrive API client for one company (one API token).

    Args:
        base_url: API root without ``/api/v2`` (``https://api.pipedrive.com`` or a sandbox's
            ``http://127.0.0.1:PORT/pipedrive``).
        api_token: the personal API token.
        company_domain: the company's subdomain for deal links; looked up once through
            ``/v1/users/me`` when empty.
        timeout: seconds per request.
        max_retries: retries after a 429, a 5xx or a connection failure (idempotent requests only
            for the latter two).
        field_keys: known invoice field name → custom field key (skips the lookup).
        page_limit: items per page of v2 lists (at most 500).
        transport: an httpx transport (tests).
        sleep: sleep function (tests).
    """

    crm: CrmName = "pipedrive"

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        company_domain: str = "",
        timeout: float = 30.0,
        max_retries: int = 3,
        field_keys: Mapping[str, str] | None = None,
        page_limit: int = PAGE_LIMIT,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_token:
            raise CrmAuthError("The Pipedrive API token is empty: set api_token on the Pipedrive block.")
        self.base_url = base_url.rstrip("/")
        self.company_domain = company_domain
        self.max_retries = max_retries
        self.page_limit = max(1, min(page_limit, PAGE_LIMIT))
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"x-api-token": api_token, "Accept": "application/json",
                                           "User-Agent": "dealbooks"})
        self._field_keys: dict[str, str] = dict(field_keys or {})
        self._field_types: dict[str, str] = {}
        self._users: dict[int, str] | None = None
        self._product_code_cache: dict[int, str] = {}
        self._gate = threading.Lock()
        self._blocked_until = 0.0
        self.calls = 0

    # -- plumbing -------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PipedriveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, what: str = "") -> Any:
        """One API call; returns the parsed JSON body (floats as ``Decimal``).

        Raises:
            CrmNotFound: 404 (``what`` names the object in the message).
            CrmAuthError: 401/403.
            CrmRateLimited: still 429 after ``max_retries`` waits.
            CrmError: any other failure; ``retryable`` for 5xx and connection errors.
        """
        idempotent = method in ("GET", "PATCH", "PUT", "DELETE")
        attempt = 0
        while True:
            self._wait_for_window()
            try:
                self.calls += 1
                response = self._http.request(method, path, params=params, json=json_body)
            except httpx.TimeoutException as exc:
                if idempotent and attempt < self.max_retries:
                    attempt += 1
                    self._sleep(min(2 ** attempt, 10))
                    continue
                raise CrmError(f"Pipedrive did not answer {method} {path} in time ({type(exc).__name__}); "
                               "try again later.", retryable=True) from None
            except httpx.HTTPError as exc:
                if idempotent and attempt < self.max_retries:
                    attempt += 1
                    self._sleep(min(2 ** attempt, 10))
                    continue
                raise CrmError(f"Could not reach Pipedrive at {self.base_url} for {method} {path} "
                               f"({type(exc).__name__}); check the network and the block's base_url.",
                               retryable=True) from None
            self._note_limits(response)
            if response.status_code == 429:
                wait = _retry_after(response)
                if attempt < self.max_retries and wait <= MAX_WAIT_SECONDS:
                    attempt += 1
                    log.info("Pipedrive rate limit hit on %s %s; waiting %.1f s", method, path, wait)
                    self._block(wait)
                    continue
                raise CrmRateLimited(f"Pipedrive rate limit exceeded on {method} {path} "
                                     f"({_error_text(response)}); retry after {wait:.0f} s.", status=429)
            if response.status_code >= 500 and idempotent and attempt < self.max_retries:
                attempt += 1
                self._sleep(min(2 ** attempt, 10))
                continue
            if response.status_code >= 400:
                raise _error(response, method, path, what)
            try:
                return json.loads(response.content or b"null", parse_float=Decimal)
            except ValueError:
                raise CrmError(f"Pipedrive answered {method} {path} with a body that is not JSON.",
                               status=response.status_code, retryable=True) from None

    def _wait_for_window(self) -> None:
        with self._gate:
            delay = self._blocked_until - time.monotonic()
        if delay > 0:
            self._sleep(delay)

    def _block(self, seconds: float) -> None:
        with self._gate:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    def _note_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0" and response.status_code != 429:
            self._block(_number(response.headers.get("x-ratelimit-reset"), 2.0))

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a v2 cursor-paged list."""
        query = dict(params)
        query.setdefault("limit", self.page_limit)
        while True:
            body = self.request("GET", path, params=query)
            yield from body.get("data") or []
            cursor = (body.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor

    # -- CrmClient ------------------------------------------------------------------------------
    def get_deal(self, deal_id: str) -> Deal:
        """The deal with its organization, person and products.

        Raises:
            CrmNotFound: the deal does not exist or was deleted.
        """
        raw = self.request("GET", f"/api/v2/deals/{_id(deal_id)}", what=f"Deal {deal_id}")["data"]
        if raw.get("is_deleted"):
            raise CrmNotFound(f"Pipedrive deal {deal_id} was deleted.", status=404)
        org = person = None
        if raw.get("org_id"):
            org = self._organization(raw["org_id"])
        if raw.get("person_id"):
            person = self._person(raw["person_id"])
        items = list(self._pages(f"/api/v2/deals/{raw['id']}/products", {}))
        codes = self._product_codes({int(i["product_id"]) for i in items if i.get("product_id")})
        lines = tuple(_line(i, codes) for i in items if i.get("is_enabled", True))
        return self._deal(raw, org, person, lines, full=True)

    def list_won_deals(self, since: datetime | None = None) -> Iterator[Deal]:
        """Won deals updated at or after ``since``, oldest update first, without lines/org/person."""
        params: dict[str, Any] = {"status": "won", "sort_by": "update_time", "sort_direction": "asc"}
        if since is not None:
            params["updated_since"] = _rfc3339(since)
        for raw in self._pages("/api/v2/deals", params):
            yield self._deal(raw, None, None, (), full=False)

    def ensure_invoice_fields(self) -> Mapping[str, str]:
        """Find or create the custom deal fields for ``INVOICE_FIELD_LABELS``; name → hash key."""
        if len(self._field_keys) == len(INVOICE_FIELD_LABELS) and self._field_types:
            return dict(self._field_keys)
        by_label: dict[str, dict[str, Any]] = {}
        start = 0
        while True:
            body = self.request("GET", "/v1/dealFields", params={"start": start, "limit": 500})
            for field in body.get("data") or []:
                if field.get("edit_flag") and field.get("name") not in by_label:
                    by_label[field["name"]] = field
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                break
            start = int(pagination.get("next_start", start + 500))
        for name, label in INVOICE_FIELD_LABELS.items():
            field = by_label.get(label)
            if field is None:
                created = self.request("POST", "/v1/dealFields",
                                       json_body={"name": label, "field_type": FIELD_TYPES[name]})
                field = created["data"]
                log.info("Created Pipedrive deal field %r (%s)", label, field["key"])
            self._field_keys[name] = field["key"]
            self._field_types[name] = field.get("field_type", FIELD_TYPES[name])
        return dict(self._field_keys)

    def write_invoice_fields(self, updates: Mapping[str, DealInvoiceFields]) -> dict[str, Exception | None]:
        """One PATCH per deal; returns deal id → None or that deal's exception."""
        results: dict[str, Exception | None] = {}
        if not updates:
            return results
        try:
            keys = self.ensure_invoice_fields()
        except CrmError as exc:
            return {deal_id: exc for deal_id in updates}
        for deal_id, fields in updates.items():
            custom = {keys[name]: self._field_value(name, value) for name, value in fields.as_strings().items()}
            if not custom:
                results[deal_id] = None
                continue
            try:
                self.request("PATCH", f"/api/v2/deals/{_id(deal_id)}", json_body={"custom_fields": custom},
                             what=f"Deal {deal_id}")
                results[deal_id] = None
            except CrmAuthError as exc:
                for rest in updates:
                    results.setdefault(rest, exc)
                break
            except (CrmError, ValueError) as exc:
                results[deal_id] = exc
        return results

    def add_note(self, deal_id: str, content: str) -> str:
        """Add a note to the deal; returns the note id.

        Raises:
            CrmNotFound: the deal does not exist (Pipedrive answers 400 for an unknown deal_id; the
                client then checks the deal to say which it is).
        """
        try:
            body = self.request("POST", "/v1/notes", json_body={"content": content, "deal_id": _id(deal_id)},
                                what=f"Deal {deal_id}")
        except CrmError as exc:
            if exc.status == 400:
                deal = self.request("GET", f"/api/v2/deals/{_id(deal_id)}", what=f"Deal {deal_id}")["data"]
                if deal.get("is_deleted"):
                    raise CrmNotFound(f"Pipedrive deal {deal_id} was deleted; the note was not added.",
                                      status=404) from None
            raise
        return str(body["data"]["id"])

    def add_notes(self, notes: Sequence[tuple[str, str]]) -> list[str | Exception]:
        """Pipedrive has no batch note API: one request per note; each result is the id or the error."""
        return [note_or_error(self, deal_id, content) for deal_id, content in notes]

    def deal_url(self, deal_id: str) -> str:
        """``https://{company_domain}.pipedrive.com/deal/{id}``."""
        if not self.company_domain:
            me = self.request("GET", "/v1/users/me")["data"]
            self.company_domain = str(me.get("company_domain") or "")
            if not self.company_domain:
                raise CrmError("Pipedrive did not report the company domain; set company_domain on the block.")
        return f"https://{self.company_domain}.pipedrive.com/deal/{deal_id}"

    # -- helpers --------------------------------------------------------------------------------
    def _organization(self, org_id: int) -> Organization | None:
        try:
            raw = self.request("GET", f"/api/v2/organizations/{int(org_id)}", what=f"Organization {org_id}")["data"]
        except CrmNotFound:
            return None
        return Organization(id=str(raw["id"]), name=raw.get("name") or "", address=_address(raw.get("address")),
                            fields=dict(raw.get("custom_fields") or {}))

    def _person(self, person_id: int) -> Person | None:
        try:
            raw = self.request("GET", f"/api/v2/persons/{int(person_id)}", what=f"Person {person_id}")["data"]
        except CrmNotFound:
            return None
        return Person(id=str(raw["id"]), name=raw.get("name") or "", email=_primary(raw.get("emails")),
                      phone=_primary(raw.get("phones")), fields=dict(raw.get("custom_fields") or {}))

    def _product_codes(self, product_ids: set[int]) -> dict[int, str]:
        """Product codes (our SKUs) by id; each product is read once per client (one flow run)."""
        codes = self._product_code_cache
        ids = sorted(product_ids - codes.keys())
        for start in range(0, len(ids), 100):
            chunk = ",".join(str(i) for i in ids[start:start + 100])
            for product in self._pages("/api/v2/products", {"ids": chunk}):
                codes[int(product["id"])] = product.get("code") or ""
        return {i: codes[i] for i in product_ids if i in codes}

    def _owner_name(self, owner_id: Any) -> str:
        if not owner_id:
            return ""
        if self._users is None:
            try:
                users = self.request("GET", "/v1/users").get("data") or []
                self._users = {int(u["id"]): u.get("name") or "" for u in users}
            except (CrmError, KeyError, ValueError):
                self._users = {}
        return self._users.get(int(owner_id), "")

    def _deal(self, raw: dict[str, Any], org: Organization | None, person: Person | None,
              lines: tuple[LineItem, ...], *, full: bool) -> Deal:
        """A ``Deal``; ``full`` also resolves the owner's name and the deal link (cached lookups)."""
        fields = dict(raw.get("custom_fields") or {})
        for key in EXTRA_DEAL_FIELDS:
            if key in raw:
                fields.setdefault(key, raw[key])
        status = "deleted" if raw.get("is_deleted") else raw.get("status") or "open"
        return Deal(crm="pipedrive", id=str(raw["id"]), title=raw.get("title") or "", status=status,
                    value=_decimal(raw.get("value")), currency=raw.get("currency") or "",
                    organization=org, person=person, lines=lines, won_at=_time(raw.get("won_time")),
                    updated_at=_time(raw.get("update_time")), owner_id=str(raw.get("owner_id") or ""),
                    owner_name=self._owner_name(raw.get("owner_id")) if full or self._users else "",
                    pipeline_id=str(raw.get("pipeline_id") or ""), stage_id=str(raw.get("stage_id") or ""),
                    url=self.deal_url(str(raw["id"])) if full or self.company_domain else "", fields=fields)

    def _field_value(self, name: str, value: str) -> Any:
        kind = self._field_types.get(name, FIELD_TYPES[name])
        if kind in ("double", "monetary"):
            return float(Decimal(value))
        return value


# -- module helpers ---------------------------------------------------------------------------------
def _id(deal_id: str) -> int:
    try:
        return int(str(deal_id).strip())
    except ValueError:
        raise CrmNotFound(f"{deal_id!r} is not a Pipedrive deal id (ids are numbers).") from None


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00").replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("0")


def _primary(entries: Any) -> str:
    if not isinstance(entries, list) or not entries:
        return ""
    chosen = next((e for e in entries if isinstance(e, dict) and e.get("primary")), entries[0])
    return str(chosen.get("value") or "") if isinstance(chosen, dict) else ""


def _address(raw: Any) -> Address | None:
    """A v2 organization address (components when Pipedrive geocoded it, else the typed text)."""
    if not isinstance(raw, dict):
        return None
    street = " ".join(p for p in (raw.get("street_number"), raw.get("route")) if p)
    if raw.get("subpremise"):
        street = f"{street}, {raw['subpremise']}" if street else str(raw["subpremise"])
    components = any(raw.get(k) for k in ("route", "locality", "postal_code", "country", "admin_area_level_1"))
    address = Address(street=street if components else str(raw.get("value") or ""),
                      city=str(raw.get("locality") or ""), region=str(raw.get("admin_area_level_1") or ""),
                      postal_code=str(raw.get("postal_code") or ""), country=str(raw.get("country") or ""))
    return None if address.is_empty() else address


def _line(item: dict[str, Any], codes: Mapping[int, str]) -> LineItem:
    product_id = int(item["product_id"]) if item.get("product_id") else 0
    tax = item.get("tax")
    return LineItem(id=str(item["id"]), name=item.get("name") or "", quantity=_decimal(item.get("quantity")),
                    unit_price=_decimal(item.get("item_price")), sku=codes.get(product_id, ""),
                    product_id=str(product_id or ""), description=item.get("comment") or "",
                    discount=_decimal(item.get("discount")),
                    discount_type="amount" if item.get("discount_type") == "amount" else "percentage",
                    tax_percent=_decimal(tax) if tax not in (None, "") and item.get("tax_method") != "none" else None)


def _number(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after") or response.headers.get("x-ratelimit-reset")
    return max(0.5, _number(value, 2.0))


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return f"HTTP {response.status_code}"


def _error(response: httpx.Response, method: str, path: str, what: str) -> CrmError:
    status = response.status_code
    text = _error_text(response)
    if status == 404:
        return CrmNotFound(f"{what or path} was not found in Pipedrive ({text}).", status=404)
    if status in (401, 403):
        return CrmAuthError(f"Pipedrive refused the API token on {method} {path} ({text}): check the "
                            "Pipedrive block's api_token and that its user may access this record.", status=status)
    if status >= 500:
        return CrmError(f"Pipedrive failed on {method} {path} (HTTP {status}: {text}); try again later.",
                        status=status, retryable=True)
    return CrmError(f"Pipedrive rejected {method} {path} (HTTP {status}: {text}).", status=status)

