"""HubSpot webhooks: signature vectors, verification window, parsing, signed delivery with retries."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dealbooks.clients.hubspot import HubSpotClient
from dealbooks.clients.hubspot_webhooks import (
    compute_signature,
    parse_events,
    verify_and_parse,
    verify_signature_v3,
)
from dealbooks.exceptions import WebhookAuthError, WebhookPayloadError

VECTORS = json.loads(Path("/work/shared/reference/hubspot/signature_vectors_hubspot_api_python.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: f"{v['version']}-{v['http_method']}")
def test_signature_vectors(vector):
    body = vector.get("request_body", VECTORS["request_body"])
    signature = compute_signature(VECTORS["client_secret"], body, version=vector["version"],
                                  method=vector["http_method"], uri=VECTORS["url"],
                                  timestamp=vector.get("timestamp", ""))
    assert signature == vector["signature"]
    if vector["version"] == "v3":
        sent = datetime.fromtimestamp(int(vector["timestamp"]) / 1000, tz=timezone.utc)
        verify_signature_v3(VECTORS["client_secret"], "POST", VECTORS["url"], body, vector["signature"],
                            vector["timestamp"], now=sent + timedelta(seconds=30))


def test_verification_rejects_stale_forged_and_missing():
    secret, url, body = "s3cret", "https://example.com/webhooks/hubspot?x=1", b'[{"eventId":1}]'
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    fresh = str(int(now.timestamp() * 1000))
    good = compute_signature(secret, body, method="POST", uri=url, timestamp=fresh)
    verify_signature_v3(secret, "POST", url, body, good, fresh, now=now + timedelta(minutes=4))
    with pytest.raises(WebhookAuthError, match="Stale"):
        verify_signature_v3(secret, "POST", url, body, good, fresh, now=now + timedelta(minutes=5, seconds=1))
    with pytest.raises(WebhookAuthError, match="does not match"):
        verify_signature_v3(secret, "POST", url, body + b" ", good, fresh, now=now)
    with pytest.raises(WebhookAuthError, match="does not match"):
        verify_signature_v3("other", "POST", url, body, good, fresh, now=now)
    with pytest.raises(WebhookAuthError, match="Missing"):
        verify_signature_v3(secret, "POST", url, body, None, fresh, now=now)
    # HubSpot decodes %3A etc. before signing; the receiver's percent-encoded URL still verifies
    encoded = "https://example.com/webhooks/hubspot?next=a%3Ab"
    sig = compute_signature(secret, body, method="POST", uri="https://example.com/webhooks/hubspot?next=a:b",
                            timestamp=fresh)
    verify_signature_v3(secret, "POST", encoded, body, sig, fresh, now=now)
    try:
        verify_signature_v3(secret, "POST", url, body, "AAAA", fresh, now=now)
    except WebhookAuthError as exc:
        assert secret not in str(exc)


def test_parse_events_and_won_transition():
    body = json.dumps([
        {"eventId": 7, "subscriptionId": 2, "portalId": 9, "appId": 3, "occurredAt": 1700000000000,
         "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": 123,
         "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI"},
        {"eventId": 8, "subscriptionId": 1, "portalId": 9, "appId": 3, "occurredAt": 1700000000001,
         "subscriptionType": "deal.creation", "attemptNumber": 1, "objectId": 124, "changeFlag": "CREATED"},
    ])
    won, created = parse_events(body)
    assert won.object_id == "123" and won.object_type == "deal" and won.is_won_transition({"closedwon"})
    assert not won.is_won_transition({"75312003"}) and not created.is_won_transition({"closedwon"})
    assert created.action == "creation" and created.attempt_number == 1 and won.dedupe_key == "hubspot:9:7"
    for bad in (b"not json", b'{"eventId": 1}', b'[{"eventId": 1}]', b'[{"subscriptionType": "deal.creation"}]'):
        with pytest.raises(WebhookPayloadError):
            parse_events(bad)


class _Receiver:
    """A local HTTP endpoint that fails the first ``fail_first`` requests with 500."""

    def __init__(self, fail_first: int) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers), body))
                self.send_response(500 if len(receiver.requests) <= receiver.fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/hubspot?source=sandbox"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.requests) >= count, f"only {len(self.requests)} deliveries"


def test_signed_delivery_is_retried_and_verifies(hs):
    receiver = _Receiver(fail_first=1)
    try:
        registered = httpx.post(hs.url + "/_sandbox/hubspot/webhooks", json={"target_url": receiver.url}).json()
        assert {s["subscriptionType"] for s in registered["results"]} == {"deal.creation", "deal.propertyChange"}
        api = hs.client()
        deal = api.crm.deals.basic_api.create({"properties": {"dealname": "Hooked"}})
        api.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "closedwon", "amount": "10"}})
        receiver.wait_for(3)  # creation (failed, retried) + the dealstage change; amount is not subscribed
        time.sleep(0.3)
        cfg = hs.config["hubspot"]
        events = []
        for path, headers, body in receiver.requests:
            uri = receiver.url.split("/webhooks")[0] + path
            events.extend(verify_and_parse(cfg["client_secret"], "POST", uri, body, headers,
                                           now=hs.state.now()))
        first = receiver.requests[0]
        creations = [e for e in events if e.action == "creation"]
        assert [e.attempt_number for e in creations] == [0, 1]  # redelivered with the same eventId
        assert creations[0].event_id == creations[1].event_id and creations[0].object_id == deal.id
        assert first[1]["X-HubSpot-Request-Timestamp"] != "" and first[1]["X-HubSpot-Signature-v3"]
        changes = [e for e in events if e.action == "propertyChange"]
        assert [(e.property_name, e.object_id) for e in changes] == [("dealstage", deal.id)]
        client = HubSpotClient(cfg["access_token"], base_url=cfg["base_url"])
        assert changes[0].is_won_transition(client.won_stage_ids())
        assert changes[0].portal_id == cfg["portal_id"] and changes[0].subscription_id > 0
        with pytest.raises(WebhookAuthError):  # replayed ten minutes later
            path, headers, body = receiver.requests[-1]
            verify_and_parse(cfg["client_secret"], "POST", receiver.url.split("/webhooks")[0] + path, body,
                             headers, now=hs.state.now() + timedelta(minutes=10))
        log = httpx.get(hs.url + "/_sandbox/webhooks/log").json()["deliveries"]
        assert sorted(d["ok"] for d in log if d["service"] == "hubspot") == [False, True, True]
    finally:
        receiver.server.shutdown()
