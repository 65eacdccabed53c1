"""The QuickBooks Online client the flows use: ``QboClient``, a thin typed facade over QBO JSON.

Build it from a ``QuickBooksCredentials`` block (``QboClient.from_block``) or from explicit
settings and a token store (``QboClient.connect``). Every method returns QBO's own JSON (plain
dicts) and raises only typed ``QboError`` subclasses (see ``qbo_errors``). Creates take a
deterministic ``request_id`` (``make_request_id``) so a retry — by us, by Prefect or by a second
worker — never makes a second object; ``find_invoice_by_marker`` is the lookup-before-create half.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from dealbooks.clients.qbo_auth import BlockTokenStore, FileTokenStore, RealmLock, TokenState, TokenStore
from dealbooks.clients.qbo_transport import (
    MINOR_VERSION,
    QboConnection,
    QboTransport,
    RetryPolicy,
    is_loopback_http,
    marker_for,
    quote,
)
from dealbooks.domain.ids import make_request_id
from dealbooks.exceptions import ConfigurationError, QboStaleObjectError

__all__ = [
    "MINOR_VERSION", "BlockTokenStore", "FileTokenStore", "QboClient", "QboConnection", "RealmLock",
    "RetryPolicy", "TokenState", "TokenStore", "is_loopback_http", "make_request_id", "marker_for", "quote",
]

PAGE_SIZE = 1000
BATCH_SIZE = 30
IN_CHUNK = 100


def _first(query_response: Mapping[str, Any], entity: str) -> dict[str, Any] | None:
    rows = query_response.get(entity) or []
    return rows[0] if rows else None


class QboClient:
    """Typed QBO operations for one company (realm).

    Args:
        transport: the authenticated, rate-limited transport (see ``connect``/``from_block``).
        stale_retries: how many times an update re-reads the object after a 5010 stale SyncToken.
    """

    def __init__(self, transport: QboTransport, *, stale_retries: int = 3) -> None:
        self.transport = transport
        self.stale_retries = stale_retries

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, connection: QboConnection, store: TokenStore, **transport_options: Any) -> QboClient:
        """A client for ``connection`` whose tokens live in ``store``.

        Args:
            connection: app credentials, realm and URLs.
            store: ``FileTokenStore``, ``BlockTokenStore`` or another ``TokenStore``.
            transport_options: passed to ``QboTransport`` (retry, limiter, lock, block_name, sleep).
        """
        return cls(QboTransport(connection, store, **transport_options))

    @classmethod
    def from_block(cls, block: Any, name: str | None = None, **transport_options: Any) -> QboClient:
        """A client from a saved ``QuickBooksCredentials`` block; rotated tokens are saved back to it.

        Args:
            block: the loaded block (fields client_id, client_secret, realm_id, refresh_token and
                environment or discovery_url/api_base).
            name: the block document's name (default: the name it was loaded under).
            transport_options: passed to ``QboTransport``.
        """
        name = name or getattr(block, "_block_document_name", None)
        if not name:
            raise ConfigurationError("Save the QuickBooks credentials block before using it (it has no name).")
        secret = block.client_secret
        environment = getattr(block, "discovery_url", None) or getattr(block, "environment", None) or "production"
        api_base = block.resolved_api_base() if hasattr(block, "resolved_api_base") else getattr(block, "api_base", None)
        connection = QboConnection(
            client_id=block.client_id,
            client_secret=secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret),
            realm_id=str(block.realm_id),
            environment=environment,
            api_base=api_base or None,
            minorversion=int(getattr(block, "minor_version", MINOR_VERSION) or MINOR_VERSION),
        )
        transport_options.setdefault("block_name", name)
        return cls.connect(connection, BlockTokenStore(type(block), name), **transport_options)

    @property
    def realm_id(self) -> str:
        return self.transport.realm_id

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.transport.request("GET", path, params=params)

    def _post(self, path: str, body: Mapping[str, Any] | str | None = None, *, params: Mapping[str, Any] | None = None,
              request_id: str | None = None, idempotent: bool = False,
              content_type: str = "application/json") -> dict[str, Any]:
        return self.transport.request("POST", path, body=body, params=params, request_id=request_id,
                                      idempotent=idempotent, content_type=content_type)

    # -- company --------------------------------------------------------------------------------
    def company_info(self) -> dict[str, Any]:
        """The ``CompanyInfo`` object (name, country, addresses)."""
        return self._get(f"companyinfo/{self.realm_id}")["CompanyInfo"]

    def preferences(self) -> dict[str, Any]:
        """The ``Preferences`` object (currency, sales forms, tax settings)."""
        return self._get("preferences")["Preferences"]

    # -- query / cdc / batch --------------------------------------------------------------------
    def query(self, sql: str) -> dict[str, Any]:
        """Run one QBO query; returns the ``QueryResponse`` dict (``{}`` when nothing matched)."""
        return self.transport.call(lambda qb: qb.query(sql)).get("QueryResponse", {})

    def query_all(self, sql: str, *, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """All rows of ``SELECT * FROM Entity [WHERE ...] [ORDERBY ...]`` over STARTPOSITION pages.

        Args:
            sql: a query without STARTPOSITION/MAXRESULTS.
            page_size: rows per request (≤ 1000).

        Returns:
            Every matching object.
        """
        if not 0 < page_size <= PAGE_SIZE:
            raise ValueError("page_size must be between 1 and 1000")
        entity = sql.split()[sql.upper().split().index("FROM") + 1]
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            page = self.query(f"{sql} STARTPOSITION {start} MAXRESULTS {page_size}").get(entity) or []
            rows.extend(page)
            if len(page) < page_size:
                return rows
            start += page_size

    def cdc(self, entities: Sequence[str], since: datetime | str) -> dict[str, list[dict[str, Any]]]:
        """Objects of ``entities`` changed since ``since`` (≤ 30 days); deleted ones carry ``status``.

        Returns:
            ``{"Invoice": [...], "Payment": [...]}`` with every requested entity present.
        """
        if isinstance(since, datetime):
            since = (since if since.tzinfo else since.replace(tzinfo=timezone.utc)).isoformat()
        response = self._get("cdc", {"entities": ",".join(entities), "changedSince": since})
        result: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
        for block in response.get("CDCResponse", []):
            for query_response in block.get("QueryResponse", []):
                for name in entities:
                    result[name].extend(query_response.get(name) or [])
        return result

    def batch(self, items: Sequence[Mapping[str, Any]], *, request_id: str | None = None) -> list[dict[str, Any]]:
        """Run ``BatchItemRequest`` items (each with ``bId``), 30 per request; per-item faults stay in place.

        Args:
            items: e.g. ``{"bId": "1", "operation": "create", "Invoice": {...}}`` or ``{"bId": "2", "Query": "..."}``.
            request_id: makes the whole batch idempotent; chunk n uses ``make_request_id(request_id, n)``.

        Returns:
            The ``BatchItemResponse`` entries in order.
        """
        responses: list[dict[str, Any]] = []
        for n, start in enumerate(range(0, len(items), BATCH_SIZE)):
            chunk = list(items[start:start + BATCH_SIZE])
            rid = make_request_id(request_id, n) if request_id else None
            reply = self.transport.request("POST", "batch", body={"BatchItemRequest": chunk}, request_id=rid,
                                           idempotent=all("Query" in item for item in chunk), batch=True)
            responses.extend(reply.get("BatchItemResponse", []))
        return responses

    # -- generic --------------------------------------------------------------------------------
    def get(self, entity: str, entity_id: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Read one object (``QboNotFoundError`` when it is unknown or deleted)."""
        return self._get(f"{entity.lower()}/{entity_id}", params)[entity]

    def create(self, entity: str, payload: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Create one object; the same ``request_id`` always yields the same object."""
        return self._post(entity.lower(), payload, request_id=request_id)[entity]

    def update(self, entity: str, entity_id: str, changes: Mapping[str, Any] | Callable[[dict[str, Any]], Any],
               *, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Sparse-update an object, re-reading it after a stale SyncToken (5010), bounded.

        Args:
            entity: e.g. ``"Customer"``.
            entity_id: its Id.
            changes: fields to set, or a function of the current object returning them.
            params: extra query parameters (e.g. ``{"operation": "void"}``).

        Returns:
            The updated object.
        """
        attempt = 0
        while True:
            attempt += 1
            current = self.get(entity, entity_id)
            fields = changes(current) if callable(changes) else changes
            body = {**dict(fields or {}), "Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}
            rid = make_request_id("update", entity, entity_id, json.dumps([body, params], sort_keys=True, default=str))
            try:
                return self._post(entity.lower(), body, params=params, request_id=rid)[entity]
            except QboStaleObjectError:
                if attempt > self.stale_retries:
                    raise

    def _operation(self, entity: str, entity_id: str, operation: str) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            current = self.get(entity, entity_id)
            body = {"Id": current["Id"], "SyncToken": current["SyncToken"]}
            rid = make_request_id(operation, entity, entity_id, current["SyncToken"])
            try:
                return self._post(entity.lower(), body, params={"operation": operation}, request_id=rid)[entity]
            except QboStaleObjectError:
                if attempt > self.stale_retries:
                    raise

    # -- customers ------------------------------------------------------------------------------
    def find_customer_by_email(self, email: str) -> dict[str, Any] | None:
        """The first active customer whose primary email is ``email``, or ``None``."""
        return _first(self.query(f"SELECT * FROM Customer WHERE PrimaryEmailAddr = {quote(email)}"), "Customer")

    def find_customer_by_name(self, name: str, *, include_inactive: bool = False) -> dict[str, Any] | None:
        """The customer whose ``DisplayName`` is ``name`` (quotes escaped), or ``None``."""
        active = " AND Active IN (true, false)" if include_inactive else ""
        return _first(self.query(f"SELECT * FROM Customer WHERE DisplayName = {quote(name)}{active}"), "Customer")

    def create_customer(self, payload: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Create a customer (``QboDuplicateNameError`` when the DisplayName is taken)."""
        return self.create("Customer", payload, request_id)

    def update_customer(self, customer_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Sparse-update a customer (stale SyncToken handled by re-reading)."""
        return self.update("Customer", customer_id, changes)

    # -- items ----------------------------------------------------------------------------------
    def find_items_by_sku(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Active items by SKU (``{sku: item}``); unknown SKUs are absent."""
        wanted = sorted({s for s in skus if s})
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            values = ", ".join(quote(s) for s in wanted[start:start + IN_CHUNK])
            for item in self.query_all(f"SELECT * FROM Item WHERE Sku IN ({values})"):
                if item.get("Sku"):
                    found.setdefault(item["Sku"], item)
        return found

    def find_item_by_name(self, name: str) -> dict[str, Any] | None:
        """The active item named ``name``, or ``None``."""
        return _first(self.query(f"SELECT * FROM Item WHERE Name = {quote(name)}"), "Item")

    def get_item(self, item_id: str) -> dict[str, Any]:
        """One item by Id."""
        return self.get("Item", item_id)

    # -- invoices -------------------------------------------------------------------------------
    def create_invoice(self, payload: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Create an invoice; repeating with the same ``request_id`` returns the same invoice."""
        return self.create("Invoice", payload, request_id)

    def find_invoice_by_marker(self, marker: str, *, customer_id: str | None = None) -> dict[str, Any] | None:
        """Lookup-before-create: the invoice whose ``PrivateNote`` contains ``marker``.

        ``PrivateNote`` is not filterable in QBO queries, so the search filters by customer (when
        given) and scans the notes client-side.
        """
        where = f" WHERE CustomerRef = {quote(customer_id)}" if customer_id else ""
        for invoice in self.query_all(f"SELECT * FROM Invoice{where} ORDERBY Id"):
            if marker in (invoice.get("PrivateNote") or ""):
                return invoice
        return None

    def find_invoice_by_doc_number(self, doc_number: str) -> dict[str, Any] | None:
        """The invoice with ``DocNumber`` ``doc_number``, or ``None``."""
        return _first(self.query(f"SELECT * FROM Invoice WHERE DocNumber = {quote(doc_number)}"), "Invoice")

    def create_invoice_once(self, payload: Mapping[str, Any], request_id: str, marker: str, *,
                            lookup: bool = True) -> tuple[dict[str, Any], bool]:
        """Find the invoice carrying ``marker`` or create it (with the marker in ``PrivateNote``).

        Args:
            lookup: search for the marker first. Skip it only when no earlier attempt can have
                created the invoice (the ``requestid`` still covers retries within this call).

        Returns:
            ``(invoice, created)``.
        """
        if lookup:
            customer = (payload.get("CustomerRef") or {}).get("value")
            existing = self.find_invoice_by_marker(marker, customer_id=customer)
            if existing is not None:
                return existing, False
        body = dict(payload)
        note = body.get("PrivateNote") or ""
        if marker not in note:
            body["PrivateNote"] = f"{note}\n{marker}".strip()
        return self.create_invoice(body, request_id), True

    def get_invoice(self, invoice_id: str, *, include_link: bool = False) -> dict[str, Any]:
        """One invoice; with ``include_link`` QBO adds ``InvoiceLink`` when online payment is possible."""
        return self.get("Invoice", invoice_id, {"include": "invoiceLink"} if include_link else None)

    def send_invoice(self, invoice_id: str, to: str | None = None) -> dict[str, Any]:
        """Email the invoice (to ``BillEmail`` or ``to``, which replaces it). Not retried when ambiguous:
        sending twice sends twice."""
        params = {"sendTo": to} if to else None
        return self._post(f"invoice/{invoice_id}/send", None, params=params,
                          content_type="application/octet-stream")["Invoice"]

    def invoice_pdf(self, invoice_id: str) -> bytes:
        """The invoice as PDF bytes."""
        return self.transport.download_pdf("Invoice", invoice_id)

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void: amounts and Balance become 0, the record stays."""
        return self._operation("Invoice", invoice_id, "void")

    def delete_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Delete: the invoice is gone (610 afterwards); returns ``{"status": "Deleted", "Id": ...}``."""
        return self._operation("Invoice", invoice_id, "delete")

    # -- payments -------------------------------------------------------------------------------
    def create_payment(self, payload: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Record a payment (``Line[].LinkedTxn`` to invoices lowers their Balance)."""
        return self.create("Payment", payload, request_id)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """One payment by Id."""
        return self.get("Payment", payment_id)

    def __repr__(self) -> str:
        return f"QboClient(realm_id={self.realm_id!r})"
