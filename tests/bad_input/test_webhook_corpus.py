"""Bad webhook deliveries through the real receiver app: each gets a clear 4xx (or is recorded as a
duplicate), none starts a flow run, none creates an invoice, no secret appears in answers or logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from bench import deliveries as d
from tests.bad_input.conftest import assert_no_secrets

Maker = Callable[[dict[str, Any]], d.Delivery]
BIG = b'{"meta": {"action": "change", "entity": "deal", "entity_id": "1", "id": "x"}, "pad": "' + b"x" * 1_100_000 + b'"}'


def _pd(raw: bytes | None = None, doc: Any = None, **auth: str) -> Maker:
    return lambda s: d.pipedrive(doc, auth.get("password", s["pd_password"]), auth.get("user", "dealbooks"), raw=raw)


def _pd_header(header: str | None) -> Maker:
    def make(s: dict[str, Any]) -> d.Delivery:
        delivery = d.pipedrive(d.pipedrive_event("1"), s["pd_password"])
        if header is None:
            delivery.headers.pop("authorization")
        else:
            delivery.headers["authorization"] = header
        return delivery
    return make


def _hs(raw: bytes | None = None, doc: Any = None, age_ms: int = 0, secret: str | None = None) -> Maker:
    return lambda s: d.hubspot(doc, secret or s["hs_secret"], raw=raw, timestamp_ms=int(time.time() * 1000) - age_ms)


def _hs_tampered(s: dict[str, Any]) -> d.Delivery:
    delivery = d.hubspot([d.hubspot_event("1")], s["hs_secret"])
    delivery.body = json.dumps([d.hubspot_event("2")]).encode()  # signature of another body: replayed header
    return delivery


def _hs_headers(**headers: str | None) -> Maker:
    def make(s: dict[str, Any]) -> d.Delivery:
        delivery = d.hubspot([d.hubspot_event("1")], s["hs_secret"])
        for key, value in headers.items():
            name = {"sig": "X-HubSpot-Signature-v3", "ts": "X-HubSpot-Request-Timestamp"}[key]
            if value is None:
                delivery.headers.pop(name)
            else:
                delivery.headers[name] = value
        return delivery
    return make


def _qbo(raw: bytes | None = None, doc: Any = None, token: str | None = None) -> Maker:
    return lambda s: d.quickbooks(doc, token or s["qbo_token"], raw=raw)


def _qbo_unsigned(signature: str | None) -> Maker:
    def make(s: dict[str, Any]) -> d.Delivery:
        delivery = d.quickbooks(d.qbo_invoice_change(s["realm"], "1"), s["qbo_token"])
        if signature is None:
            delivery.headers.pop("intuit-signature")
        else:
            delivery.headers["intuit-signature"] = signature
        return delivery
    return make


EVENT = d.pipedrive_event("1")
CASES: dict[str, tuple[Maker, int]] = {
    # Pipedrive: authentication (basic auth only: no signature exists)
    "pd-no-auth": (_pd_header(None), 401),
    "pd-wrong-password": (_pd(doc=EVENT, password="not-the-password"), 401),
    "pd-wrong-user": (_pd(doc=EVENT, user="mallory"), 401),
    "pd-bearer-scheme": (_pd_header("Bearer abc.def"), 401),
    "pd-bad-base64": (_pd_header("Basic %%%not-base64%%%"), 401),
    "pd-no-colon": (_pd_header("Basic ZGVhbGJvb2tz"), 401),
    "pd-empty-password": (_pd(doc=EVENT, password=""), 401),
    # Pipedrive: malformed bodies (authenticated)
    "pd-not-json": (_pd(raw=b"{not json"), 400),
    "pd-empty-body": (_pd(raw=b""), 400),
    "pd-array": (_pd(raw=b"[1, 2]"), 400),
    "pd-no-meta": (_pd(doc={"data": {"id": 1}}), 400),
    "pd-meta-not-object": (_pd(doc={"meta": "deal"}), 400),
    "pd-meta-missing-id": (_pd(doc={"meta": {"action": "change", "entity": "deal", "entity_id": "1"}}), 400),
    "pd-v1-body": (_pd(doc={"meta": {"object": "deal", "id": 1}, "current": {"id": 1}}), 400),
    "pd-unknown-action": (_pd(doc={**EVENT, "meta": {**EVENT["meta"], "action": "explode"}}), 400),
    "pd-data-string": (_pd(doc={**EVENT, "data": "won"}), 400),
    "pd-attempt-nan": (_pd(doc={**EVENT, "meta": {**EVENT["meta"], "attempt": "many"}}), 400),
    "pd-invalid-utf8": (_pd(raw=b'{"meta": "\xff\xfe"}'), 400),
    "pd-oversized": (_pd(raw=BIG), 413),
    # HubSpot: v3 signatures
    "hs-no-signature": (_hs_headers(sig=None), 401),
    "hs-no-timestamp": (_hs_headers(ts=None), 401),
    "hs-bad-signature": (_hs_headers(sig="c2lnbmF0dXJl"), 401),
    "hs-wrong-secret": (_hs(doc=[d.hubspot_event("1")], secret="another-apps-secret"), 401),
    "hs-stale-timestamp": (_hs(doc=[d.hubspot_event("1")], age_ms=10 * 60 * 1000), 401),
    "hs-timestamp-not-number": (_hs_headers(ts="yesterday"), 401),
    "hs-signature-of-other-body": (_hs_tampered, 401),
    # HubSpot: malformed bodies (signed)
    "hs-not-json": (_hs(raw=b"]["), 400),
    "hs-object-not-array": (_hs(doc={"eventId": 1}), 400),
    "hs-event-without-type": (_hs(doc=[{"eventId": 1, "objectId": 1, "portalId": 1, "occurredAt": 1}]), 400),
    "hs-event-id-text": (_hs(doc=[{**d.hubspot_event("1"), "eventId": "one"}]), 400),
    "hs-object-id-missing": (_hs(doc=[{k: v for k, v in d.hubspot_event("1").items() if k != "objectId"}]), 400),
    "hs-oversized": (_hs(raw=b"[" + b" " * 1_100_000 + b"]"), 413),
    # QuickBooks: intuit-signature
    "qbo-no-signature": (_qbo_unsigned(None), 401),
    "qbo-bad-signature": (_qbo_unsigned("bm90IGEgc2lnbmF0dXJl"), 401),
    "qbo-signature-not-base64": (_qbo_unsigned("%%%"), 401),
    "qbo-wrong-token": (_qbo(doc={"eventNotifications": []}, token="not-the-verifier-token"), 401),
    "qbo-not-json": (_qbo(raw=b"<xml/>"), 400),
    "qbo-wrong-shape": (_qbo(doc={"eventNotifications": "Invoice"}), 400),
    "qbo-oversized": (_qbo(raw=b"{" + b" " * 1_100_000 + b"}"), 413),
}


def _settings(configured: Any) -> dict[str, Any]:
    from dealbooks.flows.context import load_block

    cfg = configured.sandbox.config
    return {"pd_password": load_block("pipedrive", configured.blocks).webhook_password.get_secret_value(),
            "hs_secret": cfg["hubspot"]["client_secret"], "qbo_token": cfg["qbo"]["webhook_verifier_token"],
            "realm": cfg["qbo"]["realm_id"]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_delivery_is_refused_clearly(shared: Any, receiver: Any, qbo: Any, caplog: pytest.LogCaptureFixture,
                                         case: str) -> None:
    client, dispatcher = receiver
    make, status = CASES[case]
    delivery = make(_settings(shared))
    with caplog.at_level(logging.DEBUG):
        response = client.post(delivery.path, content=delivery.body, headers=delivery.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error, str) and error.strip(), "a clear error message"
    assert dispatcher.deals == [] and dispatcher.syncs == [], "nothing dispatched"
    assert qbo.query_all("SELECT * FROM Invoice") == []
    assert_no_secrets(shared, response.text, caplog.text)


REPLAYS: dict[str, Callable[[dict[str, Any]], d.Delivery]] = {
    "pipedrive": lambda s: d.pipedrive(d.pipedrive_event("7", event_id="evt-7"), s["pd_password"]),
    "hubspot": lambda s: d.hubspot([d.hubspot_event("7", event_id=777)], s["hs_secret"]),
    "quickbooks": lambda s: d.quickbooks(d.qbo_invoice_change(s["realm"], "7"), s["qbo_token"]),
}


@pytest.mark.parametrize("sender", sorted(REPLAYS))
def test_replayed_delivery_is_recorded_once_and_dispatched_once(shared: Any, receiver: Any, sender: str) -> None:
    client, dispatcher = receiver
    delivery = REPLAYS[sender](_settings(shared))
    answers = [client.post(delivery.path, content=delivery.body, headers=delivery.headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(dispatcher.deals) + len(dispatcher.syncs) == 1, (dispatcher.deals, dispatcher.syncs)
    source = "quickbooks" if sender == "quickbooks" else sender
    assert len([row for row in shared.ledger.inbox.list(source) if row.subject.endswith(":7")]) == 1


def test_qbo_change_for_another_realm_dispatches_nothing(shared: Any, receiver: Any) -> None:
    client, dispatcher = receiver
    delivery = d.quickbooks(d.qbo_invoice_change("999999", "1"), _settings(shared)["qbo_token"])
    response = client.post(delivery.path, content=delivery.body, headers=delivery.headers)
    assert response.status_code == 200 and response.json()["dispatched"] == 0
    assert dispatcher.syncs == []
