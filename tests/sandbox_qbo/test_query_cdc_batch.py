"""Query language, change data capture and batch, through python-quickbooks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from quickbooks.batch import batch_create, batch_delete
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment

from tests.sandbox_qbo.conftest import control, raw
from tests.sandbox_qbo.test_entities import pay
from tests.sandbox_qbo.test_invoices import customer, new_invoice

REF = Path("/work/shared/reference/qbo")


def test_query_operators_and_escaped_quotes(qb):
    assert [c.DisplayName for c in Customer.filter(DisplayName="O'Brien Consulting", qb=qb)] == ["O'Brien Consulting"]
    assert len(Customer.where("DisplayName LIKE '%Cars%'", qb=qb)) == 1
    assert len(Customer.where("DisplayName LIKE 'amy%'", qb=qb)) == 1
    ids = [c.Id for c in Customer.all(qb=qb)]
    assert len(Customer.choose(ids[:2], qb=qb)) == 2
    invoices = [new_invoice(qb, amount=a * 10, qty=a, price=10, TxnDate=f"2026-01-0{a}").save(qb=qb) for a in range(1, 6)]
    assert {i.TotalAmt for i in Invoice.where("TotalAmt >= '30' AND TotalAmt < '50'", qb=qb)} == {30.0, 40.0}
    assert [i.TxnDate for i in Invoice.where("TxnDate > '2026-01-03'", order_by="TxnDate DESC", qb=qb)] == \
        ["2026-01-05", "2026-01-04"]
    assert len(Invoice.where(f"CustomerRef = '{customer(qb).Id}'", qb=qb)) == 5
    assert len(Invoice.where(f"Id IN ('{invoices[0].Id}', '{invoices[1].Id}')", qb=qb)) == 2
    assert len(Invoice.where("TxnDate <= '2026-01-02'", qb=qb)) == 2
    assert Invoice.count("TotalAmt > '10'", qb=qb) == 4
    assert len(Item.all(qb=qb)) == 4  # "SELECT *, Sku FROM Item" is accepted


def test_paging_startposition_maxresults(qb):
    for n in range(1, 8):
        new_invoice(qb, amount=n, qty=0, price=0).save(qb=qb)
    page = qb.query("SELECT * FROM Invoice ORDERBY TotalAmt STARTPOSITION 3 MAXRESULTS 2")["QueryResponse"]
    assert page["startPosition"] == 3 and page["maxResults"] == 2
    assert [i["TotalAmt"] for i in page["Invoice"]] == [3.0, 4.0]
    assert "totalCount" not in page
    assert qb.query("SELECT COUNT(*) FROM Invoice")["QueryResponse"] == {"totalCount": 7}
    assert qb.query("SELECT * FROM Invoice STARTPOSITION 100")["QueryResponse"] == {}


def test_query_response_shape_matches_reference(qb):
    new_invoice(qb).save(qb=qb)
    reference = json.loads((REF / "query_response_invoice_official_239.json").read_text())
    doc = qb.query("SELECT * FROM Invoice MAXRESULTS 1")
    assert set(doc) == set(reference)
    assert set(doc["QueryResponse"]) == {"startPosition", "maxResults", "Invoice"}
    assert set(reference["QueryResponse"]["Invoice"][0]) - set(doc["QueryResponse"]["Invoice"][0]) <= \
        {"ProjectRef", "CustomField", "ShipAddr"}


@pytest.mark.parametrize("text, code", [
    ("SELECT * FROM Invoice WHERE TotalAmt > '1' OR Balance > '1'", 4000),
    ("SELECT * FROM Invoice MAXRESULTS 1001", 4001),
    ("SELECT * FROM Invoice WHERE Nonsense = '1'", 4001),
    ("SELEKT * FROM Invoice", 4000),
])
def test_invalid_queries(qb, text, code):
    with pytest.raises(ValidationException) as info:
        qb.query(text)
    assert info.value.error_code == code


def test_name_lists_hide_inactive_records_unless_asked(qb):
    cust = Customer()
    cust.DisplayName = "Gone Inc"
    saved = cust.save(qb=qb)
    saved.Active = False
    saved.save(qb=qb)
    assert not Customer.filter(DisplayName="Gone Inc", qb=qb)
    assert len(Customer.where("DisplayName = 'Gone Inc' AND Active = false", qb=qb)) == 1
    assert len(Customer.where("Active IN (true, false)", qb=qb)) == 4


def test_cdc_reports_changes_and_deletions(qsb, qb):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    keep = new_invoice(qb).save(qb=qb)
    gone = new_invoice(qb).save(qb=qb)
    gone.delete(qb=qb)
    payment = pay(qb, keep, 50)
    result = change_data_capture([Invoice, Payment], since.strftime("%Y-%m-%dT%H:%M:%S%z"), qb=qb)
    by_id = {i.Id: i for i in result.Invoice}
    assert by_id[keep.Id].Balance == 250.0
    assert by_id[gone.Id].status == "Deleted"
    assert [p.Id for p in result.Payment] == [payment.Id]
    doc = raw(qsb, qb, "GET", "cdc", params={"entities": "Invoice,Customer",
                                              "changedSince": since.isoformat()}).json()
    deleted = [i for i in doc["CDCResponse"][0]["QueryResponse"][0]["Invoice"] if i["Id"] == gone.Id][0]
    assert set(deleted) == {"Id", "status", "domain", "MetaData"} and set(deleted["MetaData"]) == {"LastUpdatedTime"}
    customers = doc["CDCResponse"][0]["QueryResponse"][1]["Customer"]  # balance changes touch the customer
    assert customer(qb).Id in [c["Id"] for c in customers]
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    empty = raw(qsb, qb, "GET", "cdc", params={"entities": "Invoice", "changedSince": future}).json()
    assert empty["CDCResponse"] == [{"QueryResponse": [{}]}]
    too_old = (datetime.now(timezone.utc) - timedelta(days=31)).isoformat()
    with pytest.raises(ValidationException):
        qb.change_data_capture("Invoice", too_old)


def test_cdc_caps_at_1000_objects_oldest_first(qsb, qb):
    control(qsb, "qbo/bulk/invoices", {"count": 1500, "spread_days": 2})
    since = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    doc = qb.change_data_capture("Invoice", since)
    rows = doc["CDCResponse"][0]["QueryResponse"][0]["Invoice"]
    assert len(rows) == 1000
    assert rows[0]["Id"] == "1" and rows[-1]["Id"] == "1000"


def test_batch_create_delete_and_per_item_faults(qsb, qb):
    ok = new_invoice(qb)
    dup = Customer()
    dup.DisplayName = "Cool Cars"
    fresh = Customer()
    fresh.DisplayName = "Batch Customer"
    created = batch_create([ok, dup, fresh], qb=qb)
    assert len(created.successes) == 2 and len(created.faults) == 1
    assert created.faults[0].Error[0].code == "6240"
    stale = Invoice.get(created.successes[0].Id, qb=qb)
    stale.SyncToken = "7"
    deleted = batch_delete([stale], qb=qb)
    assert deleted.faults[0].Error[0].code == "5010"
    body = {"BatchItemRequest": [
        {"bId": "q1", "Query": "select * from Customer where DisplayName = 'Cool Cars'"},
        {"bId": "d1", "operation": "delete", "Invoice": {"Id": "999", "SyncToken": "0"}}]}
    response = raw(qsb, qb, "POST", "batch", json=body)
    assert response.status_code == 200
    doc = response.json()
    reference = json.loads((REF / "batch_response_official.json").read_text())
    assert set(doc) == set(reference)
    items = {i["bId"]: i for i in doc["BatchItemResponse"]}
    assert items["q1"]["QueryResponse"]["Customer"][0]["DisplayName"] == "Cool Cars"
    assert items["d1"]["Fault"] == {"type": "ValidationFault", "Error": [
        dict(reference["BatchItemResponse"][1]["Fault"]["Error"][0])]}
    too_many = {"BatchItemRequest": [{"bId": str(i), "Query": "select * from Item"} for i in range(31)]}
    assert raw(qsb, qb, "POST", "batch", json=too_many).status_code == 400


def test_quickbooks_exception_classes_by_code(qb):
    with pytest.raises(QuickbooksException) as info:
        new_invoice(qb, amount=1, qty=2, price=3).save(qb=qb)
    assert info.value.error_code == 6070


def test_get_query_form_and_invoice_link_in_results(qsb, qb):
    control(qsb, "qbo/preferences", {"online_payments": True})
    inv = new_invoice(qb)
    from quickbooks.objects.base import EmailAddress
    inv.BillEmail = EmailAddress()
    inv.BillEmail.Address = "ap@example.com"
    inv.save(qb=qb)
    doc = raw(qsb, qb, "GET", "query", params={"query": "select * from Invoice", "include": "invoiceLink"}).json()
    assert doc["QueryResponse"]["Invoice"][0]["InvoiceLink"].startswith(qsb.url)
    plain = raw(qsb, qb, "GET", "query", params={"query": "select Id, TotalAmt from Invoice"}).json()
    assert plain["QueryResponse"]["Invoice"][0] == {"Id": "1", "TotalAmt": 300.0, "domain": "QBO", "sparse": True}
