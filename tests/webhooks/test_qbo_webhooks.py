"""QuickBooks webhook signatures (Intuit's own vectors) and both payload forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dealbooks.clients.qbo_webhooks import parse_changes, sign, verify_signature
from dealbooks.exceptions import WebhookAuthError, WebhookPayloadError

REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "qbo" / "webhooks"
VECTORS = json.loads((REF / "signature_vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["source"][:30])
def test_intuit_signature_vectors(vector: dict) -> None:
    body = (REF / vector["payload_file"]).read_bytes() if "payload_file" in vector else vector["payload"].encode()
    assert sign(vector["verifier_token"], body) == vector["intuit-signature"]
    verify_signature(vector["verifier_token"], body, vector["intuit-signature"])
    with pytest.raises(WebhookAuthError):
        verify_signature(vector["verifier_token"], body + b" ", vector["intuit-signature"])
    with pytest.raises(WebhookAuthError):
        verify_signature("another-token", body, vector["intuit-signature"])


def test_missing_signature_or_token_is_refused() -> None:
    with pytest.raises(WebhookAuthError):
        verify_signature("token", b"{}", None)
    with pytest.raises(WebhookAuthError, match="verifier token"):
        verify_signature("", b"{}", sign("x", b"{}"))


def test_legacy_payloads_parse() -> None:
    for name in ("legacy_eventNotifications_dotnet_sdk.json", "legacy_eventNotifications_java_sdk.json"):
        changes = parse_changes((REF / name).read_bytes())
        assert changes and all(c.realm_id and c.entity and c.entity_id for c in changes)
        assert len({c.event_id for c in changes}) == len(changes)


def test_cloudevents_payload_parses() -> None:
    changes = parse_changes((REF / "cloudevents_class_created_dotnet_sdk.json").read_bytes())
    assert changes and changes[0].operation == "Created"
    body = json.dumps([{"specversion": "1.0", "id": "e1", "type": "qbo.invoice.updated.v1",
                        "intuitaccountid": "9130", "intuitentityid": "145", "time": "2026-11-21T10:00:00Z"}])
    (change,) = parse_changes(body.encode())
    assert (change.event_id, change.realm_id, change.entity, change.entity_id, change.operation) == (
        "e1", "9130", "Invoice", "145", "Updated")


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"eventNotifications": [{}]}', b"[{}]",
                                  b'[{"id": "1", "type": "other.thing", "intuitaccountid": "1", "intuitentityid": "2"}]',
                                  b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [{"id": "3"}]}}]}',
                                  "\u202e💥".encode()])
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_changes(body)
