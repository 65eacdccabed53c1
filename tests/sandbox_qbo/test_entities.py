"""Customers, names, payments, multicurrency and the non-US tax rule, through python-quickbooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.employee import Employee
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.preferences import Preferences
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.taxrate import TaxRate
from quickbooks.objects.term import Term
from quickbooks.objects.vendor import Vendor

from tests.sandbox_qbo.conftest import control, qb_client, raw
from tests.sandbox_qbo.test_invoices import customer, new_invoice

REF = Path("/work/shared/reference/qbo")


def pay(qb, invoice: Invoice, amount: float, total: float | None = None) -> Payment:
    payment = Payment()
    payment.CustomerRef = invoice.CustomerRef
    payment.TotalAmt = total if total is not None else amount
    line = PaymentLine()
    line.Amount = amount
    line.LinkedTxn.append(invoice.to_linked_txn())
    payment.Line.append(line)
    return payment.save(qb=qb)


def test_customer_shape_matches_reference(qsb, qb):
    reference = json.loads((REF / "customer_official_2.json").read_text())["Customer"]
    doc = raw(qsb, qb, "GET", f"customer/{customer(qb).Id}").json()["Customer"]
    for key in ("DisplayName", "FullyQualifiedName", "PrintOnCheckName", "Active", "Job", "Balance",
                "BalanceWithJobs", "BillWithParent", "Taxable", "PreferredDeliveryMethod", "PrimaryEmailAddr",
                "SyncToken", "domain", "sparse", "Id", "MetaData"):
        assert key in doc and type(doc[key]) in (type(reference[key]), int, float), key


def test_display_name_is_unique_across_customer_vendor_employee(qb):
    vendor = Vendor()
    vendor.DisplayName = "Cool Cars"
    with pytest.raises(QuickbooksException) as info:
        vendor.save(qb=qb)
    assert info.value.error_code == 6240
    employee = Employee()
    employee.DisplayName = "Dana Staff"
    employee.save(qb=qb)
    clash = Customer()
    clash.DisplayName = "dana staff"
    with pytest.raises(QuickbooksException) as info:
        clash.save(qb=qb)
    assert info.value.error_code == 6240
    fine = Customer()
    fine.DisplayName = "Brand New Customer"
    saved = fine.save(qb=qb)
    saved.GivenName = "Renamed but same display"
    assert saved.save(qb=qb).SyncToken == "1"  # updating itself is not a duplicate


def test_python_quickbooks_customer_update_with_defaults_is_accepted(qb):
    cust = customer(qb, "Cool Cars")
    cust.Notes = "VIP"
    updated = cust.save(qb=qb)
    assert updated.Notes == "VIP" and updated.SyncToken == "1"


def test_payments_lower_balance_and_link_both_ways(qsb, qb):
    inv = new_invoice(qb).save(qb=qb)
    partial = pay(qb, inv, 100, total=120)
    assert partial.UnappliedAmt == 20.0
    after = Invoice.get(inv.Id, qb=qb)
    assert after.Balance == 200.0 and after.SyncToken == "1"
    assert [(l.TxnId, l.TxnType) for l in after.LinkedTxn] == [(partial.Id, "Payment")]
    doc = raw(qsb, qb, "GET", f"payment/{partial.Id}").json()["Payment"]
    reference = json.loads((REF / "sandbox_records/payment_120.json").read_text())
    assert set(doc["Line"][0]) == set(reference["Line"][0])
    assert doc["Line"][0]["LinkedTxn"] == [{"TxnId": inv.Id, "TxnType": "Invoice"}]
    with pytest.raises(QuickbooksException):  # more than the open balance
        pay(qb, after, 250)
    rest = pay(qb, after, 200)
    paid = Invoice.get(inv.Id, qb=qb)
    assert paid.Balance == 0 and len(paid.LinkedTxn) == 2
    assert customer(qb).Balance == 0
    rest.void(qb=qb)
    reopened = Invoice.get(inv.Id, qb=qb)
    assert reopened.Balance == 200.0 and [l.TxnId for l in reopened.LinkedTxn] == [partial.Id]
    voided = raw(qsb, qb, "GET", f"payment/{rest.Id}").json()["Payment"]
    assert voided["TotalAmt"] == 0 and voided["Line"] == [] and voided["PrivateNote"] == "Voided"
    Payment.get(partial.Id, qb=qb).delete(qb=qb)
    assert Invoice.get(inv.Id, qb=qb).Balance == 300.0
    assert customer(qb).Balance == 300.0


def test_invoice_with_payment_cannot_be_deleted_but_void_unapplies(qb):
    inv = new_invoice(qb).save(qb=qb)
    payment = pay(qb, inv, 300)
    with pytest.raises(QuickbooksException):
        Invoice.get(inv.Id, qb=qb).delete(qb=qb)
    Invoice.get(inv.Id, qb=qb).void(qb=qb)
    credit = Payment.get(payment.Id, qb=qb)
    assert credit.UnappliedAmt == 300.0 and credit.Line == []


def test_multicurrency_rules(qsb, qb):
    eur = Customer()
    eur.DisplayName = "Euro GmbH"
    eur.CurrencyRef = Ref()
    eur.CurrencyRef.value = "EUR"
    with pytest.raises(QuickbooksException):  # multicurrency off: home currency only
        eur.save(qb=qb)
    control(qsb, "qbo/preferences", {"multicurrency": True})
    saved = eur.save(qb=qb)
    assert saved.CurrencyRef.value == "EUR"
    inv = new_invoice(qb, cust=saved)
    inv.ExchangeRate = 1.1  # python-quickbooks always sends one (default 1); it is taken as given
    inv = inv.save(qb=qb)
    assert inv.CurrencyRef.value == "EUR" and inv.ExchangeRate == 1.1 and inv.HomeTotalAmt == 330.0
    body = {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 100,
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}], "CustomerRef": {"value": saved.Id}}
    doc = raw(qsb, qb, "POST", "invoice", json=body).json()["Invoice"]
    assert doc["ExchangeRate"] == 1.08 and doc["HomeTotalAmt"] == 108.0 and doc["HomeBalance"] == 108.0
    wrong = new_invoice(qb, cust=saved)
    wrong.CurrencyRef = Ref()
    wrong.CurrencyRef.value = "USD"
    with pytest.raises(QuickbooksException):
        wrong.save(qb=qb)
    moved = Customer.get(saved.Id, qb=qb)
    moved.CurrencyRef.value = "GBP"
    with pytest.raises(QuickbooksException):  # has transactions
        moved.save(qb=qb)
    response = qsb_post_settings(qsb, {"multicurrency": False})
    assert response.status_code == 400  # cannot be turned off
    prefs = Preferences.get(qb=qb)
    assert prefs.CurrencyPrefs.MultiCurrencyEnabled is True


def qsb_post_settings(qsb, body):
    import requests
    return requests.post(f"{qsb.url}/_sandbox/qbo/preferences", json=body, timeout=10)


def test_non_us_company_requires_tax_codes_on_every_line(qsb):
    other = control(qsb, "qbo/companies", {"name": "Maple Ltd", "country": "CA", "timezone": "America/Toronto",
                                           "currency": "CAD"})
    qb = qb_client(qsb, other["refresh_token"], other["realm_id"])
    body = json.loads((REF / "errors/fault_6000_business_validation_request_activepieces8539.json").read_text())
    services = [i for i in qb.query("SELECT * FROM Item")["QueryResponse"]["Item"] if i["Name"] == "Services"][0]
    body["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] = services["Id"]
    body["CustomerRef"]["value"] = customer(qb).Id
    response = raw(qsb, qb, "POST", "invoice", json=body)
    expected = json.loads((REF / "errors/fault_6000_business_validation_gst_activepieces8539.json").read_text())
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0] == expected["Fault"]["Error"][0]
    gst = TaxCode.filter(Name="GST", qb=qb)[0]
    inv = new_invoice(qb, sku="SERVICES", amount=100, qty=0, price=0)
    inv.Line[0].SalesItemLineDetail.TaxCodeRef = gst.to_ref() if hasattr(gst, "to_ref") else None
    ref = Ref()
    ref.value = gst.Id
    inv.Line[0].SalesItemLineDetail.TaxCodeRef = ref
    saved = inv.save(qb=qb)  # python-quickbooks sends GlobalTaxCalculation TaxExcluded
    assert saved.TotalAmt == 105.0 and saved.TxnTaxDetail.TotalTax == 5.0


def test_read_only_lists_and_company_info(qsb, qb):
    assert {c.Name for c in TaxCode.all(qb=qb)} >= {"TAX", "NON"}
    assert TaxRate.all(qb=qb)[0].RateValue == 8
    assert {t.Name for t in Term.all(qb=qb)} >= {"Net 15", "Net 30", "Net 60"}
    assert any(a.AccountSubType == "UndepositedFunds" for a in Account.all(qb=qb))
    info = CompanyInfo.get(1, qb=qb)
    assert info.CompanyName == "Sandbox Company US" and info.Country == "US"
    reference = json.loads((REF / "companyinfo_official.json").read_text())["CompanyInfo"]
    doc = raw(qsb, qb, "GET", "companyinfo/1").json()["CompanyInfo"]
    assert set(reference) - set(doc) <= set()
    zone = [n["Value"] for n in doc["NameValue"] if n["Name"] == "CompanyTimeZone"]
    assert zone == ["America/Los_Angeles"]
    tax = TaxCode()
    tax.Name = "New"
    with pytest.raises(QuickbooksException):
        qb.create_object("TaxCode", tax.to_json())


def test_preferences_update_through_the_api(qb):
    prefs = Preferences.get(qb=qb)
    assert prefs.SalesFormsPrefs.CustomTxnNumbers is False
    prefs.SalesFormsPrefs.CustomTxnNumbers = True
    updated = prefs.save(qb=qb)
    assert updated.SalesFormsPrefs.CustomTxnNumbers is True
