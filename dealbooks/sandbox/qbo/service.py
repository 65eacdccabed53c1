"""The Accounting API's operations, independent of HTTP (the routes and batch both use them).

Every operation runs with ``state.lock`` held by the caller and appends the webhook events it causes
to ``events``; the caller emits them after the change is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dealbooks.sandbox.qbo import entities, errors, invoices, payments, prefs, util
from dealbooks.sandbox.qbo.store import Company
from dealbooks.sandbox.qbo.webhooks import Event

#: URL path segment -> entity name (python-quickbooks lower-cases the entity for the path).
ENTITIES = {name.lower(): name for name in (
    "Customer", "Vendor", "Employee", "Item", "Account", "Term", "TaxCode", "TaxRate", "Invoice", "Payment",
    "CompanyInfo", "Preferences")}
CREATABLE = {"Customer", "Vendor", "Employee", "Item", "Account", "Term", "Invoice", "Payment"}
UPDATABLE = CREATABLE | {"CompanyInfo"}
DELETABLE = {"Invoice", "Payment"}
VOIDABLE = {"Invoice", "Payment"}

Normalizer = Callable[[Company, dict[str, Any], dict[str, Any] | None], dict[str, Any]]


def _normalizer(entity: str) -> Normalizer:
    if entity in ("Customer", "Vendor", "Employee"):
        return lambda c, b, e: entities.normalize_person(c, entity, b, e)
    return {"Item": entities.normalize_item, "Account": entities.normalize_account,
            "Term": entities.normalize_term, "Invoice": invoices.normalize_invoice,
            "Payment": payments.normalize_payment}.get(
        entity, lambda c, b, e: entities.normalize_simple(entity, b, e))


def entity_of(segment: str) -> str:
    """The entity for a URL segment.

    Raises:
        QboFault: 500 Unsupported operation for an unknown resource.
    """
    entity = ENTITIES.get(segment.lower())
    if entity is None:
        raise errors.unsupported(f"Operation Could not find resource for relative : /{segment} of full path: "
                                 f"{segment} is not supported.")
    return entity


def _finish(company: Company, rec: dict[str, Any], existing: dict[str, Any] | None, stamp: str) -> dict[str, Any]:
    """Put the header fields QBO returns on every record, in QBO's order-insensitive way."""
    rec["domain"] = "QBO"
    rec["sparse"] = False
    rec["Id"] = existing["Id"] if existing else rec["Id"]
    rec["SyncToken"] = str(int(existing["SyncToken"]) + 1) if existing else "0"
    created = existing["MetaData"]["CreateTime"] if existing else stamp
    rec["MetaData"] = {"CreateTime": created, "LastUpdatedTime": stamp}
    return rec


def _check_sync_token(body: dict[str, Any], existing: dict[str, Any]) -> None:
    token = body.get("SyncToken")
    if token is None or token == "":
        raise errors.required("SyncToken")
    if str(token).strip() != str(existing["SyncToken"]):
        raise errors.stale_object()


