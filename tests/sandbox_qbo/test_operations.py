"""Throttling, fault injection, persistence, webhooks, statistics and bulk data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from tests.sandbox_qbo.conftest import control, qb_client, qbo_sandbox, raw
from tests.sandbox_qbo.test_entities import pay
from tests.sandbox_qbo.test_invoices import new_invoice

REF = Path("/work/shared/reference/qbo")


@pytest.fixture
def throttled():
    with qbo_sandbox(throttle=True) as sb:
        yield sb


def test_throttle_429_xml_body_and_window(throttled):
    qb = qb_client(throttled)
    control(throttled, "qbo/throttle", {"per_minute": 5, "window_seconds": 1.5})
    for _ in range(5):
        assert raw(throttled, qb, "GET", "companyinfo/1").status_code == 200
    reply = raw(throttled, qb, "GET", "companyinfo/1")
    assert reply.status_code == 429
    assert reply.headers["content-type"].startswith("application/xml")
    assert '<Error code="3001">' in reply.text and "ThrottleExceeded" in reply.text
    reference = (REF / "errors/fault_403_throttle_exceeded_legacy_xml_pyqb43.xml").read_text()
    assert "The request limit was reached.  Try again later" in reference and \
        "The request limit was reached.  Try again later" in reply.text
    with pytest.raises(QuickbooksException) as info:  # python-quickbooks: non-JSON body -> code 10000
        Customer.all(qb=qb)
    assert info.value.error_code == 10000
    time.sleep(1.6)
    assert raw(throttled, qb, "GET", "companyinfo/1").status_code == 200


def test_ten_concurrent_requests_per_realm(throttled):
    qb = qb_client(throttled)
    control(throttled, "faults/qbo", {"latency_ms": 400})
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: raw(throttled, qb, "GET", "companyinfo/1").status_code, range(16)))
    assert codes.count(200) == 10 and codes.count(429) == 6


def test_throttle_off_switch(throttled):
    qb = qb_client(throttled)
    control(throttled, "qbo/throttle", {"per_minute": 2})
    control(throttled, "faults/qbo", {"throttle_enabled": False})
    assert all(raw(throttled, qb, "GET", "companyinfo/1").status_code == 200 for _ in range(5))


def test_forced_429_storm(qsb, qb):
    control(qsb, "faults/qbo", {"throttle_next": 2})
    assert [raw(qsb, qb, "GET", "companyinfo/1").status_code for _ in range(3)] == [429, 429, 200]


def test_injected_5xx_has_a_system_fault_and_no_effect(qsb, qb):
    control(qsb, "faults/qbo", {"error_rate": 1.0})
    with pytest.raises(QuickbooksException) as info:
        new_invoice(qb).save(qb=qb)
    assert info.value.error_code == 10000
    control(qsb, "faults/qbo", {"error_rate": 0.0})
    assert Invoice.count(qb=qb) == 0


def test_dropped_response_after_commit_and_requestid_retry(qsb, qb):
    control(qsb, "faults/qbo", {"drop_after_commit_rate": 1.0})
    with pytest.raises(requests.exceptions.RequestException):
        new_invoice(qb).save(qb=qb, request_id="deal-7")
    control(qsb, "faults/qbo", {"drop_after_commit_rate": 0.0})
    retried = new_invoice(qb).save(qb=qb, request_id="deal-7")
    assert Invoice.count(qb=qb) == 1 and retried.Id == Invoice.all(qb=qb)[0].Id


def test_state_survives_a_restart(tmp_path):
    state_file = tmp_path / "sandbox.json"
    with qbo_sandbox(state_file=state_file) as sb:
        qb = qb_client(sb)
        saved = new_invoice(qb).save(qb=qb, request_id="persisted-1")
        rotated = qb.auth_client.refresh_token
        cfg = sb.config["qbo"]
    with qbo_sandbox(state_file=state_file) as sb:
        again = sb.config["qbo"]
        assert {k: again[k] for k in ("client_id", "client_secret", "realm_id")} == \
            {k: cfg[k] for k in ("client_id", "client_secret", "realm_id")}
        qb = qb_client(sb, refresh_token=rotated)
        assert Invoice.get(saved.Id, qb=qb).TotalAmt == 300.0
        assert new_invoice(qb).save(qb=qb, request_id="persisted-1").Id == saved.Id
        assert int(new_invoice(qb).save(qb=qb).DocNumber) == int(saved.DocNumber) + 1


class _Receiver:
    """A local HTTP endpoint recording webhook deliveries; fails the first ``fail`` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.bodies: list[tuple[bytes, dict[str, str]]] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(500)
                else:
                    outer.bodies.append((body, dict(self.headers)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()


def _verify(body: bytes, headers: dict[str, str], token: str) -> bool:
    expected = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["intuit-signature"])


def test_signature_scheme_matches_the_reference_vectors():
    from dealbooks.sandbox.qbo.webhooks import sign
    vectors = json.loads((REF / "webhooks/signature_vectors.json").read_text())["vectors"]
    for vector in vectors:
        body = (REF / "webhooks" / vector["payload_file"]).read_bytes() if "payload_file" in vector \
            else vector["payload"].encode()
        assert sign(body, vector["verifier_token"]) == vector["intuit-signature"]


def test_legacy_webhooks_are_signed_and_retried(qsb, qb):
    receiver = _Receiver(fail=1)
    try:
        token = qsb.config["qbo"]["webhook_verifier_token"]
        control(qsb, "qbo/webhooks", {"url": receiver.url})
        inv = new_invoice(qb).save(qb=qb)
        pay(qb, inv, 100)
        assert qsb.dispatcher.wait_idle(10)
        events = []
        for body, headers in receiver.bodies:
            assert _verify(body, headers, token)
            doc = json.loads(body)
            note = doc["eventNotifications"][0]
            assert note["realmId"] == qb.company_id
            events += [(e["name"], e["id"], e["operation"]) for e in note["dataChangeEvent"]["entities"]]
        assert ("Invoice", inv.Id, "Create") in events and ("Invoice", inv.Id, "Update") in events
        assert any(name == "Payment" and op == "Create" for name, _, op in events)
        log = control(qsb, "webhooks/log", method="GET")["deliveries"]
        assert log[0]["ok"] is False and any(entry["attempt"] == 2 and entry["ok"] for entry in log)
        reference = json.loads((REF / "webhooks/legacy_eventNotifications_dotnet_sdk.json").read_text())
        entity = json.loads(receiver.bodies[0][0])["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
        assert set(entity) == set(reference["eventNotifications"][0]["dataChangeEvent"]["entities"][0])
    finally:
        receiver.close()


def test_cloudevents_webhooks(qsb, qb):
    receiver = _Receiver()
    try:
        control(qsb, "qbo/webhooks", {"url": receiver.url, "format": "cloudevents", "verifier_token": "vt-123"})
        inv = new_invoice(qb).save(qb=qb)
        Invoice.get(inv.Id, qb=qb).void(qb=qb)
        cust = Customer()
        cust.DisplayName = "Webhook Person"
        cust.save(qb=qb)
        assert qsb.dispatcher.wait_idle(10)
        events = []
        for body, headers in receiver.bodies:
            assert _verify(body, headers, "vt-123")
            events += json.loads(body)
        reference = json.loads((REF / "webhooks/cloudevents_class_created_dotnet_sdk.json").read_text())[0]
        assert set(reference) - {"data"} <= set(events[0])
        types = [(e["type"], e["intuitentityid"]) for e in events]
        assert ("qbo.invoice.created.v1", inv.Id) in types and ("qbo.invoice.voided.v1", inv.Id) in types
        assert any(t == "qbo.customer.created.v1" for t, _ in types)
        assert all(e["intuitaccountid"] == qb.company_id and e["specversion"] == "1.0" for e in events)
    finally:
        receiver.close()


def test_stats_count_calls_per_endpoint(qsb, qb):
    control(qsb, "qbo/stats", {})
    inv = new_invoice(qb).save(qb=qb)
    Invoice.get(inv.Id, qb=qb)
    inv.delete(qb=qb)
    stats = control(qsb, "qbo/stats", method="GET")
    endpoints = stats["endpoints"]
    assert endpoints["POST /v3/company/{realm}/invoice"]["count"] == 1
    assert endpoints["GET /v3/company/{realm}/invoice/{id}"]["count"] == 1
    assert endpoints["POST /v3/company/{realm}/invoice?operation=delete"]["statuses"] == {"200": 1}
    assert endpoints["POST /v3/company/{realm}/query"]["count"] == 2  # item + customer lookups
    assert stats["total"] == 5


def test_bulk_seed_100k_invoices_and_page_through_them(qsb, qb):
    started = time.perf_counter()
    result = control(qsb, "qbo/bulk/invoices", {"count": 100_000, "customers": 200})
    assert result["created"] == 100_000
    assert time.perf_counter() - started < 20
    assert Invoice.count(qb=qb) == 100_000
    started = time.perf_counter()
    seen = 0
    for start in range(1, 10_001, 1000):
        page = qb.query(f"SELECT * FROM Invoice WHERE Balance > '0' STARTPOSITION {start} MAXRESULTS 1000")
        seen += len(page["QueryResponse"]["Invoice"])
    assert seen == 10_000 and time.perf_counter() - started < 15
    mutated = control(qsb, "qbo/bulk/mutate", {"pay_share": 0.2, "partial_share": 0.1, "void_share": 0.05,
                                               "ids": [str(i) for i in range(1, 2001)]})
    assert mutated["paid"] > 300 and mutated["voided"] > 50
    paid = Invoice.get(mutated["ids"]["paid"][0], qb=qb)
    assert paid.Balance == 0 and paid.LinkedTxn[0].TxnType == "Payment"
    assert Invoice.get(mutated["ids"]["voided"][0], qb=qb).PrivateNote == "Voided"
