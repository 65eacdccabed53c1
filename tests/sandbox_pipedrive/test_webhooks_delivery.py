"""Webhooks v2: management through /v1/webhooks and deliveries with basic auth, retries, ``previous``."""

from __future__ import annotations

from typing import Any

import httpx
from pd_helpers import Receiver, control, data

from dealbooks.clients.pipedrive_webhooks import parse_event, verify_and_parse


def register(api: httpx.Client, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    body = {"subscription_url": receiver.url, "event_action": "*", "event_object": "deal",
            "http_auth_user": "dealbooks", "http_auth_password": "s3cret pass", "version": "2.0", **extra}
    return data(api.post("/v1/webhooks", json=body), 201)


def test_webhook_management(api: httpx.Client, receiver: Receiver) -> None:
    hook = register(api, receiver)
    assert hook["version"] == "2.0" and hook["event_object"] == "deal" and hook["http_auth_user"] == "dealbooks"
    assert hook["http_auth_password"] != "s3cret pass", "the password is never echoed back"
    assert [h["id"] for h in data(api.get("/v1/webhooks"))] == [hook["id"]]
    assert api.post("/v1/webhooks", json={"subscription_url": receiver.url, "event_action": "updated",
                                          "event_object": "deal", "version": "2.0"}).status_code == 400
    assert api.post("/v1/webhooks", json={"subscription_url": "not a url", "event_action": "*",
                                          "event_object": "deal", "version": "2.0"}).status_code == 400
    assert api.delete(f"/v1/webhooks/{hook['id']}").json()["success"] is True
    assert data(api.get("/v1/webhooks")) == []


def test_won_change_is_delivered_v2_with_basic_auth_and_only_changed_fields(
        pd: Any, api: httpx.Client, receiver: Receiver) -> None:
    register(api, receiver)
    deal = data(api.post("/api/v2/deals", json={"title": "Hooked", "value": 500}))
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"status": "won"}))
    created, changed = receiver.wait_for(2)

    assert created.basic_auth == ("dealbooks", "s3cret pass")
    assert created.json["meta"]["action"] == "create" and created.json["previous"] is None
    body = changed.json
    meta = body["meta"]
    assert (meta["action"], meta["entity"], meta["entity_id"], meta["attempt"]) == ("change", "deal",
                                                                                    str(deal["id"]), 1)
    assert meta["version"] == "2.0" and meta["id"] != created.json["meta"]["id"] and meta["timestamp"]
    assert body["data"]["status"] == "won" and body["data"]["id"] == deal["id"]
    assert body["previous"]["status"] == "open"
    assert set(body["previous"]) <= {"status", "won_time", "close_time", "first_won_time", "lost_time"}
    assert "title" not in body["previous"] and "update_time" not in body["previous"]

    event = verify_and_parse(changed.headers, changed.body, "dealbooks", "s3cret pass")
    assert event.is_won_transition and event.previous_status == "open"
    assert not parse_event(created.body).is_won_transition, "created open"


def test_title_change_previous_holds_only_title(api: httpx.Client, receiver: Receiver) -> None:
    deal = data(api.post("/api/v2/deals", json={"title": "Before"}))
    register(api, receiver, event_action="change")
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"title": "After"}))
    (delivery,) = receiver.wait_for(1)
    assert delivery.json["previous"] == {"title": "Before"}
    assert not parse_event(delivery.body).is_won_transition


def test_custom_field_change_previous_lists_only_that_key(api: httpx.Client, receiver: Receiver) -> None:
    field = data(api.post("/v1/dealFields", json={"name": "Invoice status", "field_type": "varchar"}))
    deal = data(api.post("/api/v2/deals", json={"title": "Custom"}))
    register(api, receiver, event_action="change")
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"custom_fields": {field["key"]: "paid"}}))
    (delivery,) = receiver.wait_for(1)
    assert delivery.json["previous"] == {"custom_fields": {field["key"]: None}}
    assert delivery.json["data"]["custom_fields"][field["key"]] == "paid"


def test_failed_delivery_is_retried_with_same_event_id(pd: Any, api: httpx.Client, receiver: Receiver) -> None:
    receiver.fail_first = 2
    register(api, receiver, event_action="change")
    deal = data(api.post("/api/v2/deals", json={"title": "Flaky receiver"}))
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"status": "won"}))
    deliveries = receiver.wait_for(3)
    assert [d.json["meta"]["attempt"] for d in deliveries] == [1, 2, 3]
    assert len({d.json["meta"]["id"] for d in deliveries}) == 1
    assert all(d.basic_auth == ("dealbooks", "s3cret pass") for d in deliveries)
    assert pd.dispatcher.wait_idle(5)
    log = [e for e in control(pd, "GET", "/webhooks/log")["deliveries"] if e["service"] == "pipedrive"]
    assert [e["ok"] for e in log] == [False, False, True]


def test_hook_is_banned_after_repeated_failures(pd: Any, api: httpx.Client, receiver: Receiver) -> None:
    receiver.fail_first = 10_000
    register(api, receiver, event_action="change")
    deal = data(api.post("/api/v2/deals", json={"title": "Banned"}))
    attempts = len(pd.state.options.webhook_retry_delays) + 1
    for i in range(3):
        data(api.patch(f"/api/v2/deals/{deal['id']}", json={"title": f"t{i}"}))
    receiver.wait_for(attempts * 3, timeout=15)
    assert pd.dispatcher.wait_idle(10)
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"title": "lost"}))
    assert pd.dispatcher.wait_idle(5)
    assert len(receiver.deliveries) == attempts * 3, "events are dropped while banned"
    hooks = control(pd, "GET", "/pipedrive/webhooks")
    assert hooks[0]["banned_until"]
    assert data(api.get("/v1/webhooks"))[0]["is_active"] == 0
    control(pd, "POST", "/clock", {"advance_seconds": 31 * 60})
    receiver.fail_first = 0
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"title": "back"}))
    assert receiver.wait_for(attempts * 3 + 1)[-1].json["previous"] == {"title": "lost"}


def test_other_objects_and_filters(api: httpx.Client, receiver: Receiver) -> None:
    register(api, receiver, event_object="person", event_action="create")
    data(api.post("/api/v2/deals", json={"title": "not a person"}))
    person = data(api.post("/api/v2/persons", json={"name": "Only me"}))
    (delivery,) = receiver.wait_for(1)
    assert delivery.json["meta"]["entity"] == "person" and delivery.json["data"]["id"] == person["id"]
