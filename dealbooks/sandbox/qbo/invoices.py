"""Invoices: server-computed lines and totals, tax, due dates, numbering, void, send, InvoiceLink."""

from __future__ import annotations

import hashlib
from typing import Any

from dealbooks.sandbox.qbo import errors, util
from dealbooks.sandbox.qbo.entities import HEADER_KEYS, check_email, check_ref, clean, currency_name
from dealbooks.sandbox.qbo.store import Company

SERVER_FIELDS = {"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "InvoiceLink", "LinkedTxn",
                 "DeliveryInfo", "EmailStatus"}
LINE_TYPES = {"SalesItemLineDetail", "SubTotalLineDetail", "DiscountLineDetail", "DescriptionOnly",
              "GroupLineDetail"}
MAX_TAXABLE_LINES = 750
TAX_NAMES = {"CA": "GST/HST", "GB": "VAT", "UK": "VAT", "AU": "GST", "IN": "GST", "FR": "TVA"}
DEFAULT_TERM_DAYS = 30


def voided(company: Company, invoice_id: str) -> bool:
    return invoice_id in company.doc.setdefault("voided", {}).setdefault("Invoice", {})


def applied_amount(company: Company, invoice: dict[str, Any]) -> float:
    """Sum of payment lines applied to this invoice (follows the invoice's LinkedTxn)."""
    total = 0.0
    for link in invoice.get("LinkedTxn", []):
        if link.get("TxnType") != "Payment":
            continue
        payment = company.get("Payment", link["TxnId"])
        for line in (payment or {}).get("Line", []):
            for ref in line.get("LinkedTxn", []):
                if ref.get("TxnType") == "Invoice" and ref.get("TxnId") == invoice["Id"]:
                    total += float(line.get("Amount", 0))
    return util.money(total)


def _limit(text: Any, element: str, limit: int) -> None:
    if text is not None and len(str(text)) > limit:
        raise errors.too_long(element, limit, len(str(text)))


