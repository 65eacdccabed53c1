"""Demo company data: accounts, tax codes, terms, items with SKUs and a few customers.

Records go through the same code paths as API creates, so they have exactly the API's shapes.
"""

from __future__ import annotations

from typing import Any

from dealbooks.sandbox.qbo import prefs, service
from dealbooks.sandbox.qbo.store import Company
from dealbooks.sandbox.qbo.webhooks import Event

US_TAX_RATES = [{"Name": "California", "RateValue": 8, "AgencyRef": {"value": "1"}}]
NON_US_TAX = {"CA": ("GST", 5.0), "GB": ("VAT", 20.0), "AU": ("GST", 10.0)}


def _raw(company: Company, entity: str, record_id: str, rec: dict[str, Any]) -> dict[str, Any]:
    """Insert a read-only-list record (TaxCode, TaxRate) with the common header."""
    stamp = company.stamp()
    rec.update(domain="QBO", sparse=False, Id=record_id, SyncToken="0",
               MetaData={"CreateTime": stamp, "LastUpdatedTime": stamp})
    company.put(entity, rec)
    return rec


def _tax(company: Company) -> None:
    if company.us:
        for index, rate in enumerate(US_TAX_RATES, start=1):
            _raw(company, "TaxRate", str(index), dict(rate, Active=True, SpecialTaxType="NONE",
                                                       DisplayType="ReadOnly", EffectiveTaxRate=[]))
        _raw(company, "TaxCode", "TAX", {"Name": "TAX", "Description": "TAX", "Taxable": True, "TaxGroup": False,
                                         "Active": True})
        _raw(company, "TaxCode", "NON", {"Name": "NON", "Description": "NON", "Taxable": False, "TaxGroup": False,
                                         "Active": True})
        _raw(company, "TaxCode", "2", {"Name": "California", "Description": "California sales tax", "Taxable": True,
                                       "TaxGroup": True, "Active": True,
                                       "SalesTaxRateList": {"TaxRateDetail": [
                                           {"TaxRateRef": {"value": "1", "name": "California"},
                                            "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]}})
        return
    name, pct = NON_US_TAX.get(company.settings["country"], ("Tax", 10.0))
    _raw(company, "TaxRate", "1", {"Name": f"{name} ({pct:g}%)", "RateValue": pct, "Active": True,
                                   "AgencyRef": {"value": "1"}, "SpecialTaxType": "NONE", "DisplayType": "ReadOnly"})
    _raw(company, "TaxRate", "2", {"Name": "Zero-rated", "RateValue": 0, "Active": True,
                                   "AgencyRef": {"value": "1"}, "SpecialTaxType": "ZERO_RATE", "DisplayType": "ReadOnly"})
    _raw(company, "TaxCode", "3", {"Name": name, "Description": f"{name} {pct:g}%", "Taxable": True,
                                   "TaxGroup": False, "Active": True,
                                   "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "1"},
                                                                           "TaxTypeApplicable": "TaxOnAmount",
                                                                           "TaxOrder": 0}]}})
    _raw(company, "TaxCode", "4", {"Name": "Exempt", "Description": "Exempt", "Taxable": False, "TaxGroup": False,
                                   "Active": True,
                                   "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "2"},
                                                                           "TaxTypeApplicable": "TaxOnAmount",
                                                                           "TaxOrder": 0}]}})


def seed_company(company: Company, *, demo_customers: bool = True) -> None:
    """Fill an empty company: settings records, accounts, tax, terms, items, customers."""
    events: list[Event] = []
    prefs.render(company)
    _tax(company)
    for body in ({"Name": "Services", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome"},
                 {"Name": "Sales of Product Income", "AccountType": "Income", "AccountSubType": "SalesOfProductIncome"},
                 {"Name": "Undeposited Funds", "AccountType": "Other Current Asset", "AccountSubType": "UndepositedFunds"},
                 {"Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable",
                  "AccountSubType": "AccountsReceivable"},
                 {"Name": "Checking", "AccountType": "Bank", "AccountSubType": "Checking"}):
        service.save(company, "Account", body, events)
    terms = {}
    for name, days in (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60)):
        terms[name] = service.save(company, "Term", {"Name": name, "DueDays": days}, events)["Id"]
    prefs.change_settings(company, {"default_terms": terms["Net 30"]})
    income = {"value": "1"}
    for body in ({"Name": "Services", "Sku": "SERVICES", "Type": "Service", "UnitPrice": 0,
                  "Description": "Services (custom line)", "Taxable": False},
                 {"Name": "HR Consulting", "Sku": "CONSULT-HR", "Type": "Service", "UnitPrice": 150,
                  "Description": "HR consulting, per hour", "Taxable": False},
                 {"Name": "Pro License", "Sku": "LIC-PRO", "Type": "NonInventory", "UnitPrice": 1200,
                  "Description": "Pro license, annual", "Taxable": True},
                 {"Name": "Onboarding", "Sku": "ONBOARD", "Type": "Service", "UnitPrice": 500,
                  "Description": "Onboarding package", "Taxable": False}):
        service.save(company, "Item", dict(body, IncomeAccountRef=income), events)
    if not demo_customers:
        return
    for body in ({"DisplayName": "Amy's Bird Sanctuary", "CompanyName": "Amy's Bird Sanctuary",
                  "GivenName": "Amy", "FamilyName": "Lauterbach", "PrimaryEmailAddr": {"Address": "birds@example.com"},
                  "BillAddr": {"Line1": "4581 Finch St.", "City": "Bayshore", "CountrySubDivisionCode": "CA",
                               "PostalCode": "94326"}},
                 {"DisplayName": "Cool Cars", "CompanyName": "Cool Cars", "GivenName": "Grace",
                  "FamilyName": "Pariente", "PrimaryEmailAddr": {"Address": "cool.cars@example.com"},
                  "SalesTermRef": {"value": terms["Net 15"]},
                  "BillAddr": {"Line1": "65 Ocean Dr.", "City": "Half Moon Bay", "CountrySubDivisionCode": "CA",
                               "PostalCode": "94213"}},
                 {"DisplayName": "O'Brien Consulting", "CompanyName": "O'Brien Consulting", "GivenName": "Pat",
                  "FamilyName": "O'Brien", "PrimaryEmailAddr": {"Address": "pat@obrien.example.com"}}):
        service.save(company, "Customer", body, events)
