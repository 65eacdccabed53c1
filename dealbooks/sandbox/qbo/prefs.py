"""Company settings and their two faces in the API: ``Preferences`` and ``CompanyInfo`` records.

``company.settings`` is the source of truth (country, timezone, home currency, multicurrency,
custom transaction numbers, online payments); the records are re-rendered from it whenever it changes.
"""

from __future__ import annotations

from typing import Any

from dealbooks.sandbox.qbo import errors
from dealbooks.sandbox.qbo.entities import currency_name
from dealbooks.sandbox.qbo.store import Company


def _header(company: Company, existing: dict[str, Any] | None) -> dict[str, Any]:
    stamp = company.stamp()
    return {"domain": "QBO", "sparse": False, "Id": "1",
            "SyncToken": str(int(existing["SyncToken"]) + 1) if existing else "0",
            "MetaData": {"CreateTime": existing["MetaData"]["CreateTime"] if existing else stamp,
                         "LastUpdatedTime": stamp}}


def render(company: Company) -> None:
    """Write the Preferences and CompanyInfo records from ``company.settings``."""
    s = company.settings
    old_prefs = company.get("Preferences", "1")
    default_terms = (old_prefs or {}).get("SalesFormsPrefs", {}).get("DefaultTerms")
    sales_forms: dict[str, Any] = {
        "CustomTxnNumbers": bool(s["custom_txn_numbers"]), "AllowDeposit": True, "AllowDiscount": True,
        "AllowEstimates": True, "AllowShipping": False, "AllowServiceDate": False,
        "ETransactionPaymentEnabled": bool(s["online_payments"]), "IPNSupportEnabled": bool(s["online_payments"]),
        "AutoApplyCredit": True, "AutoApplyPayments": True, "EmailCopyToCompany": False,
        "DefaultCustomerMessage": "Thank you for your business and have a great day!",
    }
    if default_terms:
        sales_forms["DefaultTerms"] = default_terms
    prefs = {
        "AccountingInfoPrefs": {"FirstMonthOfFiscalYear": "January", "UseAccountNumbers": False,
                                "TaxYearMonth": "January", "ClassTrackingPerTxn": False,
                                "TrackDepartments": False, "CustomerTerminology": "Customers"},
        "SalesFormsPrefs": sales_forms,
        "CurrencyPrefs": {"MultiCurrencyEnabled": bool(s["multicurrency"]),
                          "HomeCurrency": {"value": s["home_currency"]}},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": s["country"] == "US"},
        "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultCustomerMessage",
                                      "Value": "Thank you for your business and have a great day!"},
                                     {"Name": "CompanyTimeZone", "Value": s["timezone"]},
                                     {"Name": "OnlinePaymentsEnabled", "Value": str(bool(s["online_payments"])).lower()}]},
        "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
    }
    prefs.update(_header(company, old_prefs))
    company.put("Preferences", prefs)
    old_info = company.get("CompanyInfo", "1")
    addr = {"Id": "1", "Line1": "2500 Garcia Ave", "City": "Mountain View", "CountrySubDivisionCode": "CA",
            "PostalCode": "94043", "Country": s["country"]}
    info = {"CompanyName": s["company_name"], "LegalName": s["company_name"], "Country": s["country"],
            "CompanyAddr": addr, "LegalAddr": addr, "CustomerCommunicationAddr": addr,
            "SupportedLanguages": "en", "FiscalYearStartMonth": "January", "WebAddr": {},
            "CompanyStartDate": (old_info or {}).get("CompanyStartDate", company.today()),
            "PrimaryPhone": {"FreeFormNumber": "(650)944-4444"}, "Email": {"Address": "donotreply@intuit.com"},
            "NameValue": [{"Name": "NeoEnabled", "Value": "true"},
                          {"Name": "SubscriptionStatus", "Value": "PAID"},
                          {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                          {"Name": "CompanyTimeZone", "Value": s["timezone"]},
                          {"Name": "HomeCurrency", "Value": s["home_currency"]},
                          {"Name": "IsMultiCurrencyEnabled", "Value": str(bool(s["multicurrency"])).lower()}]}
    info.update(_header(company, old_info))
    company.put("CompanyInfo", info)


def change_settings(company: Company, values: dict[str, Any]) -> dict[str, Any]:
    """Apply a settings change with QBO's rules (multicurrency can't be turned off, home currency is fixed
    once multicurrency is on).

    Raises:
        QboFault: 6000 when a rule forbids the change.
    """
    s = company.settings
    if "multicurrency" in values and s["multicurrency"] and not values["multicurrency"]:
        raise errors.business("Multicurrency can't be turned off once it has been turned on.")
    if "home_currency" in values and values["home_currency"] != s["home_currency"]:
        if s["multicurrency"] or values.get("multicurrency"):
            raise errors.business("The home currency can't be changed once multicurrency is on.")
        if company.table("Invoice") or company.table("Payment"):
            raise errors.business("The home currency can't be changed once the company has transactions.")
    home_changed = "home_currency" in values and values["home_currency"] != s["home_currency"]
    for key in ("country", "timezone", "home_currency", "company_name"):
        if key in values:
            s[key] = str(values[key])
    for key in ("multicurrency", "custom_txn_numbers", "online_payments"):
        if key in values:
            s[key] = bool(values[key])
    if "exchange_rates" in values:
        s["exchange_rates"].update({str(k): float(v) for k, v in dict(values["exchange_rates"]).items()})
    render(company)
    if values.get("default_terms"):
        prefs = company.get("Preferences", "1") or {}
        prefs["SalesFormsPrefs"]["DefaultTerms"] = company.ref("Term", values["default_terms"])
    if home_changed:
        for customer in company.table("Customer").values():
            customer["CurrencyRef"] = {"value": s["home_currency"], "name": currency_name(s["home_currency"])}
    return dict(s)


def update_preferences(company: Company, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /preferences``: the writable switches are applied to the settings (SyncToken checked)."""
    existing = company.get("Preferences", "1")
    if existing is None:
        raise errors.not_found("Preferences")
    token = body.get("SyncToken")
    if token not in (None, "") and str(token) != existing["SyncToken"]:
        raise errors.stale_object()
    values: dict[str, Any] = {}
    sales = body.get("SalesFormsPrefs") or {}
    if "CustomTxnNumbers" in sales:
        values["custom_txn_numbers"] = bool(sales["CustomTxnNumbers"])
    if "ETransactionPaymentEnabled" in sales:
        values["online_payments"] = bool(sales["ETransactionPaymentEnabled"])
    currency = body.get("CurrencyPrefs") or {}
    if "MultiCurrencyEnabled" in currency:
        values["multicurrency"] = bool(currency["MultiCurrencyEnabled"])
    home = (currency.get("HomeCurrency") or {}).get("value")
    if home:
        values["home_currency"] = home
    if "DefaultTerms" in sales and sales["DefaultTerms"]:
        values["default_terms"] = str(sales["DefaultTerms"].get("value"))
    change_settings(company, values)
    return company.get("Preferences", "1") or {}


def company_info_changed(company: Company, rec: dict[str, Any]) -> None:
    """Keep the settings' company name in step with an updated CompanyInfo."""
    if rec.get("CompanyName"):
        company.settings["company_name"] = rec["CompanyName"]
