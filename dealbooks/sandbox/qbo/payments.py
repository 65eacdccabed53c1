"""Payments: validation, application to invoices (Balance down, LinkedTxn both ways), void, removal."""

from __future__ import annotations

from typing import Any

from dealbooks.sandbox.qbo import errors, util
from dealbooks.sandbox.qbo.entities import HEADER_KEYS, check_ref, clean, currency_name
from dealbooks.sandbox.qbo.invoices import applied_amount, voided
from dealbooks.sandbox.qbo.store import Company

SERVER_FIELDS = {"UnappliedAmt", "HomeTotalAmt"}


def applications(payment: dict[str, Any] | None) -> dict[str, float]:
    """Invoice id -> amount applied by this payment."""
    out: dict[str, float] = {}
    for line in (payment or {}).get("Line", []):
        for ref in line.get("LinkedTxn", []):
            if ref.get("TxnType") == "Invoice":
                out[str(ref["TxnId"])] = util.money(out.get(str(ref["TxnId"]), 0) + float(line.get("Amount", 0)))
    return out


def _line_ex(invoice_id: str, open_balance: float, doc_number: str | None) -> dict[str, Any]:
    def pair(name: str, value: str) -> dict[str, Any]:
        return {"name": "{http://schema.intuit.com/finance/v3}NameValue", "nil": False,
                "value": {"Name": name, "Value": value}, "declaredType": "com.intuit.schema.finance.v3.NameValue",
                "scope": "javax.xml.bind.JAXBElement$GlobalScope", "globalScope": True, "typeSubstituted": False}
    items = [pair("txnId", invoice_id), pair("txnOpenBalance", f"{open_balance:.2f}")]
    if doc_number:
        items.append(pair("txnReferenceNumber", doc_number))
    return {"any": items}


def normalize_payment(company: Company, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """Build the stored payment; checks every applied invoice (customer, currency, open balance).

    Raises:
        QboFault: 2020/2500/6000 on invalid input.
    """
    rec = {k: v for k, v in clean({k: v for k, v in body.items() if k != "Line"}).items()
           if k not in HEADER_KEYS | SERVER_FIELDS}
    if "CustomerRef" not in rec:
        raise errors.required("CustomerRef")
    rec["CustomerRef"] = check_ref(company, "Customer", rec["CustomerRef"], "Customer")
    customer = company.get("Customer", rec["CustomerRef"]["value"]) or {}
    if "TotalAmt" not in rec:
        raise errors.required("TotalAmt")
    total = util.money(util.number(rec["TotalAmt"], "TotalAmt"))
    if total < 0:
        raise errors.business("The payment amount can't be negative.", "TotalAmt")
    currency = customer.get("CurrencyRef", {}).get("value", company.home_currency)
    asked = util.ref_value(rec.get("CurrencyRef")) or currency
    if asked != currency:
        raise errors.business(f"The currency of the transaction ({asked}) must match the customer's "
                              f"currency ({currency}).", "CurrencyRef")
    rec["CurrencyRef"] = {"value": currency, "name": currency_name(currency)}
    if company.multicurrency:
        rate = 1.0 if currency == company.home_currency else (
            util.number(rec.get("ExchangeRate"), "ExchangeRate") or company.settings["exchange_rates"].get(currency, 1.0))
        rec["ExchangeRate"] = rate
    previous = applications(existing)
    lines = []
    for raw in clean(body.get("Line") or []):
        amount = util.money(util.number(raw.get("Amount"), "Amount"))
        links = [ln for ln in raw.get("LinkedTxn", []) if ln.get("TxnType") == "Invoice"]
        if not links:
            raise errors.required("LinkedTxn")
        invoice_id = str(links[0].get("TxnId"))
        invoice = company.get("Invoice", invoice_id)
        if invoice is None or voided(company, invoice_id):
            raise errors.invalid_reference("Invoice")
        if invoice["CustomerRef"]["value"] != rec["CustomerRef"]["value"]:
            raise errors.business("The invoice and the payment must be for the same customer.", "LinkedTxn")
        open_balance = util.money(float(invoice["Balance"]) + previous.get(invoice_id, 0))
        if amount > open_balance + 0.001:
            raise errors.business(f"The amount applied to invoice {invoice.get('DocNumber') or invoice_id} "
                                  f"({amount}) is more than its open balance ({open_balance}).", "Line")
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
                      "LineEx": _line_ex(invoice_id, open_balance, invoice.get("DocNumber"))})
    applied = util.money(sum(line["Amount"] for line in lines))
    if applied > total + 0.001:
        raise errors.business("The total of the applied lines is more than the payment amount.", "TotalAmt")
    rec["TotalAmt"] = total
    rec["UnappliedAmt"] = util.money(total - applied)
    rec["Line"] = lines
    rec["TxnDate"] = util.parse_date(rec["TxnDate"], "TxnDate").isoformat() if rec.get("TxnDate") else company.today()
    if "DepositToAccountRef" in rec:
        rec["DepositToAccountRef"] = check_ref(company, "Account", rec["DepositToAccountRef"], "Account")
    else:
        undeposited = next((a for a in company.table("Account").values()
                            if a.get("AccountSubType") == "UndepositedFunds"), None)
        if undeposited is not None:
            rec["DepositToAccountRef"] = {"value": undeposited["Id"]}
    rec.setdefault("ProcessPayment", False)
    return rec