def _existing(company: Company, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    record_id = body.get("Id")
    if record_id is None or record_id == "":
        raise errors.required("Id")
    existing = company.get(entity, str(record_id))
    if existing is None:
        raise errors.not_found(entity)
    return existing


def save(company: Company, entity: str, body: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    """Create (no ``Id``) or update (full, or sparse with ``"sparse": true``) one record.

    Raises:
        QboFault: 610, 5010, 6240, 6000, ... as QBO would.
    """
    if not isinstance(body, dict):
        raise errors.invalid_property("The request body must be a JSON object")
    has_id = body.get("Id") not in (None, "", 0, "0")
    if entity == "Preferences":
        return prefs.update_preferences(company, body)
    if not has_id and entity not in CREATABLE:
        raise errors.unsupported(f"Operation Create is not supported for {entity}.")
    if has_id and entity not in UPDATABLE:
        raise errors.unsupported(f"Operation Update is not supported for {entity}.")
    existing = None
    merged = body
    if has_id:
        existing = _existing(company, entity, body)
        _check_sync_token(body, existing)
        if body.get("sparse") in (True, "true"):
            merged = {**existing, **{k: v for k, v in body.items() if v is not None}}
    stamp = company.stamp()
    before = payments.applications(existing) if entity == "Payment" else {}
    rec = _normalizer(entity)(company, merged, existing)
    if existing is None:
        rec["Id"] = company.next_id(entity)
    rec = _finish(company, rec, existing, stamp)
    name = entities.name_of(entity, rec)
    if name is not None:
        company.claim_name(entity, rec["Id"], name, entities.name_of(entity, existing) if existing else None)
    company.put(entity, rec)
    operation = "Update" if existing else "Create"
    events.append((entity, rec["Id"], operation, stamp))
    if entity == "Invoice":
        new_customer = rec["CustomerRef"]["value"]
        if existing and existing["CustomerRef"]["value"] != new_customer:
            payments.adjust_customer_balance(company, existing["CustomerRef"]["value"],
                                             -float(existing["Balance"]), stamp)
            payments.adjust_customer_balance(company, new_customer, float(rec["Balance"]), stamp)
        else:
            delta = float(rec["Balance"]) - float(existing["Balance"] if existing else 0)
            payments.adjust_customer_balance(company, new_customer, delta, stamp)
    if entity == "Payment":
        for invoice_id in payments.sync_invoices(company, rec["Id"], before, payments.applications(rec), stamp):
            events.append(("Invoice", invoice_id, "Update", stamp))
    if entity == "CompanyInfo":
        prefs.company_info_changed(company, rec)
    return company.get(entity, rec["Id"]) or rec


def read(company: Company, entity: str, record_id: str) -> dict[str, Any]:
    """Read one record; deleted or unknown ids are 610."""
    if entity in ("Preferences", "CompanyInfo"):
        record_id = "1"  # one per company; QBO documents reading CompanyInfo by the realm id
    rec = company.get(entity, record_id)
    if rec is None:
        raise errors.not_found(entity)
    return rec


def delete(company: Company, entity: str, body: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    """``?operation=delete``: returns ``{"status": "Deleted", "domain": "QBO", "Id": ...}``."""
    if entity not in DELETABLE:
        raise errors.unsupported(f"Operation Delete is not supported for {entity}.")
    existing = _existing(company, entity, body)
    _check_sync_token(body, existing)
    stamp = company.stamp()
    if entity == "Invoice":
        if any(link.get("TxnType") == "Payment" for link in existing.get("LinkedTxn", [])):
            raise errors.business("This transaction has payments applied to it. Delete or unapply the payments "
                                  "before you delete the invoice.")
        payments.adjust_customer_balance(company, existing["CustomerRef"]["value"], -float(existing["Balance"]), stamp)
    company.remove(entity, existing["Id"], stamp)
    if entity == "Payment":
        for invoice_id in payments.sync_invoices(company, existing["Id"], payments.applications(existing), {}, stamp):
            events.append(("Invoice", invoice_id, "Update", stamp))
    events.append((entity, existing["Id"], "Delete", stamp))
    return {"status": "Deleted", "domain": "QBO", "Id": existing["Id"]}


def void(company: Company, entity: str, body: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    """Void an invoice (``operation=void``) or a payment (``operation=update&include=void``)."""
    if entity not in VOIDABLE:
        raise errors.unsupported(f"Operation Void is not supported for {entity}.")
    existing = _existing(company, entity, body)
    _check_sync_token(body, existing)
    stamp = company.stamp()
    if entity == "Invoice":
        for link in existing.get("LinkedTxn", []):
            if link.get("TxnType") == "Payment":
                _unapply_payment(company, link["TxnId"], existing["Id"], stamp, events)
        current = company.get("Invoice", existing["Id"]) or existing
        payments.adjust_customer_balance(company, current["CustomerRef"]["value"], -float(current["Balance"]), stamp)
        rec = invoices.void(company, current)
        rec = _finish(company, rec, current, stamp)
        company.put("Invoice", rec)
    else:
        before = payments.applications(existing)
        rec = _finish(company, payments.voided_payment(existing), existing, stamp)
        company.put("Payment", rec)
        for invoice_id in payments.sync_invoices(company, rec["Id"], before, {}, stamp):
            events.append(("Invoice", invoice_id, "Update", stamp))
    events.append((entity, rec["Id"], "Void", stamp))
    return rec


def _unapply_payment(company: Company, payment_id: str, invoice_id: str, stamp: str, events: list[Event]) -> None:
    """Voiding an invoice turns the payments applied to it into unapplied credit."""
    payment = company.get("Payment", payment_id)
    if payment is None:
        return
    before = payments.applications(payment)
    lines = [ln for ln in payment["Line"]
             if not any(ref.get("TxnId") == invoice_id for ref in ln.get("LinkedTxn", []))]
    applied = util.money(sum(float(ln["Amount"]) for ln in lines))
    updated = dict(payment, Line=lines, UnappliedAmt=util.money(float(payment["TotalAmt"]) - applied))
    updated = _finish(company, updated, payment, stamp)
    company.put("Payment", updated)
    payments.sync_invoices(company, payment_id, before, payments.applications(updated), stamp)
    events.append(("Payment", payment_id, "Update", stamp))


def send(company: Company, invoice_id: str, send_to: str | None, events: list[Event]) -> dict[str, Any]:
    """``POST /invoice/{id}/send``: EmailStatus EmailSent, DeliveryInfo; SyncToken unchanged."""
    existing = company.get("Invoice", invoice_id)
    if existing is None:
        raise errors.not_found("Invoice")
    stamp = company.stamp()
    rec = invoices.mark_sent(company, existing, send_to)
    rec["MetaData"] = dict(existing["MetaData"], LastUpdatedTime=stamp)
    company.put("Invoice", rec)
    events.append(("Invoice", invoice_id, "Emailed", stamp))
    return rec
