"""Error classification over QBO's real fault payloads, sent over HTTP through python-quickbooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from intuitlib.exceptions import AuthClientError

from dealbooks.clients.qbo import FileTokenStore, QboClient, QboConnection
from dealbooks.clients.qbo_errors import classify, parse_fault_body, redact
from dealbooks.exceptions import (
    QboAuthError,
    QboDuplicateNameError,
    QboNotFoundError,
    QboRetryableError,
    QboStaleObjectError,
    QboValidationError,
)
from tests.clients_qbo.conftest import FAST, REFERENCE
from tests.clients_qbo.replay import ReplayServer

ERRORS = REFERENCE / "errors"
XML = {"Content-Type": "application/xml"}


def _fault(errors: list[dict]) -> str:
    return json.dumps({"Fault": {"Error": errors, "type": "ValidationFault"}, "time": "2025-01-01T00:00:00Z"})


def _assert_safe(exc: BaseException, *secrets: str) -> None:
    for text in (str(exc), repr(exc), getattr(exc, "detail", "")):
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (400, (ERRORS / "fault_610_object_not_found_2018_capture.json").read_text(), QboNotFoundError, "610"),
        (400, (ERRORS / "fault_6000_business_validation_gst_activepieces8539.json").read_text(),
         QboValidationError, "6000"),
        (400, _fault(json.loads((ERRORS / "fault_5010_stale_object_error_list_issue127.json").read_text())),
         QboStaleObjectError, "5010"),
        (400, _fault([json.loads((ERRORS / "fault_6000_unexpected_internal_error_nodeqb48_error_item.json")
                                 .read_text())]), QboValidationError, "6000"),
        (400, json.dumps({"Fault": json.loads((REFERENCE / "batch_response_6240_pythonquickbooks_unittest.json")
                                              .read_text())["BatchItemResponse"][1]["Fault"]}),
         QboDuplicateNameError, "6240"),
        (400, _fault([{"Message": "Required param missing, need to supply the required value for the API",
                       "Detail": "Required parameter Line.Amount is missing in the request", "code": "2020"}]),
         QboValidationError, "2020"),
        (400, _fault([{"Message": "Amount calculation incorrect", "Detail": "Amount is not equal to UnitPrice * Qty",
                       "code": "6070"}]), QboValidationError, "6070"),
        (400, (ERRORS / "fault_500_unsupported_operation_javasdk.json").read_text(), QboValidationError, "500"),
        (403, (ERRORS / "fault_403_authorization_failed_3100_nodeqb154_fragment.json").read_text(),
         QboAuthError, "3100"),
    ],
)
def test_permanent_faults_are_typed_with_code_and_message(replay: ReplayServer, replay_client: QboClient,
                                                          status: int, body: str, cls: type, code: str) -> None:
    replay.reply(status, body)
    with pytest.raises(cls) as info:
        replay_client.get("Invoice", "130")
    exc = info.value
    assert type(exc) is cls
    assert exc.code == code
    assert f"QBO {code}" in str(exc)
    assert exc.retryable is (cls is QboStaleObjectError)
    assert len(replay.requests) == 1, "a permanent error must not be retried"
    _assert_safe(exc, "replay-client-secret-123", replay.refresh_token, *replay.access_tokens)


def test_duplicate_name_message_is_actionable(replay: ReplayServer, replay_client: QboClient) -> None:
    replay.reply(400, _fault([{"Message": "Duplicate Name Exists Error", "code": "6240",
                               "Detail": "The name supplied already exists. : Another customer, vendor or employee "
                                         "is already using this name. Please use a different name.",
                               "element": ""}]))
    with pytest.raises(QboDuplicateNameError) as info:
        replay_client.create_customer({"DisplayName": "Acme"}, "rid-1")
    assert "rename" in str(info.value) and info.value.category == "duplicate_name"


def test_xml_throttle_reply_is_retried_then_succeeds(replay: ReplayServer, tmp_path: Path) -> None:
    sleeps: list[float] = []
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=replay.refresh_token)
    conn = QboConnection("cid", "replay-client-secret-123", "9130", replay.discovery_url, replay.api_base)
    client = QboClient.connect(conn, store, retry=FAST, sleep=sleeps.append)
    xml = (ERRORS / "fault_403_throttle_exceeded_legacy_xml_pyqb43.xml").read_text()
    replay.reply(403, xml, XML)
    replay.reply(429, xml, {**XML, "Retry-After": "0.15"})
    replay.reply(200, json.dumps({"QueryResponse": {"Customer": [{"Id": "7", "DisplayName": "A"}]}}))
    assert client.find_customer_by_name("A") == {"Id": "7", "DisplayName": "A"}
    assert len(sleeps) == 2 and sleeps[1] == pytest.approx(0.15), "Retry-After must be honoured"


def test_throttle_that_never_ends_surfaces_as_retryable_3001(replay: ReplayServer, replay_client: QboClient) -> None:
    xml = (ERRORS / "fault_403_throttle_exceeded_legacy_xml_pyqb43.xml").read_text()
    for _ in range(FAST.max_attempts):
        replay.reply(429, xml, XML)
    with pytest.raises(QboRetryableError) as info:
        replay_client.query("SELECT * FROM Customer")
    assert info.value.code == "3001" and info.value.retryable
    assert len(replay.requests) == FAST.max_attempts


def test_5xx_without_fault_is_retryable_but_not_for_a_send(replay: ReplayServer, replay_client: QboClient) -> None:
    replay.reply(503, json.dumps({"error": "injected server error"}))
    replay.reply(200, json.dumps({"Invoice": {"Id": "130"}}))
    assert replay_client.get_invoice("130") == {"Id": "130"}
    replay.reply(503, json.dumps({"error": "injected server error"}))
    with pytest.raises(QboRetryableError) as info:
        replay_client.send_invoice("130")
    assert info.value.status == 503
    assert len(replay.requests) == 3, "a send that may have happened is not repeated"


def test_401_refreshes_once_and_retries(replay: ReplayServer, replay_client: QboClient, tmp_path: Path) -> None:
    replay.reply(200, json.dumps({"Invoice": {"Id": "1"}}))
    old_refresh = replay.refresh_token
    replay.expire_access_tokens()
    assert replay_client.get_invoice("1") == {"Id": "1"}
    assert replay.refresh_token != old_refresh
    assert json.loads((tmp_path / "tokens.json").read_text())["refresh_token"] == replay.refresh_token


def test_401_that_persists_after_refresh_is_an_auth_error(replay: ReplayServer, replay_client: QboClient) -> None:
    xml = (ERRORS / "fault_401_general_authentication_error_100_xml.xml").read_text()
    replay.reply(401, xml, XML)
    replay.reply(401, xml, XML)
    with pytest.raises(QboAuthError) as info:
        replay_client.get_invoice("1")
    assert "Reconnect QuickBooks" in str(info.value)
    _assert_safe(info.value, replay.refresh_token, *replay.access_tokens, "replay-client-secret-123")


def test_invalid_grant_is_an_actionable_auth_error(replay: ReplayServer, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token="rt-revoked-long-ago-0123456789")
    conn = QboConnection("cid", "replay-client-secret-123", "9130", replay.discovery_url, replay.api_base)
    with pytest.raises(QboAuthError) as info:
        QboClient.connect(conn, store, retry=FAST)
    assert info.value.code == "invalid_grant"
    assert "Reconnect QuickBooks" in str(info.value)
    _assert_safe(info.value, "rt-revoked-long-ago-0123456789", "replay-client-secret-123")


def test_secrets_echoed_by_the_server_are_redacted(replay: ReplayServer, replay_client: QboClient) -> None:
    access = next(iter(replay.access_tokens))
    replay.reply(400, _fault([{"Message": "Bad request", "code": "2500",
                               "Detail": f"Header Authorization: Bearer {access} refresh_token={replay.refresh_token}"
                                         f" secret replay-client-secret-123"}]))
    with pytest.raises(QboValidationError) as info:
        replay_client.get_invoice("1")
    _assert_safe(info.value, access, replay.refresh_token, "replay-client-secret-123")
    assert "[redacted]" in str(info.value)


def test_transport_errors_classify_without_http() -> None:
    assert isinstance(classify(requests.ConnectTimeout("x")), QboRetryableError)
    assert isinstance(classify(requests.ConnectionError("x")), QboRetryableError)
    assert classify(requests.ReadTimeout("x")).code == "timeout"


def test_token_endpoint_errors() -> None:
    def response(status: int, body: dict) -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = status, json.dumps(body).encode()
        return r

    assert classify(AuthClientError(response(400, {"error": "invalid_grant"}))).code == "invalid_grant"
    assert isinstance(classify(AuthClientError(response(401, {"error": "invalid_client"}))), QboAuthError)
    assert isinstance(classify(AuthClientError(response(503, {}))), QboRetryableError)


def test_parse_fault_body_shapes() -> None:
    xml = (ERRORS / "fault_403_throttle_exceeded_legacy_xml_pyqb43.xml").read_text()
    assert parse_fault_body(xml).code == "3001"
    lower = (ERRORS / "fault_401_authentication_failed_3200_malformed_token_issue250.json").read_text()
    assert parse_fault_body(lower).code == "3200"
    assert parse_fault_body("<html>bad gateway</html>") is None
    assert parse_fault_body("not json") is None


def test_redact_patterns() -> None:
    text = redact('Authorization: Bearer abc.def-ghi {"refresh_token": "RT123456789"} Basic Y2lkOnNlY3JldA==')
    assert "abc.def-ghi" not in text and "RT123456789" not in text and "Y2lkOnNlY3JldA" not in text


def test_a_busy_discovery_document_is_retried_and_named(replay: ReplayServer, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=replay.refresh_token)
    conn = QboConnection("cid", "replay-client-secret-123", "9130", replay.discovery_url, replay.api_base)
    sleeps: list[float] = []
    replay.discovery_statuses.extend([429, 503])
    client = QboClient.connect(conn, store, retry=FAST, sleep=sleeps.append)
    assert client.find_customer_by_name("A") is None and len(sleeps) == 2

    replay.discovery_statuses.extend([429] * FAST.max_attempts)
    with pytest.raises(QboRetryableError) as busy:
        QboClient.connect(conn, store, retry=FAST, sleep=sleeps.append)
    assert "answered HTTP 429" in busy.value.message and "Try again" in busy.value.message


def test_a_wrong_discovery_url_is_a_configuration_error(replay: ReplayServer, tmp_path: Path) -> None:
    from dealbooks.exceptions import ConfigurationError

    store = FileTokenStore(tmp_path / "t.json", initial_refresh_token=replay.refresh_token)
    conn = QboConnection("cid", "replay-client-secret-123", "9130", replay.discovery_url, replay.api_base)
    replay.discovery_statuses.append(404)
    with pytest.raises(ConfigurationError) as wrong:
        QboClient.connect(conn, store, retry=FAST, sleep=lambda _: None)
    assert "HTTP 404" in wrong.value.message and "environment" in wrong.value.message
    assert replay.token_calls == 0, "nothing is sent to a token endpoint that was never discovered"
