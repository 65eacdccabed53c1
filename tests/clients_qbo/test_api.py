"""QboClient against the real QBO sandbox: customers, items, invoices, idempotency, query, CDC, batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from dealbooks.clients.qbo import FileTokenStore, QboClient, QboConnection, RealmLock, make_request_id, marker_for
from dealbooks.exceptions import (
    QboDuplicateNameError,
    QboNotFoundError,
    QboRetryableError,
    QboStaleObjectError,
    QboValidationError,
)
from dealbooks.sandbox.server import Sandbox
from dealbooks.sandbox.state import SandboxOptions
from tests.clients_qbo.conftest import FAST


@pytest.fixture(scope="module")
def qbo_sandbox() -> Iterator[Sandbox]:
    with Sandbox(options=SandboxOptions(throttle=False)) as sb:
        yield sb


@pytest.fixture(scope="module")
def client(qbo_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> QboClient:
    cfg = qbo_sandbox.config["qbo"]
    tmp = tmp_path_factory.mktemp("qbo-api")
    store = FileTokenStore(tmp / "tokens.json", initial_refresh_token=cfg["refresh_token"])
    connection = QboConnection(cfg["client_id"], cfg["client_secret"], cfg["realm_id"], cfg["discovery_url"],
                               cfg["api_base"])
    return QboClient.connect(connection, store, retry=FAST, lock=RealmLock(cfg["realm_id"], f"sqlite:///{tmp}/l.db"))


def _faults(sandbox: Sandbox, **values: Any) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults/qbo", json=values, timeout=10).raise_for_status()


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def item(client: QboClient) -> dict[str, Any]:
    accounts = client.query_all("SELECT * FROM Account WHERE AccountType = 'Income'")
    sku = f"SKU-{_uid()}"
    return client.create("Item", {"Name": f"Consulting {sku}", "Type": "Service", "Sku": sku, "UnitPrice": 150,
                                  "IncomeAccountRef": {"value": accounts[0]["Id"]}}, make_request_id("item", sku))


@pytest.fixture
def customer(client: QboClient) -> dict[str, Any]:
    name = f"Cust {_uid()}"
    return client.create_customer({"DisplayName": name, "PrimaryEmailAddr": {"Address": f"{name[5:]}@example.com"}},
                                   make_request_id("customer", name))


def _invoice_payload(customer: dict[str, Any], item: dict[str, Any], qty: int = 2) -> dict[str, Any]:
    return {"CustomerRef": {"value": customer["Id"]}, "BillEmail": {"Address": "ap@example.com"},
            "Line": [{"Amount": 150.0 * qty, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": qty, "UnitPrice": 150.0}}]}


def test_company_and_preferences(client: QboClient) -> None:
    assert client.company_info()["CompanyName"]
    assert "SalesFormsPrefs" in client.preferences()


def test_customers_with_quotes_duplicates_and_updates(client: QboClient) -> None:
    name = f"O'Brien & Sons {_uid()}"
    email = f"obrien-{_uid()}@example.com"
    created = client.create_customer({"DisplayName": name, "PrimaryEmailAddr": {"Address": email}},
                                     make_request_id("crm", name, "customer"))
    assert client.find_customer_by_name(name)["Id"] == created["Id"]
    assert client.find_customer_by_email(email)["Id"] == created["Id"]
    assert client.find_customer_by_name(f"Nobody {_uid()}") is None
    with pytest.raises(QboDuplicateNameError) as info:
        client.create_customer({"DisplayName": name}, make_request_id("other", name))
    assert info.value.code == "6240"
    updated = client.update_customer(created["Id"], {"CompanyName": "O'Brien Holdings"})
    assert updated["CompanyName"] == "O'Brien Holdings" and int(updated["SyncToken"]) > int(created["SyncToken"])


def test_stale_sync_token_is_typed_and_update_rereads(client: QboClient, customer: dict[str, Any]) -> None:
    client.update_customer(customer["Id"], {"Notes": "first"})
    with pytest.raises(QboStaleObjectError) as info:
        client.transport.request("POST", "customer", body={"Id": customer["Id"], "SyncToken": customer["SyncToken"],
                                                           "sparse": True, "Notes": "stale"})
    assert info.value.code == "5010" and info.value.retryable
    calls = []

    def changes(current: dict[str, Any]) -> dict[str, Any]:
        calls.append(current["SyncToken"])
        if len(calls) == 1:  # someone else saves in between: our first write is stale
            client.update_customer(customer["Id"], {"Notes": "concurrent"})
        return {"Notes": "ours"}

    assert client.update("Customer", customer["Id"], changes)["Notes"] == "ours"
    assert len(calls) == 2


def test_items_by_sku(client: QboClient, item: dict[str, Any]) -> None:
    found = client.find_items_by_sku([item["Sku"], "NO-SUCH-SKU"])
    assert list(found) == [item["Sku"]] and found[item["Sku"]]["Id"] == item["Id"]
    assert client.get_item(item["Id"])["Name"] == item["Name"]


def test_retried_create_with_same_requestid_returns_same_invoice(qbo_sandbox: Sandbox, client: QboClient,
                                                                 customer: dict[str, Any], item: dict[str, Any]) -> None:
    rid = make_request_id("pipedrive", _uid(), "invoice")
    count = "SELECT COUNT(*) FROM Invoice"
    before = client.query(count)["totalCount"]
    _faults(qbo_sandbox, drop_after_commit_rate=1.0)  # committed, but the reply never arrives
    try:
        with pytest.raises(QboRetryableError):
            client.create_invoice(_invoice_payload(customer, item), rid)
    finally:
        _faults(qbo_sandbox, drop_after_commit_rate=0.0)
    first = client.create_invoice(_invoice_payload(customer, item), rid)
    again = client.create_invoice(_invoice_payload(customer, item), rid)
    assert first["Id"] == again["Id"]
    assert client.query(count)["totalCount"] == before + 1
    assert first["TotalAmt"] == 300


def test_lookup_before_create(client: QboClient, customer: dict[str, Any], item: dict[str, Any]) -> None:
    marker = marker_for("hubspot", _uid())
    first, created = client.create_invoice_once(_invoice_payload(customer, item), make_request_id("a", marker), marker)
    second, created_again = client.create_invoice_once(_invoice_payload(customer, item),
                                                       make_request_id("b", marker), marker)
    assert created and not created_again and first["Id"] == second["Id"]
    assert marker in first["PrivateNote"]


def test_invoice_lifecycle(client: QboClient, customer: dict[str, Any], item: dict[str, Any]) -> None:
    invoice = client.create_invoice(_invoice_payload(customer, item), make_request_id("life", _uid()))
    assert client.get_invoice(invoice["Id"], include_link=False)["Id"] == invoice["Id"]
    sent = client.send_invoice(invoice["Id"], to="billing@example.com")
    assert sent["EmailStatus"] == "EmailSent" and sent["BillEmail"]["Address"] == "billing@example.com"
    pdf = client.invoice_pdf(invoice["Id"])
    assert pdf.startswith(b"%PDF")
    payment = client.create_payment({"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 100.0,
                                     "Line": [{"Amount": 100.0, "LinkedTxn": [{"TxnId": invoice["Id"],
                                                                               "TxnType": "Invoice"}]}]},
                                    make_request_id("pay", invoice["Id"]))
    assert client.get_payment(payment["Id"])["TotalAmt"] == 100
    assert client.get_invoice(invoice["Id"])["Balance"] == 200

    other = client.create_invoice(_invoice_payload(customer, item, qty=1), make_request_id("void", _uid()))
    voided = client.void_invoice(other["Id"])
    assert voided["Balance"] == 0 and voided["PrivateNote"].startswith("Voided")
    doomed = client.create_invoice(_invoice_payload(customer, item, qty=1), make_request_id("del", _uid()))
    assert client.delete_invoice(doomed["Id"])["status"] == "Deleted"
    with pytest.raises(QboNotFoundError) as info:
        client.get_invoice(doomed["Id"])
    assert info.value.code == "610"


def test_query_all_pages_and_cdc(client: QboClient, item: dict[str, Any]) -> None:
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    tag = _uid()
    ids = {client.create_customer({"DisplayName": f"Page {tag} {n}"}, make_request_id("page", tag, n))["Id"]
           for n in range(5)}
    rows = client.query_all(f"SELECT * FROM Customer WHERE DisplayName LIKE 'Page {tag}%'", page_size=2)
    assert {row["Id"] for row in rows} == ids and len(rows) == 5
    changed = client.cdc(["Customer", "Invoice"], since)
    assert ids <= {row["Id"] for row in changed["Customer"]}
    assert "Invoice" in changed


def test_batch_with_per_item_faults(client: QboClient) -> None:
    tag = _uid()
    replies = client.batch([
        {"bId": "1", "operation": "create", "Customer": {"DisplayName": f"Batch {tag}"}},
        {"bId": "2", "operation": "create", "Customer": {"DisplayName": f"Batch {tag}"}},
        {"bId": "3", "Query": f"SELECT * FROM Customer WHERE DisplayName = 'Batch {tag}'"},
    ], request_id=make_request_id("batch", tag))
    by_id = {r["bId"]: r for r in replies}
    assert by_id["1"]["Customer"]["DisplayName"] == f"Batch {tag}"
    assert by_id["2"]["Fault"]["Error"][0]["code"] == "6240"


def test_bad_query_is_a_validation_error(client: QboClient) -> None:
    with pytest.raises(QboValidationError):
        client.query("SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'")


def test_reprs_never_show_secrets(qbo_sandbox: Sandbox, client: QboClient) -> None:
    cfg = qbo_sandbox.config["qbo"]
    tokens = client.transport.tokens
    state = tokens.store.load()
    texts = " ".join([repr(client), repr(client.transport), repr(client.transport.connection), repr(tokens.store),
                      repr(state), str(state)])
    for secret in (cfg["client_secret"], state.refresh_token, state.access_token or "-"):
        assert secret not in texts
