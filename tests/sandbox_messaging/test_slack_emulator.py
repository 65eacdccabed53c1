"""The Slack emulator through the real, unmodified slack_sdk WebClient."""

from __future__ import annotations

import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from dealbooks.sandbox.server import Sandbox


def client(sb: Sandbox, token: str | None = None) -> WebClient:
    cfg = sb.config["slack"]
    return WebClient(token=token if token is not None else cfg["token"], base_url=cfg["base_url"], timeout=5)


def captured(sb: Sandbox, channel: str | None = None) -> list[dict]:
    params = {"channel": channel} if channel else {}
    return httpx.get(f"{sb.url}/_sandbox/slack/messages", params=params).json()["messages"]


def test_auth_test_and_config(msb: Sandbox) -> None:
    cfg = msb.config["slack"]
    assert cfg["base_url"].endswith("/slack/api/")
    assert cfg["token"].startswith("xoxb-")
    assert {"revenue", "payments", "ar-overdue"} <= set(cfg["channels"])
    result = client(msb).auth_test()
    assert result["ok"] is True
    assert result["user_id"] and result["team_id"]


def test_post_message_by_name_and_id_is_captured(msb: Sandbox) -> None:
    web = client(msb)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Paid* $10.00"}}]
    first = web.chat_postMessage(channel="#payments", text="Paid $10.00", blocks=blocks)
    assert first["ok"] and first["channel"].startswith("C")
    assert first["message"]["text"] == "Paid $10.00"
    assert first["message"]["blocks"] == blocks
    second = web.chat_postMessage(channel=first["channel"], text="second", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["thread_ts"] == first["ts"]
    messages = captured(msb, "payments")
    assert [m["text"] for m in messages] == ["Paid $10.00", "second"]
    assert messages[0]["channel_name"] == "payments" and messages[0]["blocks"] == blocks
    assert captured(msb, "revenue") == []
    stats = httpx.get(f"{msb.url}/_sandbox/slack/stats").json()
    assert stats["messages_posted"] == 2 and stats["messages_by_channel"] == {"payments": 2}
    assert httpx.delete(f"{msb.url}/_sandbox/slack/messages").json() == {"deleted": 2}
    assert captured(msb) == []


def test_form_encoded_post_message(msb: Sandbox) -> None:
    """Older clients send form bodies with ``blocks`` as a JSON string and the token in the body."""
    cfg = msb.config["slack"]
    response = httpx.post(cfg["base_url"] + "chat.postMessage", data={
        "token": cfg["token"], "channel": "revenue", "text": "form",
        "blocks": '[{"type": "divider"}]'})
    body = response.json()
    assert response.status_code == 200 and body["ok"], body
    assert captured(msb, "revenue")[0]["blocks"] == [{"type": "divider"}]


@pytest.mark.parametrize(
    ("token", "channel", "error"),
    [
        ("xoxb-wrong", "#payments", "invalid_auth"),
        ("", "#payments", "not_authed"),
        (None, "#no-such-channel", "channel_not_found"),
        (None, "#finance-leads", "not_in_channel"),
    ],
)
def test_errors_are_http_200_ok_false(msb: Sandbox, token: str | None, channel: str, error: str) -> None:
    with pytest.raises(SlackApiError) as caught:
        client(msb, token).chat_postMessage(channel=channel, text="x")
    assert caught.value.response.status_code == 200
    assert caught.value.response.data == {"ok": False, "error": error}
    assert captured(msb) == []


def test_invalid_blocks_and_no_text(msb: Sandbox) -> None:
    web = client(msb)
    for kwargs, error in (({"blocks": [{"text": "no type"}]}, "invalid_blocks"), ({"text": ""}, "no_text")):
        with pytest.raises(SlackApiError) as caught:
            web.chat_postMessage(channel="#payments", **kwargs)
        assert caught.value.response["error"] == error


def test_conversations_list_paging_and_join(msb: Sandbox) -> None:
    web = client(msb)
    page = web.conversations_list(limit=2)
    names = [c["name"] for c in page["channels"]]
    cursor = page["response_metadata"]["next_cursor"]
    while cursor:
        page = web.conversations_list(limit=2, cursor=cursor)
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
    assert names == sorted(names) and "finance-leads" in names
    web.conversations_join(channel="#finance-leads")
    assert web.chat_postMessage(channel="#finance-leads", text="now a member")["ok"]


def test_rate_limit_429_and_retry_after_honoured(throttled_msb: Sandbox) -> None:
    sb = throttled_msb
    httpx.post(f"{sb.url}/_sandbox/slack/limits", json={"per_second": 1, "burst": 1})
    plain = client(sb)
    plain.chat_postMessage(channel="#payments", text="one")
    with pytest.raises(SlackApiError) as caught:
        plain.chat_postMessage(channel="#payments", text="two")
    response = caught.value.response
    assert response.status_code == 429
    assert response.data == {"ok": False, "error": "ratelimited"}
    assert int(response.headers["Retry-After"]) >= 1
    # Another channel has its own budget.
    assert plain.chat_postMessage(channel="#revenue", text="other channel")["ok"]

    retrying = client(sb)
    retrying.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    started = time.monotonic()
    assert retrying.chat_postMessage(channel="#payments", text="three")["ok"]
    assert time.monotonic() - started >= 0.9  # slept for Retry-After, then succeeded
    assert [m["text"] for m in captured(sb, "payments")] == ["one", "three"]
    stats = httpx.get(f"{sb.url}/_sandbox/slack/stats").json()
    assert stats["ratelimited"]["payments"] >= 2


def test_fault_injection_throttle_storm_and_5xx(msb: Sandbox) -> None:
    httpx.post(f"{msb.url}/_sandbox/faults/slack", json={"throttle_next": 1})
    with pytest.raises(SlackApiError) as caught:
        client(msb).chat_postMessage(channel="#payments", text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    httpx.post(f"{msb.url}/_sandbox/faults/slack", json={"error_rate": 1.0})
    with pytest.raises(SlackApiError) as caught:
        client(msb).chat_postMessage(channel="#payments", text="x")
    assert caught.value.response.status_code == 503
    assert captured(msb) == []


def test_channels_control_route(msb: Sandbox) -> None:
    created = httpx.post(f"{msb.url}/_sandbox/slack/channels", json={"name": "#sales-emea"})
    assert created.status_code == 200
    assert client(msb).chat_postMessage(channel="sales-emea", text="hello")["ok"]
    assert httpx.post(f"{msb.url}/_sandbox/slack/channels", json={"name": "payments"}).status_code == 400
