"""Parsing and verifying Pipedrive webhooks v2 (dealbooks.clients.pipedrive_webhooks)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from dealbooks.clients.pipedrive_webhooks import parse_event, verify_and_parse, verify_basic_auth
from dealbooks.exceptions import WebhookAuthError, WebhookPayloadError


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def body(action: str = "change", status: str = "won", previous: Any = None, **meta: Any) -> bytes:
    document = {"meta": {"action": action, "entity": "deal", "entity_id": "42", "id": "e-1", "attempt": 2,
                         "timestamp": "2025-03-01T10:00:00.123Z", "version": "2.0", **meta},
                "data": {"id": 42, "status": status, "title": "Big deal"},
                "previous": {"status": "open"} if previous is None else previous}
    return json.dumps(document).encode()


def test_parses_a_won_transition() -> None:
    event = parse_event(body())
    assert (event.event_id, event.action, event.entity, event.entity_id) == ("e-1", "change", "deal", "42")
    assert (event.status, event.previous_status, event.attempt) == ("won", "open", 2)
    assert event.timestamp == datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
    assert event.is_won_transition and event.dedupe_key == "pipedrive:e-1"


@pytest.mark.parametrize(("action", "status", "previous", "won"), [
    ("change", "won", {"title": "old"}, False),      # a won deal edited: not a transition
    ("change", "won", {"status": "lost"}, True),
    ("change", "open", {"status": "won"}, False),    # reopened
    ("create", "won", {}, True),                    # created as won
    ("delete", "won", {}, False),
])
def test_is_won_transition(action: str, status: str, previous: dict[str, Any], won: bool) -> None:
    assert parse_event(body(action, status, previous)).is_won_transition is won


def test_non_deal_entities_are_never_won_transitions() -> None:
    raw = json.loads(body())
    raw["meta"]["entity"] = "person"
    assert not parse_event(json.dumps(raw)).is_won_transition


def test_delete_with_null_data() -> None:
    raw = json.loads(body("delete"))
    raw["data"] = None
    raw["previous"] = {"id": 42, "status": "won"}
    event = parse_event(json.dumps(raw).encode())
    assert event.action == "delete" and event.data == {} and event.status is None


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b"{}", b'{"meta": []}',
    json.dumps({"meta": {"action": "change", "entity": "deal", "id": "x"}}).encode(),          # no entity_id
    json.dumps({"meta": {"action": "explode", "entity": "deal", "entity_id": 1, "id": "x"}}).encode(),
    json.dumps({"meta": {"action": "change", "entity": "deal", "entity_id": 1, "id": "x"}, "data": [1]}).encode(),
    json.dumps({"meta": {"action": "change", "entity": "deal", "entity_id": 1, "id": "x",
                         "timestamp": "yesterday"}}).encode(),
    json.dumps({"v": 1, "meta": {"action": "updated", "object": "deal", "id": 1}, "current": {},
                "event": "updated.deal"}).encode(),                                           # webhooks v1
])
def test_malformed_bodies_raise_payload_error(raw: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_event(raw)


def test_v1_body_message_says_how_to_fix() -> None:
    with pytest.raises(WebhookPayloadError, match="2.0"):
        parse_event(json.dumps({"meta": {"action": "updated", "object": "deal"}, "current": {}}).encode())


def test_basic_auth_accepts_the_registered_pair() -> None:
    verify_basic_auth(basic("dealbooks", "pa:ss wörd"), "dealbooks", "pa:ss wörd")
    event = verify_and_parse({"authorization": basic("dealbooks", "pw")}, body(), "dealbooks", "pw")
    assert event.entity_id == "42"


@pytest.mark.parametrize("header", [
    None, "", "Bearer abc", "Basic", "Basic !!!notbase64", basic("dealbooks", "wrong"), basic("other", "pw"),
    "Basic " + base64.b64encode(b"dealbookspw").decode(),
])
def test_bad_auth_raises_and_never_echoes_secrets(header: str | None) -> None:
    with pytest.raises(WebhookAuthError) as info:
        verify_and_parse({"authorization": header} if header is not None else {}, body(), "dealbooks", "pw")
    assert "pw" not in str(info.value).replace("password", "")
    assert "wrong" not in str(info.value)


def test_auth_is_checked_before_parsing() -> None:
    with pytest.raises(WebhookAuthError):
        verify_and_parse({"authorization": basic("x", "y")}, b"not json", "dealbooks", "pw")


def test_unconfigured_password_refuses_everything() -> None:
    with pytest.raises(WebhookAuthError, match="webhook_password"):
        verify_basic_auth(basic("dealbooks", ""), "dealbooks", "")
