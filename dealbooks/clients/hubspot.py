"""HubSpot CRM client through ``hubspot-api-client``, implementing ``CrmClient``.

Works against api.hubapi.com or the dealbooks sandbox (``base_url=".../hubspot"``): only the host
changes. Won = the deal's ``dealstage`` is a closed-won stage (``metadata.isClosed`` and
probability 1.0) of its pipeline, read from ``/crm/v3/pipelines/deals`` (or the stage ids given).

Rate limits: hubspot-api-client's urllib3 pool retries GETs on 429 itself (honouring
``Retry-After``) but POST/PATCH raise ``ApiException(429)``; every call goes through ``_call``,
which sleeps ``Retry-After`` and retries up to ``max_retries`` times before ``CrmRateLimited``.
The access token is never part of an error message or a log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import hubspot
import urllib3
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.line_items import ApiException as LineItemsApiException
from hubspot.crm.objects.notes import ApiException as NotesApiException
from hubspot.crm.pipelines import ApiException as PipelinesApiException
from hubspot.crm.products import ApiException as ProductsApiException
from hubspot.crm.properties import ApiException as PropertiesApiException
from urllib3.util.retry import Retry

from dealbooks.clients.crm import note_or_error
from dealbooks.clients.hubspot_mapping import (
    BATCH_LIMIT,
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    DEAL_PROPERTIES,
    LINE_ITEM_PROPERTIES,
    PROPERTY_GROUP,
    invoice_property_specs,
    note_ids_in_order,
    note_input,
    to_deal,
    to_line_item,
    to_organization,
    to_person,
)
from dealbooks.domain.deal import CrmName, Deal, DealInvoiceFields
from dealbooks.exceptions import CrmAuthError, CrmError, CrmNotFound, CrmRateLimited

log = logging.getLogger("dealbooks.clients.hubspot")

API_EXCEPTIONS: tuple[type[Exception], ...] = (
    DealsApiException, CompaniesApiException, ContactsApiException, LineItemsApiException,
    ProductsApiException, NotesApiException, AssociationsApiException, PipelinesApiException,
    PropertiesApiException,
)
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (urllib3.exceptions.HTTPError, OSError)
SEARCH_PAGE = 200
SEARCH_WINDOW = 10000


class HubSpotClient:
    """HubSpot API client for one portal (one private-app access token).

    Args:
        access_token: the private app's access token.
        base_url: API root (``https://api.hubapi.com`` or a sandbox's ``http://127.0.0.1:PORT/hubspot``).
        portal_id: the HubSpot account id for deal links; looked up once through
            ``/account-info/v3/details`` when empty.
        closed_won_stages: stage ids that count as won; empty means every pipeline's closed-won stages.
        timeout: seconds per request.
        max_retries: retries after a 429 (any method) before ``CrmRateLimited``.
        max_wait: the longest single ``Retry-After`` sleep honoured.
        sleep: sleep function (tests).
    """

    crm: CrmName = "hubspot"

    def __init__(self, access_token: str, *, base_url: str = "https://api.hubapi.com", portal_id: str | int = "",
                 closed_won_stages: Collection[str] = (), timeout: float = 30.0, max_retries: int = 4,
                 max_wait: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self._base_url = base_url.rstrip("/")
        self._hs = hubspot.HubSpot(
            access_token=access_token, host=self._base_url,
            retry=Retry(total=4, connect=3, read=2, status=3, backoff_factor=0.3,
                        status_forcelist=(502, 503, 504), respect_retry_after_header=True,
                        raise_on_status=False),
        )
        self._crm = self._hs.crm
        self._portal_id = str(portal_id or "")
        self._ui_domain = "app.hubspot.com"
        self._account_currency = ""
        self._account_loaded = False
        self._won_override = frozenset(closed_won_stages)
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._sleep = sleep
        self._stages: dict[str, tuple[frozenset[str], frozenset[str]]] | None = None
        self._custom_names: dict[str, list[str]] = {}
        self._field_names: dict[str, str] | None = None

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return fn(*args, _request_timeout=self._timeout, **kwargs)
            except API_EXCEPTIONS as exc:
                status = int(getattr(exc, "status", 0) or 0)
                if status == 429 and attempt < self._max_retries:
                    wait = _retry_after(getattr(exc, "headers", None), self._max_wait)
                    log.info("HubSpot rate limit on %s; retrying in %.1f s", what, wait)
                    self._sleep(wait)
                    attempt += 1
                    continue
                raise _translate(exc, what) from None
            except TRANSPORT_ERRORS as exc:
                raise CrmError(f"HubSpot could not be reached while trying to {what} ({type(exc).__name__}); "
                               "it will be retried on the next run.", retryable=True) from None

    def _stage_sets(self) -> tuple[frozenset[str], frozenset[str]]:
        """(closed-won stage ids, closed-lost stage ids) across the deal pipelines (cached)."""
        if self._stages is None:
            response = self._call("read the deal pipelines", self._crm.pipelines.pipelines_api.get_all, "deals")
            stages: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
            for pipeline in response.results:
                won, lost = set(), set()
                for stage in pipeline.stages:
                    meta = stage.metadata or {}
                    if str(meta.get("isClosed", "")).lower() != "true":
                        continue
                    try:
                        probability = Decimal(str(meta.get("probability", "0")))
                    except InvalidOperation:
                        probability = Decimal(0)
                    (won if probability == 1 else lost).add(stage.id)
                stages[pipeline.id] = (frozenset(won), frozenset(lost))
            self._stages = stages
        won_ids = frozenset().union(*(w for w, _ in self._stages.values())) if self._stages else frozenset()
        lost_ids = frozenset().union(*(lo for _, lo in self._stages.values())) if self._stages else frozenset()
        if self._won_override:
            return self._won_override, lost_ids - self._won_override
        return won_ids, lost_ids

    def won_stage_ids(self) -> frozenset[str]:
        """Deal stage ids that count as won (for webhook ``is_won_transition``)."""
        return self._stage_sets()[0]

    def _account(self) -> None:
        if self._account_loaded:
            return
        self._account_loaded = True
        try:
            response = self._hs.api_request({"method": "GET", "path": "/account-info/v3/details",
                                             "base_url": self._base_url})
        except TRANSPORT_ERRORS:
            return
        if response.status_code == 200:
            details = response.json()
            self._portal_id = self._portal_id or str(details.get("portalId", ""))
            self._ui_domain = str(details.get("uiDomain") or self._ui_domain)
            self._account_currency = str(details.get("companyCurrency") or "")
        elif response.status_code == 401:
            self._account_loaded = False
            raise CrmAuthError(_auth_message("read the account details"), status=401)

    def _properties_for(self, object_type: str, base: tuple[str, ...]) -> list[str]:
        """Built-in properties we read plus every custom property of the object type (cached)."""
        if object_type not in self._custom_names:
            response = self._call(f"list the {object_type} properties",
                                  self._crm.properties.core_api.get_all, object_type)
            self._custom_names[object_type] = sorted(
                p.name for p in response.results if not p.hubspot_defined and not p.archived)
        return list(dict.fromkeys([*base, *self._custom_names[object_type]]))

    # -- CrmClient -------------------------------------------------------------------------------
    def get_deal(self, deal_id: str) -> Deal:
        deal_id = str(deal_id)
        record = self._call(f"read deal {deal_id}", self._crm.deals.basic_api.get_by_id, deal_id,
                            properties=self._properties_for("deals", DEAL_PROPERTIES),
                            associations=["companies", "contacts", "line_items"])
        company_ids = self._associated_ids(record, "companies", deal_id, primary="deal_to_company")
        contact_ids = self._associated_ids(record, "contacts", deal_id)
        line_ids = self._associated_ids(record, "line_items", deal_id)
        organization = person = None
        if company_ids:
            company = self._call(f"read company {company_ids[0]}", self._crm.companies.basic_api.get_by_id,
                                 company_ids[0], properties=self._properties_for("companies", COMPANY_PROPERTIES))
            organization = to_organization(company.id, company.properties or {})
        if contact_ids:
            contact = self._call(f"read contact {contact_ids[0]}", self._crm.contacts.basic_api.get_by_id,
                                 contact_ids[0], properties=self._properties_for("contacts", CONTACT_PROPERTIES))
            person = to_person(contact.id, contact.properties or {})
        return self._deal(record.id, record.properties or {}, organization, person, self._line_items(line_ids))

    def _deal(self, deal_id: str, props: Mapping[str, Any], organization: Any = None, person: Any = None,
              lines: tuple[Any, ...] = ()) -> Deal:
        won, lost = self._stage_sets()
        self._account()
        return to_deal(deal_id, props, won, lost, currency_default=self._account_currency or "USD",
                       url=self.deal_url(deal_id), organization=organization, person=person, lines=lines)

    def _associated_ids(self, record: Any, to_type: str, deal_id: str, primary: str = "") -> list[str]:
        block = (record.associations or {})
        assoc = block.get(to_type) or block.get(to_type.replace("_", " "))
        if assoc is None:
            return []
        ids: list[str] = []
        primary_ids: list[str] = []
        for item in assoc.results or []:
            if item.id not in ids:
                ids.append(item.id)
            if primary and item.type == primary:
                primary_ids.append(item.id)
        if assoc.paging is not None and assoc.paging.next is not None:
            ids = self._all_associated_ids(deal_id, to_type)
        return list(dict.fromkeys([*primary_ids, *ids]))

    def _all_associated_ids(self, deal_id: str, to_type: str) -> list[str]:
        ids: list[str] = []
        after = None
        while True:
            page = self._call(f"list the {to_type} of deal {deal_id}", self._crm.associations.v4.basic_api.get_page,
                              "deals", deal_id, to_type, after=after, limit=500)
            ids.extend(str(r.to_object_id) for r in page.results)
            if page.paging is None or page.paging.next is None:
                return ids
            after = page.paging.next.after

    def _line_items(self, line_ids: list[str]) -> tuple[Any, ...]:
        records: list[Any] = []
        for start in range(0, len(line_ids), BATCH_LIMIT):
            chunk = line_ids[start:start + BATCH_LIMIT]
            response = self._call("read the deal's line items", self._crm.line_items.batch_api.read,
                                  {"inputs": [{"id": i} for i in chunk], "properties": list(LINE_ITEM_PROPERTIES),
                                   "propertiesWithHistory": []})
            records.extend(response.results)
        missing_sku = sorted({(r.properties or {}).get("hs_product_id") for r in records
                              if not (r.properties or {}).get("hs_sku") and (r.properties or {}).get("hs_product_id")})
        skus: dict[str, str] = {}
        if missing_sku:
            response = self._call("read the line items' products", self._crm.products.batch_api.read,
                                  {"inputs": [{"id": i} for i in missing_sku[:BATCH_LIMIT]],
                                   "properties": ["hs_sku"], "propertiesWithHistory": []})
            skus = {p.id: (p.properties or {}).get("hs_sku") or "" for p in response.results}
        lines = [to_line_item(r.id, r.properties or {}, skus) for r in records]
        order = {r.id: (_int((r.properties or {}).get("hs_position_on_quote")), int(r.id) if r.id.isdigit() else 0)
                 for r in records}
        return tuple(sorted(lines, key=lambda line: order[line.id]))

    def list_won_deals(self, since: datetime | None = None) -> Iterator[Deal]:
        won, _ = self._stage_sets()
        if not won:
            return
        properties = self._properties_for("deals", DEAL_PROPERTIES)
        cursor_ms = int(since.timestamp() * 1000) if since is not None else None
        skip: set[str] = set()
        while True:
            filters: list[dict[str, Any]] = [{"propertyName": "dealstage", "operator": "IN", "values": sorted(won)}]
            if cursor_ms is not None:
                filters.append({"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(cursor_ms)})
            after: str | None = None
            last_ms: int | None = None
            ids_at_last: set[str] = set()
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [{"filters": filters}], "properties": properties, "limit": SEARCH_PAGE,
                    "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                }
                if after is not None:
                    body["after"] = after
                page = self._call("search won deals", self._crm.deals.search_api.do_search, body)
                for record in page.results:
                    if record.id in skip:
                        continue
                    props = record.properties or {}
                    modified = _ms(props.get("hs_lastmodifieddate") or "")
                    if modified is not None and modified != last_ms:
                        last_ms, ids_at_last = modified, set()
                    ids_at_last.add(record.id)
                    yield self._deal(record.id, props)
                if page.paging is None or page.paging.next is None:
                    return
                after = page.paging.next.after
                if int(after) + SEARCH_PAGE > SEARCH_WINDOW:
                    break
            # HubSpot search stops at 10,000 results: continue from the last modification time seen,
            # skipping the deals already yielded at exactly that time.
            if last_ms is None or last_ms == cursor_ms:
                raise CrmError("More than 10,000 won deals share one modification time; HubSpot search "
                               "cannot page past 10,000 results. Narrow the sync window.")
            cursor_ms, skip = last_ms, ids_at_last

    def ensure_invoice_fields(self) -> Mapping[str, str]:
        if self._field_names is not None:
            return dict(self._field_names)
        groups = self._call("list the deal property groups", self._crm.properties.groups_api.get_all, "deals")
        if PROPERTY_GROUP["name"] not in {g.name for g in groups.results}:
            try:
                self._call("create the dealbooks property group", self._crm.properties.groups_api.create,
                           "deals", dict(PROPERTY_GROUP))
            except CrmError as exc:
                if exc.status != 409:
                    raise
        existing = self._call("list the deal properties", self._crm.properties.core_api.get_all, "deals")
        names = {p.name for p in existing.results}
        mapping: dict[str, str] = {}
        for field_name, spec in invoice_property_specs().items():
            if spec["name"] not in names:
                try:
                    self._call(f"create the deal property {spec['name']}", self._crm.properties.core_api.create,
                               "deals", spec)
                except CrmError as exc:
                    if exc.status != 409:
                        raise
            mapping[field_name] = spec["name"]
        self._custom_names.pop("deals", None)
        self._field_names = mapping
        return dict(mapping)

    def write_invoice_fields(self, updates: Mapping[str, DealInvoiceFields]) -> dict[str, Exception | None]:
        mapping = self.ensure_invoice_fields()
        results: dict[str, Exception | None] = {}
        inputs = [{"id": str(deal_id), "properties": {mapping[k]: v for k, v in fields.as_strings().items()}}
                  for deal_id, fields in updates.items()]
        for start in range(0, len(inputs), BATCH_LIMIT):
            chunk = inputs[start:start + BATCH_LIMIT]
            try:
                response = self._call(f"update {len(chunk)} deals", self._crm.deals.batch_api.update,
                                      {"inputs": chunk})
            except CrmError as exc:
                if exc.status == 400 and len(chunk) > 1:
                    results.update(self._update_one_by_one(chunk))
                else:
                    results.update({item["id"]: exc for item in chunk})
                continue
            failed: dict[str, Exception] = {}
            for error in getattr(response, "errors", None) or []:
                for deal_id in (error.context or {}).get("ids", []):
                    failed[str(deal_id)] = CrmNotFound(
                        f"HubSpot deal {deal_id} does not exist or was deleted: {error.message}", status=404)
            results.update({item["id"]: failed.get(item["id"]) for item in chunk})
        return results

    def _update_one_by_one(self, chunk: list[dict[str, Any]]) -> dict[str, Exception | None]:
        out: dict[str, Exception | None] = {}
        for item in chunk:
            try:
                self._call(f"update deal {item['id']}", self._crm.deals.basic_api.update, item["id"],
                           {"properties": item["properties"]})
                out[item["id"]] = None
            except CrmError as exc:
                out[item["id"]] = exc
        return out

    def add_notes(self, notes: Sequence[tuple[str, str]]) -> list[str | Exception]:
        """Notes on many deals, 100 per batch create. A batch HubSpot refuses (e.g. a deleted deal)
        is retried note by note, so one bad deal costs only its own note."""
        out: list[str | Exception] = []
        for start in range(0, len(notes), BATCH_LIMIT):
            chunk = list(notes[start:start + BATCH_LIMIT])
            if len(chunk) == 1:
                out.append(note_or_error(self, *chunk[0]))
                continue
            try:
                response = self._call(f"add {len(chunk)} notes", self._crm.objects.notes.batch_api.create,
                                      {"inputs": [note_input(deal_id, content) for deal_id, content in chunk]})
            except CrmError as exc:
                out += [note_or_error(self, *note) for note in chunk] if exc.status == 400 else [exc] * len(chunk)
                continue
            out += note_ids_in_order(chunk, response.results or [])
        return out

    def add_note(self, deal_id: str, content: str) -> str:
        body = note_input(deal_id, content)
        try:
            note = self._call(f"add a note to deal {deal_id}", self._crm.objects.notes.basic_api.create, body)
        except CrmError as exc:
            if exc.status == 400:
                self._call(f"read deal {deal_id}", self._crm.deals.basic_api.get_by_id, str(deal_id),
                           properties=["hs_object_id"])
            raise
        return str(note.id)

    def deal_url(self, deal_id: str) -> str:
        if not self._portal_id:
            self._account()
        return f"https://{self._ui_domain}/contacts/{self._portal_id}/record/0-3/{deal_id}"


def _int(value: Any) -> int:
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return 1 << 30


def _ms(value: str) -> int | None:
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return int(value) if value.isdigit() else None


def _retry_after(headers: Any, max_wait: float) -> float:
    value = None
    if headers is not None:
        value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        wait = float(value) if value is not None else 1.0
    except ValueError:
        wait = 1.0
    return max(0.0, min(wait, max_wait))


def _auth_message(what: str) -> str:
    return (f"HubSpot rejected the access token while trying to {what}: create or rotate the private app's "
            "token (Settings > Integrations > Private apps) and update the HubSpot Credentials block.")


def _translate(exc: Exception, what: str) -> CrmError:
    status = int(getattr(exc, "status", 0) or 0)
    body: dict[str, Any] = {}
    raw = getattr(exc, "body", None)
    if raw:
        try:
            parsed = json.loads(raw)
            body = parsed if isinstance(parsed, dict) else {}
        except (ValueError, TypeError):
            body = {}
    detail = str(body.get("message") or getattr(exc, "reason", "") or "no details")[:500]
    category = str(body.get("category") or "")
    if status in (401, 403):
        if status == 403:
            return CrmAuthError(f"HubSpot refused to {what} (403 {category}): the private app lacks a scope; add "
                                f"the CRM read/write scopes it needs. Details: {detail}", status=status)
        return CrmAuthError(_auth_message(what), status=status)
    if status == 404:
        return CrmNotFound(f"HubSpot could not {what}: not found (it may have been deleted). {detail}",
                           status=status)
    if status == 429:
        return CrmRateLimited(f"HubSpot rate limit still exceeded while trying to {what}; it will be retried. "
                              f"{detail}", status=status)
    if status >= 500 or status == 0:
        return CrmError(f"HubSpot failed to {what} (HTTP {status}); it will be retried. {detail}",
                        status=status or None, retryable=True)
    return CrmError(f"HubSpot refused to {what} (HTTP {status} {category}): {detail}", status=status,
                    category="crm_validation", retryable=False)
