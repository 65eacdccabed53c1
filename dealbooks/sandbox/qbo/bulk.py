"""Fast bulk operations for benchmarks: create N invoices, pay/void a share of them.

They write records of exactly the API's shape directly into the state (no per-record validation),
which is what makes 100,000 invoices take seconds. They run under ``state.lock``.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from dealbooks.sandbox.qbo import invoices, service, util
from dealbooks.sandbox.qbo.entities import currency_name
from dealbooks.sandbox.qbo.payments import adjust_customer_balance
from dealbooks.sandbox.qbo.store import Company
from dealbooks.sandbox.qbo.webhooks import Event


def _customers(company: Company, wanted: int, events: list[Event]) -> list[dict[str, Any]]:
    active = [c for c in company.table("Customer").values() if c.get("Active", True)]
    index = 1
    while len(active) < wanted:
        name = f"Bulk Customer {index:05d}"
        index += 1
        if company.name_owner("Customer", name) is None:
            active.append(service.save(company, "Customer", {
                "DisplayName": name, "PrimaryEmailAddr": {"Address": f"billing{index:05d}@bulk.example.com"}}, events))
    return active[:wanted] if wanted else active


def seed_invoices(company: Company, options: dict[str, Any]) -> dict[str, Any]:
    """Create ``count`` invoices spread over ``spread_days`` (distinct LastUpdatedTime per invoice).

    Options: count, customers (how many to spread over), amount_min, amount_max, spread_days, due_days,
    item_sku, seed, with_email.
    """
    count = int(options.get("count", 1000))
    rng = random.Random(options.get("seed", 1))
    events: list[Event] = []
    customers = _customers(company, int(options.get("customers", 50)), events)
    lo, hi = float(options.get("amount_min", 100)), float(options.get("amount_max", 5000))
    spread = float(options.get("spread_days", 25)) * 86400
    due_days = int(options.get("due_days", 30))
    sku = options.get("item_sku", "CONSULT-HR")
    item = next((i for i in company.table("Item").values() if i.get("Sku") == sku), None) \
        or next(iter(company.table("Item").values()))
    item_ref = company.ref("Item", item["Id"])
    with_email = bool(options.get("with_email", True))
    now = company.now()
    table = company.table("Invoice")
    changes = company.doc["changes"].setdefault("Invoice", {})
    balances: dict[str, float] = {}
    step = spread / max(count, 1)
    first_id = None
    for n in range(count):
        customer = customers[n % len(customers)]
        created = now - timedelta(seconds=spread - n * step)
        stamp = util.stamp(created, company.zone)
        txn_date = util.today(created, company.zone)
        qty = rng.randint(1, 10)
        unit_price = util.money(rng.uniform(lo, hi) / qty)
        amount = util.money(unit_price * qty)
        invoice_id = company.next_id("Invoice")
        first_id = first_id or invoice_id
        currency = customer["CurrencyRef"]["value"]
        rec: dict[str, Any] = {
            "AllowIPNPayment": False, "AllowOnlinePayment": False, "AllowOnlineCreditCardPayment": False,
            "AllowOnlineACHPayment": False, "domain": "QBO", "sparse": False, "Id": invoice_id, "SyncToken": "0",
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            "DocNumber": company.next_doc_number(), "TxnDate": txn_date.isoformat(),
            "CurrencyRef": {"value": currency, "name": currency_name(currency)}, "LinkedTxn": [],
            "Line": [{"Id": "1", "LineNum": 1, "Description": item.get("Description", item["Name"]), "Amount": amount,
                      "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": item_ref, "UnitPrice": unit_price, "Qty": qty,
                                              "TaxCodeRef": {"value": "NON" if company.us else "4"}}},
                     {"Amount": amount, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}],
            "TxnTaxDetail": {"TotalTax": 0}, "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
            "DueDate": util.add_days(txn_date, due_days), "TotalAmt": amount, "ApplyTaxAfterDiscount": False,
            "PrintStatus": "NotSet", "EmailStatus": "NotSet", "Balance": amount, "Deposit": 0,
        }
        if not company.us:
            rec["GlobalTaxCalculation"] = "TaxExcluded"
        if with_email and customer.get("PrimaryEmailAddr"):
            rec["BillEmail"] = dict(customer["PrimaryEmailAddr"])
        table[invoice_id] = rec
        changes[invoice_id] = created.timestamp()
        balances[customer["Id"]] = balances.get(customer["Id"], 0.0) + amount
    stamp = company.stamp()
    for customer_id, delta in balances.items():
        adjust_customer_balance(company, customer_id, delta, stamp)
    company.versions["Invoice"] = company.version("Invoice") + 1
    company.state.mark_dirty()
    return {"created": count, "first_id": first_id, "last_id": company.doc["seq"].get("Invoice"),
            "customers": len(customers)}


def mutate(company: Company, options: dict[str, Any]) -> tuple[dict[str, Any], list[Event]]:
    """Pay in full (``pay_share``), pay half (``partial_share``) or void (``void_share``) open invoices.

    Options: pay_share, partial_share, void_share, seed, ids (restrict to these invoice ids).
    Returns the result summary and the webhook events the changes caused.
    """
    rng = random.Random(options.get("seed", 2))
    events: list[Event] = []
    wanted = {str(i) for i in options.get("ids") or []}
    candidates = [rec for rid, rec in company.table("Invoice").items()
                  if float(rec["Balance"]) > 0 and not invoices.voided(company, rid) and (not wanted or rid in wanted)]
    shares = [("paid", float(options.get("pay_share", 0))), ("partial", float(options.get("partial_share", 0))),
              ("voided", float(options.get("void_share", 0)))]
    result: dict[str, list[str]] = {"paid": [], "partial": [], "voided": []}
    for rec in candidates:
        roll, acc, action = rng.random(), 0.0, None
        for name, share in shares:
            acc += share
            if roll < acc:
                action = name
                break
        if action is None:
            continue
        if action == "voided":
            service.void(company, "Invoice", {"Id": rec["Id"], "SyncToken": rec["SyncToken"]}, events)
        else:
            amount = float(rec["Balance"]) if action == "paid" else util.money(float(rec["Balance"]) / 2)
            service.save(company, "Payment", {
                "CustomerRef": {"value": rec["CustomerRef"]["value"]}, "TotalAmt": amount,
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": rec["Id"], "TxnType": "Invoice"}]}]}, events)
        result[action].append(rec["Id"])
    summary: dict[str, Any] = {name: len(ids) for name, ids in result.items()}
    summary["ids"] = result
    return summary, events