def _sales_line(company: Company, line: dict[str, Any], taxable_default: bool) -> dict[str, Any]:
    detail = dict(line.get("SalesItemLineDetail") or {})
    item_value = util.ref_value(detail.get("ItemRef"))
    if not item_value:
        fallback = company.name_owner("Item", "Services")
        if fallback is None:
            raise errors.required("ItemRef")
        item_value = fallback[1]
    item = company.get("Item", item_value)
    if item is None:
        raise errors.invalid_reference("Item")
    detail["ItemRef"] = company.ref("Item", item_value)
    qty = util.number(detail.get("Qty"), "Qty")
    price = util.number(detail.get("UnitPrice"), "UnitPrice")
    amount = util.money(util.number(line.get("Amount"), "Amount")) if "Amount" in line else None
    if qty and price:
        if amount is None:
            amount = util.money(qty * price)
        elif abs(util.money(qty * price) - amount) >= 0.005:
            raise errors.QboFault(6070, "Amount calculation incorrect in the request.",
                                  f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}", "Amount")
    elif amount is None:
        raise errors.required("Amount")
    elif qty and not price:
        price = round(amount / qty, 7)
    for key, value in (("Qty", qty), ("UnitPrice", price)):
        if value:
            detail[key] = value if value != int(value) else int(value)
        else:
            detail.pop(key, None)
    tax_code = util.ref_value(detail.get("TaxCodeRef"))
    if company.us:
        tax_code = tax_code or ("TAX" if (item.get("Taxable") and taxable_default) else "NON")
        if tax_code not in ("TAX", "NON"):
            raise errors.invalid_reference("TaxCode")
    elif tax_code:
        check_ref(company, "TaxCode", tax_code, "TaxCode")
    if tax_code:
        detail["TaxCodeRef"] = {"value": tax_code}
    detail.pop("TaxInclusiveAmt", None)
    out = {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    if "Description" in line:
        _limit(line["Description"], "Description", 4000)
        out["Description"] = line["Description"]
    return out


def _lines(company: Company, raw: list[Any], taxable_default: bool) -> tuple[list[dict[str, Any]], float, float]:
    """Normalize lines; returns (lines without the subtotal line, subtotal, discount)."""
    lines: list[dict[str, Any]] = []
    subtotal = 0.0
    for entry in raw:
        if not isinstance(entry, dict):
            raise errors.invalid_property("Line must be an object")
        kind = entry.get("DetailType") or ""
        if kind not in LINE_TYPES:
            raise errors.invalid_property(f"Property Name:DetailType specified is unsupported or invalid ({kind})")
        if kind == "SubTotalLineDetail":
            continue
        if kind == "SalesItemLineDetail":
            line = _sales_line(company, entry, taxable_default)
            subtotal += line["Amount"]
        elif kind == "DescriptionOnly":
            _limit(entry.get("Description"), "Description", 4000)
            line = {"Description": entry.get("Description", ""), "DetailType": kind, "Amount": 0,
                    "DescriptionLineDetail": entry.get("DescriptionLineDetail", {})}
        elif kind == "GroupLineDetail":
            line = {k: v for k, v in entry.items() if k not in ("Id", "LineNum")}
            line["Amount"] = util.money(util.number(entry.get("Amount"), "Amount"))
            subtotal += line["Amount"]
        else:
            line = {"DetailType": kind, "DiscountLineDetail": dict(entry.get("DiscountLineDetail") or {}),
                    "Amount": util.money(util.number(entry.get("Amount"), "Amount"))}
        lines.append(line)
    subtotal = util.money(subtotal)
    discount = 0.0
    for line in lines:
        if line["DetailType"] == "DiscountLineDetail":
            info = line["DiscountLineDetail"]
            if info.get("PercentBased"):
                line["Amount"] = util.money(subtotal * util.number(info.get("DiscountPercent"), "DiscountPercent") / 100)
            discount += line["Amount"]
    return lines, subtotal, util.money(discount)


def _tax(company: Company, rec: dict[str, Any], lines: list[dict[str, Any]], discount: float,
         subtotal: float) -> tuple[dict[str, Any], float]:
    """(TxnTaxDetail, tax added to the total)."""
    sales = [ln for ln in lines if ln["DetailType"] == "SalesItemLineDetail"]
    detail_in = rec.get("TxnTaxDetail") or {}
    if company.us:
        taxable = util.money(sum(ln["Amount"] for ln in sales
                                 if ln["SalesItemLineDetail"].get("TaxCodeRef", {}).get("value") == "TAX"))
        if taxable and len(sales) > MAX_TAXABLE_LINES:
            raise errors.business(f"A taxable transaction can't have more than {MAX_TAXABLE_LINES} lines.")
        code_id = util.ref_value(detail_in.get("TxnTaxCodeRef"))
        if not code_id or not taxable:
            return {"TotalTax": 0}, 0.0
        if rec.get("ApplyTaxAfterDiscount") and subtotal:
            taxable = util.money(taxable * (subtotal - discount) / subtotal)
        rates = _rates(company, code_id)
        tax_lines = [_tax_line(company, rate_id, pct, taxable, taxable * pct / 100) for rate_id, pct in rates]
        total = util.money(sum(t["Amount"] for t in tax_lines))
        return {"TxnTaxCodeRef": {"value": code_id}, "TotalTax": total, "TaxLine": tax_lines}, total
    missing = [ln for ln in sales if "TaxCodeRef" not in ln["SalesItemLineDetail"]]
    if missing or not rec.get("GlobalTaxCalculation"):
        name = TAX_NAMES.get(company.settings["country"], "tax")
        raise errors.business(f"Make sure all your transactions have a {name} rate before you save.")
    mode = rec["GlobalTaxCalculation"]
    if mode == "NotApplicable":
        return {"TotalTax": 0}, 0.0
    buckets: dict[str, list[float]] = {}
    for ln in sales:
        for rate_id, pct in _rates(company, ln["SalesItemLineDetail"]["TaxCodeRef"]["value"]):
            net, tax = ln["Amount"], ln["Amount"] * pct / 100
            if mode == "TaxInclusive":
                tax = ln["Amount"] * pct / (100 + pct)
                net = ln["Amount"] - tax
            bucket = buckets.setdefault(rate_id, [pct, 0.0, 0.0])
            bucket[1] += net
            bucket[2] += tax
    tax_lines = [_tax_line(company, rid, b[0], b[1], b[2]) for rid, b in buckets.items()]
    total = util.money(sum(t["Amount"] for t in tax_lines))
    return {"TotalTax": total, "TaxLine": tax_lines}, (total if mode == "TaxExcluded" else 0.0)


def _rates(company: Company, code_id: str) -> list[tuple[str, float]]:
    code = company.get("TaxCode", code_id)
    if code is None:
        raise errors.invalid_reference("TaxCode")
    out = []
    for entry in (code.get("SalesTaxRateList") or {}).get("TaxRateDetail", []):
        rate = company.get("TaxRate", util.ref_value(entry.get("TaxRateRef")))
        if rate is not None:
            out.append((rate["Id"], float(rate.get("RateValue", 0))))
    return out


def _tax_line(company: Company, rate_id: str, pct: float, net: float, tax: float) -> dict[str, Any]:
    return {"Amount": util.money(tax), "DetailType": "TaxLineDetail",
            "TaxLineDetail": {"TaxRateRef": {"value": rate_id}, "PercentBased": True,
                              "TaxPercent": pct if pct != int(pct) else int(pct),
                              "NetAmountTaxable": util.money(net)}}


def _due_date(company: Company, rec: dict[str, Any], customer: dict[str, Any]) -> None:
    term_value = util.ref_value(rec.get("SalesTermRef")) or util.ref_value(customer.get("SalesTermRef"))
    if not term_value:
        default = company.get("Preferences", "1") or {}
        term_value = util.ref_value(default.get("SalesFormsPrefs", {}).get("DefaultTerms"))
    days = DEFAULT_TERM_DAYS
    if term_value:
        term = company.get("Term", term_value)
        if term is None:
            raise errors.invalid_reference("Term")
        rec["SalesTermRef"] = company.ref("Term", term_value)
        days = int(term.get("DueDays", DEFAULT_TERM_DAYS))
    if not rec.get("DueDate"):
        rec["DueDate"] = util.add_days(util.parse_date(rec["TxnDate"], "TxnDate"), days)
    else:
        rec["DueDate"] = util.parse_date(rec["DueDate"], "DueDate").isoformat()


def normalize_invoice(company: Company, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """Build the stored invoice from a request body (a full body or a sparse body merged over it).

    Raises:
        QboFault: on any validation rule (2020, 2050, 2500, 6000, 6070 ...).
    """
    if existing is not None and voided(company, existing["Id"]):
        raise errors.business("This transaction has been voided. You can't change a voided transaction.")
    raw_lines = body.get("Line") or []
    rec = {k: v for k, v in clean({k: v for k, v in body.items() if k != "Line"}).items()
           if k not in HEADER_KEYS | SERVER_FIELDS}
    if "CustomerRef" not in rec:
        raise errors.required("CustomerRef")
    rec["CustomerRef"] = check_ref(company, "Customer", rec["CustomerRef"], "Customer")
    customer = company.get("Customer", rec["CustomerRef"]["value"]) or {}
    currency = customer.get("CurrencyRef", {}).get("value", company.home_currency)
    asked = util.ref_value(rec.get("CurrencyRef")) or currency
    if asked != currency:
        raise errors.business(f"The currency of the transaction ({asked}) must match the customer's "
                              f"currency ({currency}).", "CurrencyRef")
    rec["CurrencyRef"] = {"value": currency, "name": currency_name(currency)}
    rate = 1.0
    if company.multicurrency:
        default_rate = company.settings["exchange_rates"].get(currency, 1.0)
        rate = 1.0 if currency == company.home_currency else (util.number(rec.get("ExchangeRate"), "ExchangeRate")
                                                             or default_rate)
        rec["ExchangeRate"] = rate
    else:
        rec.pop("ExchangeRate", None)
    if not company.us and not rec.get("GlobalTaxCalculation"):
        rec.pop("GlobalTaxCalculation", None)
    elif company.us:
        rec.pop("GlobalTaxCalculation", None)
    if not raw_lines:
        raise errors.required("Line")
    lines, subtotal, discount = _lines(company, raw_lines, bool(customer.get("Taxable", True)))
    if not any(ln["DetailType"] in ("SalesItemLineDetail", "GroupLineDetail") for ln in lines):
        raise errors.required("Line")
    tax_detail, added_tax = _tax(company, rec, lines, discount, subtotal)
    for number, line in enumerate(lines, start=1):
        line["Id"], line["LineNum"] = str(number), number
    lines.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    rec["Line"] = lines
    rec["TxnTaxDetail"] = tax_detail
    total = util.money(subtotal - discount + added_tax)
    deposit = util.money(util.number(rec.get("Deposit"), "Deposit"))
    applied = applied_amount(company, existing) if existing else 0.0
    if total < applied + deposit - 0.001:
        raise errors.business("The transaction total can't be less than the amount already paid on it.")
    rec["TotalAmt"] = total
    rec["Deposit"] = deposit
    rec["Balance"] = util.money(total - deposit - applied)
    if company.multicurrency:
        rec["HomeTotalAmt"] = util.money(total * rate)
        rec["HomeBalance"] = util.money(rec["Balance"] * rate)
    rec["TxnDate"] = util.parse_date(rec["TxnDate"], "TxnDate").isoformat() if rec.get("TxnDate") else company.today()
    _due_date(company, rec, customer)
    _header(company, rec, body, existing, customer)
    return rec


def _header(company: Company, rec: dict[str, Any], body: dict[str, Any], existing: dict[str, Any] | None,
            customer: dict[str, Any]) -> None:
    if "DocNumber" in rec:
        rec["DocNumber"] = str(rec["DocNumber"])
        _limit(rec["DocNumber"], "DocNumber", 21)
    elif existing is not None and existing.get("DocNumber"):
        rec["DocNumber"] = existing["DocNumber"]
    memo = rec.get("CustomerMemo")
    if isinstance(memo, dict):
        _limit(memo.get("value"), "CustomerMemo", 1000)
    _limit(rec.get("PrivateNote"), "PrivateNote", 4000)
    check_email(rec.get("BillEmail"), "BillEmail")
    check_email(rec.get("BillEmailCc"), "BillEmailCc")
    check_email(rec.get("BillEmailBcc"), "BillEmailBcc")
    asked_status = body.get("EmailStatus")
    status = (existing or {}).get("EmailStatus", "NotSet")
    if asked_status in ("NotSet", "NeedToSend") and status != "EmailSent":
        status = asked_status
    if status == "NeedToSend" and not (rec.get("BillEmail") or {}).get("Address"):
        raise errors.business("Email Address is required when the invoice is marked to be sent (NeedToSend).",
                              "BillEmail")
    rec["EmailStatus"] = status
    if existing and existing.get("DeliveryInfo"):
        rec["DeliveryInfo"] = existing["DeliveryInfo"]
    rec.setdefault("PrintStatus", "NotSet")
    rec.setdefault("ApplyTaxAfterDiscount", False)
    for flag in ("AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment"):
        rec.setdefault(flag, False)
    if "BillAddr" not in rec and customer.get("BillAddr"):
        rec["BillAddr"] = dict(customer["BillAddr"])
    if "ShipAddr" not in rec and (customer.get("ShipAddr") or customer.get("BillAddr")):
        rec["ShipAddr"] = dict(customer.get("ShipAddr") or customer["BillAddr"])
    rec["LinkedTxn"] = list((existing or {}).get("LinkedTxn", []))
    if "DocNumber" not in rec and existing is None and not company.custom_txn_numbers:
        rec["DocNumber"] = company.next_doc_number()  # last: a rejected request burns no number


def void(company: Company, rec: dict[str, Any]) -> dict[str, Any]:
    """The voided copy: amounts, quantities and balances zeroed, PrivateNote prefixed "Voided"."""
    out = dict(rec)
    lines = []
    for line in rec["Line"]:
        line = dict(line, Amount=0)
        if line["DetailType"] == "SalesItemLineDetail":
            detail = {k: v for k, v in line["SalesItemLineDetail"].items() if k != "UnitPrice"}
            detail["Qty"] = 0
            line["SalesItemLineDetail"] = detail
        lines.append(line)
    out["Line"] = lines
    out["TotalAmt"] = 0
    out["Balance"] = 0
    out["TxnTaxDetail"] = {"TotalTax": 0}
    out["LinkedTxn"] = []
    note = rec.get("PrivateNote")
    out["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    if "HomeTotalAmt" in out:
        out["HomeTotalAmt"] = out["HomeBalance"] = 0
    company.doc.setdefault("voided", {}).setdefault("Invoice", {})[rec["Id"]] = True
    return out


def mark_sent(company: Company, rec: dict[str, Any], send_to: str | None) -> dict[str, Any]:
    """Record an e-mail delivery: EmailStatus EmailSent + DeliveryInfo; ``send_to`` replaces BillEmail.

    Raises:
        QboFault: when no address is known or the address is invalid.
    """
    out = dict(rec)
    if send_to:
        out["BillEmail"] = {"Address": send_to}
        check_email(out["BillEmail"], "sendTo")
    address = (out.get("BillEmail") or {}).get("Address")
    if not address:
        raise errors.business("Email Address is required to send this transaction.", "BillEmail")
    out["EmailStatus"] = "EmailSent"
    out["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": company.stamp()}
    company.doc.setdefault("outbox", []).append({"Invoice": rec["Id"], "DocNumber": rec.get("DocNumber"),
                                                 "to": address, "at": company.stamp()})
    del company.doc["outbox"][:-1000]
    return out


def link_token(company: Company, invoice_id: str) -> str:
    secret = company.state.secret("qbo_invoice_link")
    return hashlib.sha256(f"{secret}:{company.realm_id}:{invoice_id}".encode()).hexdigest()[:32]


def with_invoice_link(company: Company, rec: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Add ``InvoiceLink`` when the real conditions hold: online payments on and a BillEmail present."""
    if not company.online_payments or not (rec.get("BillEmail") or {}).get("Address"):
        return rec
    if voided(company, rec["Id"]):
        return rec
    link = (f"{base_url}/qbo/comm/invoice?realm={company.realm_id}&id={rec['Id']}"
            f"&token={link_token(company, rec['Id'])}")
    return dict(rec, InvoiceLink=link)
