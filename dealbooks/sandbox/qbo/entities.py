"""Name-list entities (Customer, Vendor, Employee, Item, Account, Term) and the read-only lists.

Each ``normalize_*`` turns a request body (full or merged sparse) into the stored record, without
the common header (Id, SyncToken, MetaData), validating QBO's rules on the way.
"""

from __future__ import annotations

from typing import Any

from dealbooks.sandbox.qbo import errors, util
from dealbooks.sandbox.qbo.store import PERSON_ENTITIES, Company

#: Keys the server owns; whatever the client sends for them is ignored.
HEADER_KEYS = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status"}
READ_ONLY = {
    "Customer": {"Balance", "BalanceWithJobs", "FullyQualifiedName", "Level", "Job"},
    "Vendor": {"Balance"}, "Employee": set(),
    "Item": {"FullyQualifiedName", "Level"},
    "Account": {"FullyQualifiedName", "Classification", "CurrentBalance", "CurrentBalanceWithSubAccounts"},
    "Term": {"Type"},
}
CLASSIFICATION = {
    "Bank": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset", "Other Asset": "Asset",
    "Accounts Receivable": "Asset", "Equity": "Equity", "Expense": "Expense", "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Long Term Liability": "Liability", "Other Current Liability": "Liability", "Income": "Revenue",
    "Other Income": "Revenue",
}
ITEM_TYPES = {"Service", "NonInventory", "Inventory", "Category", "Group"}
EMAIL_MAX = 100


def clean(value: Any) -> Any:
    """Drop the "unset" noise python-quickbooks sends: ``""``/``None`` values, empty dicts and lists,
    ``name``/``type`` of references (the server fills names), ``Id: None`` in addresses."""
    if isinstance(value, dict):
        out = {}
        is_ref = "value" in value and set(value) <= {"value", "name", "type"}
        for key, item in value.items():
            if is_ref and key in ("name", "type"):
                continue
            item = clean(item)
            if util.blank(item):
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        cleaned = [clean(v) for v in value]
        return [v for v in cleaned if not util.blank(v)]
    return value


