"""Prefect tasks around single QuickBooks Online calls.

Each task wraps one ``QboClient`` method. The client already retries throttling, 5xx and timeouts
with backoff inside one task run; Prefect retries on top are configured only where repeating the
call cannot duplicate an effect — reads, and writes carrying a deterministic ``requestid`` — and
only for errors marked retryable. ``send_invoice`` (sending twice sends twice) never retries.
Results are never cached: a QBO object is read fresh every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from dealbooks.clients.qbo import QboClient
from dealbooks.exceptions import DealbooksError

RETRIES = 2
RETRY_DELAYS = [10, 60]


def retry_if_retryable(_task: Task[..., Any], _run: TaskRun, state: State[Any]) -> bool:
    """Prefect ``retry_condition_fn``: retry only errors dealbooks marks ``retryable``."""
    try:
        state.result()
    except DealbooksError as exc:
        return exc.retryable
    except Exception:  # noqa: BLE001 - anything unclassified is not retried blindly
        return False
    return False


_safe = {"retries": RETRIES, "retry_delay_seconds": RETRY_DELAYS, "retry_condition_fn": retry_if_retryable,
         "cache_policy": NO_CACHE}


@task(name="qbo-company-info", **_safe)
def qbo_company_info(client: QboClient) -> dict[str, Any]:
    """The company's ``CompanyInfo``."""
    return client.company_info()


@task(name="qbo-preferences", **_safe)
def qbo_preferences(client: QboClient) -> dict[str, Any]:
    """The company's ``Preferences``."""
    return client.preferences()


@task(name="qbo-query-all", **_safe)
def qbo_query_all(client: QboClient, sql: str) -> list[dict[str, Any]]:
    """Every row of a query, paged."""
    return client.query_all(sql)


@task(name="qbo-cdc", **_safe)
def qbo_cdc(client: QboClient, entities: Sequence[str], since: datetime | str) -> dict[str, list[dict[str, Any]]]:
    """Objects changed since ``since`` (deleted ones with ``status: Deleted``)."""
    return client.cdc(entities, since)


@task(name="qbo-find-customer-by-email", **_safe)
def qbo_find_customer_by_email(client: QboClient, email: str) -> dict[str, Any] | None:
    """The customer with this primary email, or ``None``."""
    return client.find_customer_by_email(email)


@task(name="qbo-find-customer-by-name", **_safe)
def qbo_find_customer_by_name(client: QboClient, name: str) -> dict[str, Any] | None:
    """The customer with this DisplayName, or ``None``."""
    return client.find_customer_by_name(name, include_inactive=True)


@task(name="qbo-create-customer", **_safe)
def qbo_create_customer(client: QboClient, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Create a customer; idempotent through ``request_id``."""
    return client.create_customer(payload, request_id)


@task(name="qbo-update-customer", **_safe)
def qbo_update_customer(client: QboClient, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Sparse-update a customer (stale SyncToken re-read inside)."""
    return client.update_customer(customer_id, changes)


@task(name="qbo-find-items-by-sku", **_safe)
def qbo_find_items_by_sku(client: QboClient, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Items by SKU."""
    return client.find_items_by_sku(skus)


@task(name="qbo-create-invoice", **_safe)
def qbo_create_invoice(client: QboClient, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Create an invoice; idempotent through ``request_id``."""
    return client.create_invoice(payload, request_id)


@task(name="qbo-create-invoice-once", **_safe)
def qbo_create_invoice_once(client: QboClient, payload: dict[str, Any], request_id: str,
                            marker: str) -> tuple[dict[str, Any], bool]:
    """Lookup by ``marker``, else create with ``request_id``; returns ``(invoice, created)``."""
    return client.create_invoice_once(payload, request_id, marker)


@task(name="qbo-get-invoice", **_safe)
def qbo_get_invoice(client: QboClient, invoice_id: str, include_link: bool = False) -> dict[str, Any]:
    """One invoice, optionally with ``InvoiceLink``."""
    return client.get_invoice(invoice_id, include_link=include_link)


@task(name="qbo-send-invoice", cache_policy=NO_CACHE)
def qbo_send_invoice(client: QboClient, invoice_id: str, to: str | None = None) -> dict[str, Any]:
    """Email the invoice; never retried by Prefect (a repeat would send a second email)."""
    return client.send_invoice(invoice_id, to)


@task(name="qbo-invoice-pdf", **_safe)
def qbo_invoice_pdf(client: QboClient, invoice_id: str) -> bytes:
    """The invoice PDF."""
    return client.invoice_pdf(invoice_id)


@task(name="qbo-void-invoice", **_safe)
def qbo_void_invoice(client: QboClient, invoice_id: str) -> dict[str, Any]:
    """Void an invoice (idempotent: requestid derived from its SyncToken)."""
    return client.void_invoice(invoice_id)


@task(name="qbo-delete-invoice", **_safe)
def qbo_delete_invoice(client: QboClient, invoice_id: str) -> dict[str, Any]:
    """Delete an invoice (idempotent: requestid derived from its SyncToken)."""
    return client.delete_invoice(invoice_id)


@task(name="qbo-create-payment", **_safe)
def qbo_create_payment(client: QboClient, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Record a payment; idempotent through ``request_id``."""
    return client.create_payment(payload, request_id)