def voided_payment(rec: dict[str, Any]) -> dict[str, Any]:
    """The voided copy of a payment: no lines, zero amounts, PrivateNote "Voided"."""
    out = dict(rec, TotalAmt=0, UnappliedAmt=0, Line=[])
    note = rec.get("PrivateNote")
    out["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    return out


def sync_invoices(company: Company, payment_id: str, before: dict[str, float], after: dict[str, float],
                  stamp: str) -> list[str]:
    """Re-derive Balance and LinkedTxn of every invoice whose application by ``payment_id`` changed.

    Returns:
        The ids of the invoices that changed (each gets SyncToken + 1).
    """
    changed = []
    for invoice_id in sorted(set(before) | set(after)):
        if before.get(invoice_id) == after.get(invoice_id):
            continue
        invoice = company.get("Invoice", invoice_id)
        if invoice is None:
            continue
        links = [ln for ln in invoice.get("LinkedTxn", [])
                 if not (ln.get("TxnType") == "Payment" and ln.get("TxnId") == payment_id)]
        if invoice_id in after:
            links.append({"TxnId": payment_id, "TxnType": "Payment"})
        updated = dict(invoice, LinkedTxn=links)
        applied = applied_amount(company, updated)
        updated["Balance"] = util.money(float(invoice["TotalAmt"]) - float(invoice.get("Deposit", 0)) - applied)
        if "HomeBalance" in invoice:
            updated["HomeBalance"] = util.money(updated["Balance"] * float(invoice.get("ExchangeRate", 1)))
        updated["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
        updated["MetaData"] = dict(invoice["MetaData"], LastUpdatedTime=stamp)
        adjust_customer_balance(company, invoice["CustomerRef"]["value"],
                                updated["Balance"] - float(invoice["Balance"]), stamp)
        company.put("Invoice", updated)
        changed.append(invoice_id)
    return changed


def adjust_customer_balance(company: Company, customer_id: str, delta: float, stamp: str) -> None:
    """Move a customer's open balance (no SyncToken change, like QBO)."""
    if not delta:
        return
    customer = company.get("Customer", customer_id)
    if customer is None:
        return
    customer["Balance"] = util.money(float(customer.get("Balance", 0)) + delta)
    customer["BalanceWithJobs"] = util.money(float(customer.get("BalanceWithJobs", 0)) + delta)
    customer["MetaData"] = dict(customer["MetaData"], LastUpdatedTime=stamp)
    company.put("Customer", customer)