def writable(entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """The client-writable part of a body, cleaned."""
    skip = HEADER_KEYS | READ_ONLY.get(entity, set())
    return {k: v for k, v in clean(body).items() if k not in skip}


def check_email(container: Any, element: str) -> None:
    """Validate an ``EmailAddress`` object (length ≤ 100, one ``@``)."""
    if not isinstance(container, dict) or "Address" not in container:
        return
    address = str(container["Address"])
    if len(address) > EMAIL_MAX:
        raise errors.too_long(element, EMAIL_MAX, len(address))
    for part in address.split(","):
        part = part.strip()
        if part.count("@") != 1 or part.startswith("@") or part.endswith("@"):
            raise errors.business(f"Invalid Email Address format: {part}", element)


def check_ref(company: Company, entity: str, ref: Any, label: str) -> dict[str, str]:
    """Resolve a reference to an existing record of ``entity``; returns it with the name filled.

    Raises:
        QboFault: 2500 when it does not exist.
    """
    value = util.ref_value(ref)
    if not value or company.get(entity, value) is None:
        raise errors.invalid_reference(label)
    return company.ref(entity, value)


def check_unique_name(company: Company, entity: str, name: str, record_id: str | None) -> None:
    owner = company.name_owner(entity, name)
    if owner is not None and owner != (entity, record_id):
        raise errors.duplicate_name()


def _person_display_name(rec: dict[str, Any]) -> str:
    parts = [rec.get(k, "") for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
    name = " ".join(str(p) for p in parts if p)
    return name or str(rec.get("CompanyName", ""))


def _currency(company: Company, rec: dict[str, Any]) -> dict[str, str]:
    code = util.ref_value(rec.get("CurrencyRef")) or company.home_currency
    if code != company.home_currency and not company.multicurrency:
        raise errors.business("Multicurrency is not turned on for this company; only the home currency "
                              f"{company.home_currency} can be used.", "CurrencyRef")
    return {"value": code, "name": currency_name(code)}


def currency_name(code: str) -> str:
    return {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling",
            "CAD": "Canadian Dollar", "AUD": "Australian Dollar"}.get(code, code)


def has_transactions(company: Company, customer_id: str) -> bool:
    for entity in ("Invoice", "Payment"):
        for rec in company.table(entity).values():
            if rec.get("CustomerRef", {}).get("value") == customer_id:
                return True
    return False


def normalize_person(company: Company, entity: str, body: dict[str, Any],
                     existing: dict[str, Any] | None) -> dict[str, Any]:
    """Customer / Vendor / Employee."""
    rec = writable(entity, body)
    record_id = existing["Id"] if existing else None
    name = str(rec.get("DisplayName") or _person_display_name(rec)).strip()
    if not name:
        raise errors.required("DisplayName")
    if len(name) > 500:
        raise errors.too_long("DisplayName", 500, len(name))
    check_unique_name(company, entity, name, record_id)
    rec["DisplayName"] = name
    rec.setdefault("PrintOnCheckName", name)
    rec.setdefault("Active", True)
    check_email(rec.get("PrimaryEmailAddr"), "PrimaryEmailAddr")
    if entity == "Employee":
        return rec
    currency = _currency(company, rec)
    if existing and existing.get("CurrencyRef", {}).get("value") not in (None, currency["value"]):
        if entity == "Customer" and has_transactions(company, existing["Id"]):
            raise errors.business("You can't change the currency of a customer that already has "
                                  "transactions.", "CurrencyRef")
    rec["CurrencyRef"] = currency
    rec["Balance"] = existing.get("Balance", 0) if existing else 0
    if entity != "Customer":
        return rec
    rec["BalanceWithJobs"] = existing.get("BalanceWithJobs", rec["Balance"]) if existing else 0
    rec.setdefault("Taxable", company.us)
    rec.setdefault("BillWithParent", False)
    rec.setdefault("PreferredDeliveryMethod", "Print")
    if "SalesTermRef" in rec:
        rec["SalesTermRef"] = check_ref(company, "Term", rec["SalesTermRef"], "Term")
    if "ParentRef" in rec:
        parent = company.get("Customer", util.ref_value(rec["ParentRef"]))
        if parent is None:
            raise errors.invalid_reference("Parent customer")
        rec["ParentRef"] = company.ref("Customer", parent["Id"])
        rec["Job"] = True
        rec["Level"] = int(parent.get("Level", 0)) + 1
        rec["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
    else:
        rec["Job"] = False
        rec["FullyQualifiedName"] = name
    return rec


def normalize_item(company: Company, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    rec = writable("Item", body)
    name = str(rec.get("Name", "")).strip()
    if not name:
        raise errors.required("Name")
    if len(name) > 100:
        raise errors.too_long("Name", 100, len(name))
    check_unique_name(company, "Item", name, existing["Id"] if existing else None)
    rec["Name"] = name
    rec["FullyQualifiedName"] = name
    rec["Type"] = rec.get("Type") or "Service"
    if rec["Type"] not in ITEM_TYPES:
        raise errors.invalid_property(f"Property Name:Type specified is unsupported or invalid ({rec['Type']})")
    if rec["Type"] != "Category":
        if "IncomeAccountRef" not in rec:
            raise errors.required("IncomeAccountRef")
        rec["IncomeAccountRef"] = check_ref(company, "Account", rec["IncomeAccountRef"], "Account")
        rec["UnitPrice"] = util.number(rec.get("UnitPrice", 0), "UnitPrice")
        rec.setdefault("Taxable", False)
        rec.setdefault("TrackQtyOnHand", False)
    rec.setdefault("Active", True)
    return rec


def normalize_account(company: Company, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    rec = writable("Account", body)
    name = str(rec.get("Name", "")).strip()
    if not name:
        raise errors.required("Name")
    check_unique_name(company, "Account", name, existing["Id"] if existing else None)
    account_type = rec.get("AccountType")
    if not account_type:
        raise errors.required("AccountType")
    if account_type not in CLASSIFICATION:
        raise errors.invalid_property(f"Property Name:AccountType specified is unsupported or invalid ({account_type})")
    rec.update(Name=name, FullyQualifiedName=name, Classification=CLASSIFICATION[account_type])
    rec.setdefault("SubAccount", False)
    rec.setdefault("Active", True)
    rec["CurrencyRef"] = _currency(company, rec)
    balance = existing.get("CurrentBalance", 0) if existing else 0
    rec.update(CurrentBalance=balance, CurrentBalanceWithSubAccounts=balance)
    return rec


def normalize_term(company: Company, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    rec = writable("Term", body)
    name = str(rec.get("Name", "")).strip()
    if not name:
        raise errors.required("Name")
    check_unique_name(company, "Term", name, existing["Id"] if existing else None)
    rec["Name"] = name
    rec["Type"] = "DATE_DRIVEN" if "DayOfMonthDue" in rec else "STANDARD"
    rec["DueDays"] = int(util.number(rec.get("DueDays", 0), "DueDays")) if rec["Type"] == "STANDARD" else None
    if rec["DueDays"] is None:
        del rec["DueDays"]
    rec.setdefault("Active", True)
    return rec


def normalize_simple(entity: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """CompanyInfo and the like: a sparse merge of writable fields over the existing record."""
    rec = dict(existing or {})
    for key in HEADER_KEYS:
        rec.pop(key, None)
    rec.update(writable(entity, body))
    return rec


def name_of(entity: str, rec: dict[str, Any]) -> str | None:
    """The unique name a record claims, or None for entities without one."""
    if entity in PERSON_ENTITIES:
        return rec.get("DisplayName")
    if entity in ("Item", "Account", "Term"):
        return rec.get("Name")
    return None
