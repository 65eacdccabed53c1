"""Invoice behaviour through python-quickbooks: create/read/update/void/delete/send/pdf/InvoiceLink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.term import Term

from tests.sandbox_qbo.conftest import control, raw

REF = Path("/work/shared/reference/qbo")


def ref(name: str) -> dict:
    return json.loads((REF / name).read_text())


def item(qb, sku: str) -> Item:
    return Item.where(f"Sku = '{sku}'", qb=qb)[0]


def customer(qb, name: str = "Amy's Bird Sanctuary") -> Customer:
    return Customer.filter(DisplayName=name, qb=qb)[0]


def new_invoice(qb, amount: float = 300, qty: float = 2, price: float = 150, sku: str = "CONSULT-HR",
                cust: Customer | None = None, **fields) -> Invoice:
    inv = Invoice()
    line = SalesItemLine()
    line.Amount = amount
    line.Description = "HR consulting"
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item(qb, sku).to_ref()
    line.SalesItemLineDetail.Qty = qty
    line.SalesItemLineDetail.UnitPrice = price
    inv.Line.append(line)
    inv.CustomerRef = (cust or customer(qb)).to_ref()
    for key, value in fields.items():
        setattr(inv, key, value)
    return inv


def assert_same_shape(actual: dict, reference: dict, keys: set[str]) -> None:
    """Every listed key exists on both sides with the same JSON type (and nesting for dicts)."""
    for key in keys:
        assert key in actual, key
        assert type(actual[key]) is type(reference[key]) or {type(actual[key]), type(reference[key])} <= {int, float}, key
        if isinstance(reference[key], dict):
            assert set(reference[key]) & set(actual[key]) or not reference[key], key


def test_create_matches_the_reference_response_shape(qsb, qb):
    reference = ref("invoice_create_response_official_238.json")
    body = {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 100.0,
                      "SalesItemLineDetail": {"ItemRef": {"name": "Services", "value": item(qb, "SERVICES").Id}}}],
            "CustomerRef": {"value": customer(qb).Id}}
    response = raw(qsb, qb, "POST", "invoice", json=body)
    assert response.status_code == 200
    doc = response.json()
    assert set(doc) == {"Invoice", "time"}
    inv = doc["Invoice"]
    keys = {"TxnDate", "domain", "PrintStatus", "TotalAmt", "Line", "DueDate", "ApplyTaxAfterDiscount", "DocNumber",
            "sparse", "Deposit", "Balance", "CustomerRef", "TxnTaxDetail", "SyncToken", "LinkedTxn", "EmailStatus",
            "BillAddr", "MetaData", "Id"}
    assert_same_shape(inv, reference["Invoice"], keys)
    assert inv["SyncToken"] == "0" and inv["TotalAmt"] == 100.0 and inv["Balance"] == 100.0
    assert inv["CustomerRef"] == {"value": customer(qb).Id, "name": "Amy's Bird Sanctuary"}
    assert inv["Line"][0]["Id"] == "1" and inv["Line"][0]["LineNum"] == 1
    assert inv["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    assert inv["Line"][-1] == {"Amount": 100.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert set(inv["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    assert inv["MetaData"]["CreateTime"][-6] in "+-"  # local time with offset, like the reference


def test_python_quickbooks_round_trip_and_server_computed_fields(qb):
    saved = new_invoice(qb).save(qb=qb)
    assert saved.TotalAmt == 300.0 and saved.Balance == 300.0
    assert saved.DocNumber.isdigit() and saved.EmailStatus == "NotSet"
    from datetime import date, timedelta
    assert date.fromisoformat(saved.DueDate) - date.fromisoformat(saved.TxnDate) == timedelta(days=30)
    read = Invoice.get(saved.Id, qb=qb)
    assert read.to_dict()["Line"][0]["SalesItemLineDetail"]["Qty"] == 2


def test_due_date_follows_the_customer_terms(qb):
    cool = customer(qb, "Cool Cars")
    saved = new_invoice(qb, cust=cool, TxnDate="2026-01-10").save(qb=qb)
    assert saved.SalesTermRef.name == "Net 15" and saved.DueDate == "2026-01-25"
    net60 = Term.filter(Name="Net 60", qb=qb)[0]
    inv = new_invoice(qb, TxnDate="2026-01-10")
    inv.SalesTermRef = net60.to_ref()
    assert inv.save(qb=qb).DueDate == "2026-03-11"
    assert new_invoice(qb, TxnDate="2026-01-10", DueDate="2026-01-12").save(qb=qb).DueDate == "2026-01-12"


def test_doc_numbers_increment_unless_custom_numbers_are_on(qsb, qb):
    first = new_invoice(qb).save(qb=qb)
    second = new_invoice(qb).save(qb=qb)
    assert int(second.DocNumber) == int(first.DocNumber) + 1
    control(qsb, "qbo/preferences", {"custom_txn_numbers": True})
    assert getattr(new_invoice(qb).save(qb=qb), "DocNumber", None) is None
    assert new_invoice(qb, DocNumber="DEAL-42").save(qb=qb).DocNumber == "DEAL-42"


def test_amount_not_qty_times_price_is_6070(qb):
    with pytest.raises(QuickbooksException) as info:
        new_invoice(qb, amount=301).save(qb=qb)
    assert info.value.error_code == 6070


def test_qty_and_price_zero_are_accepted_as_unset(qb):
    saved = new_invoice(qb, amount=250, qty=0, price=0).save(qb=qb)
    assert saved.TotalAmt == 250.0


def test_string_limits_are_enforced(qb):
    with pytest.raises(QuickbooksException) as info:
        new_invoice(qb, DocNumber="X" * 22).save(qb=qb)
    assert info.value.error_code == 2050
    with pytest.raises(QuickbooksException):
        new_invoice(qb, PrivateNote="x" * 4001).save(qb=qb)


def test_request_id_makes_create_idempotent(qsb, qb):
    first = new_invoice(qb).save(qb=qb, request_id="deal-1-invoice")
    again = new_invoice(qb).save(qb=qb, request_id="deal-1-invoice")
    assert again.Id == first.Id
    assert Invoice.count(qb=qb) == 1
    with pytest.raises(QuickbooksException):
        new_invoice(qb).save(qb=qb, request_id="x" * 51)


def test_full_update_sparse_update_and_stale_sync_token(qsb, qb):
    saved = new_invoice(qb).save(qb=qb)
    copy = Invoice.get(saved.Id, qb=qb)
    copy.PrivateNote = "full update"
    updated = copy.save(qb=qb)
    assert updated.SyncToken == "1" and updated.PrivateNote == "full update"
    stale = Invoice.get(saved.Id, qb=qb)
    stale.SyncToken = "0"
    with pytest.raises(QuickbooksException) as info:
        stale.save(qb=qb)
    assert info.value.error_code == 5010
    sparse = raw(qsb, qb, "POST", "invoice", json={"Id": saved.Id, "SyncToken": "1", "sparse": True,
                                                   "CustomerMemo": {"value": "Thanks!"}}).json()["Invoice"]
    assert sparse["SyncToken"] == "2" and sparse["PrivateNote"] == "full update"
    assert sparse["CustomerMemo"] == {"value": "Thanks!"} and sparse["TotalAmt"] == 300.0
    stale_body = raw(qsb, qb, "POST", "invoice", json={"Id": saved.Id, "SyncToken": "1", "sparse": True})
    assert stale_body.status_code == 400
    fault = stale_body.json()["Fault"]
    assert fault["type"] == "ValidationFault" and fault["Error"][0]["code"] == "5010"
    assert set(fault["Error"][0]) == {"Message", "Detail", "code", "element"}
    assert fault["Error"][0]["Message"] == ref("errors/fault_5010_stale_object_error_list_issue127.json")[0]["Message"]


def test_void_matches_the_reference_shape(qsb, qb):
    saved = new_invoice(qb).save(qb=qb)
    doc = saved.void(qb=qb)
    inv = doc["Invoice"]
    reference = ref("invoice_void_response_official_129.json")["Invoice"]
    assert inv["TotalAmt"] == reference["TotalAmt"] == 0 and inv["Balance"] == 0
    assert inv["PrivateNote"] == "Voided" and inv["SyncToken"] == "1"
    line = inv["Line"][0]
    assert line["Amount"] == 0 and line["SalesItemLineDetail"]["Qty"] == 0
    assert "UnitPrice" not in line["SalesItemLineDetail"]
    assert inv["TxnTaxDetail"] == {"TotalTax": 0}
    with pytest.raises(QuickbooksException):  # a voided invoice can't be edited
        Invoice.get(saved.Id, qb=qb).save(qb=qb)


def test_delete_then_read_update_and_delete_again_are_610(qsb, qb):
    saved = new_invoice(qb).save(qb=qb)
    result = saved.delete(qb=qb)
    expected = ref("invoice_delete_response_official.json")
    assert set(result) == set(expected)
    assert result["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": saved.Id}
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(saved.Id, qb=qb)
    with pytest.raises(ObjectNotFoundException):
        saved.delete(qb=qb)
    body = raw(qsb, qb, "GET", f"invoice/{saved.Id}").json()
    reference = ref("errors/fault_610_object_not_found_2018_capture.json")
    assert body["Fault"]["Error"][0]["Message"] == reference["Fault"]["Error"][0]["Message"]
    assert body["Fault"]["Error"][0]["Detail"] == reference["Fault"]["Error"][0]["Detail"]


def test_send_sets_email_status_and_delivery_info(qsb, qb):
    saved = new_invoice(qb).save(qb=qb)
    with pytest.raises(QuickbooksException):  # no BillEmail yet
        saved.send(qb=qb)
    doc = saved.send(qb=qb, send_to="ap@bird.example.com")["Invoice"]
    assert doc["EmailStatus"] == "EmailSent" and doc["BillEmail"] == {"Address": "ap@bird.example.com"}
    assert doc["DeliveryInfo"]["DeliveryType"] == "Email" and doc["DeliveryInfo"]["DeliveryTime"]
    assert doc["SyncToken"] == "0"  # as in the reference send response
    Invoice.get(saved.Id, qb=qb).send(qb=qb)
    sent = control(qsb, "qbo/outbox", method="GET")["sent"]
    assert [m["to"] for m in sent] == ["ap@bird.example.com"] * 2  # sending twice sends twice
    assert Invoice.get(saved.Id, qb=qb).email_sent


def test_need_to_send_requires_bill_email(qb):
    with pytest.raises(QuickbooksException) as info:
        new_invoice(qb, EmailStatus="NeedToSend").save(qb=qb)
    assert info.value.error_code == 6000


def test_pdf_is_a_real_pdf(qsb, qb):
    saved = new_invoice(qb).save(qb=qb)
    data = saved.download_pdf(qb=qb)
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    assert len(data) > 800


def test_invoice_link_only_with_online_payments_and_bill_email(qsb, qb):
    with_email = new_invoice(qb)
    from quickbooks.objects.base import EmailAddress
    with_email.BillEmail = EmailAddress()
    with_email.BillEmail.Address = "birds@example.com"
    saved = with_email.save(qb=qb)
    params = {"include": "invoiceLink"}
    assert "InvoiceLink" not in raw(qsb, qb, "GET", f"invoice/{saved.Id}", params=params).json()["Invoice"]
    control(qsb, "qbo/preferences", {"online_payments": True})
    doc = raw(qsb, qb, "GET", f"invoice/{saved.Id}", params=params).json()["Invoice"]
    assert doc["InvoiceLink"].startswith(qsb.url)
    import requests
    assert requests.get(doc["InvoiceLink"], timeout=10).status_code == 200
    assert "InvoiceLink" not in raw(qsb, qb, "GET", f"invoice/{saved.Id}").json()["Invoice"]
    no_email = new_invoice(qb).save(qb=qb)
    assert "InvoiceLink" not in raw(qsb, qb, "GET", f"invoice/{no_email.Id}", params=params).json()["Invoice"]


def test_us_sales_tax_with_a_tax_code(qsb, qb):
    body = {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1200,
                      "SalesItemLineDetail": {"ItemRef": {"value": item(qb, "LIC-PRO").Id}, "TaxCodeRef": {"value": "TAX"}}},
                     {"DetailType": "SalesItemLineDetail", "Amount": 300,
                      "SalesItemLineDetail": {"ItemRef": {"value": item(qb, "CONSULT-HR").Id}}}],
            "CustomerRef": {"value": customer(qb).Id}, "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "2"}}}
    inv = raw(qsb, qb, "POST", "invoice", json=body).json()["Invoice"]
    reference = ref("sandbox_records/invoice_12.json")["TxnTaxDetail"]
    assert set(inv["TxnTaxDetail"]) == set(reference)
    assert set(inv["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]) == set(reference["TaxLine"][0]["TaxLineDetail"])
    assert inv["TxnTaxDetail"]["TotalTax"] == 96.0 and inv["TotalAmt"] == 1596.0
