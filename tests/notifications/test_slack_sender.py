"""SlackNotifier against the Slack emulator over real HTTP (slack_sdk unmodified)."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import httpx
import pytest
from slack_sdk import WebClient

from dealbooks.exceptions import NotificationError
from dealbooks.notifications.slack import SlackError, SlackNotifier
from dealbooks.notifications.slack_messages import PaymentAlert, SlackMessage, render_payment_alert
from dealbooks.sandbox.server import Sandbox

ALERT = PaymentAlert(customer_name="Acme <Corp>", invoice_number="1042", amount=Decimal("750"),
                     balance=Decimal("0"), deal_url="https://acme.pipedrive.com/deal/5",
                     invoice_url="https://app.qbo.intuit.com/app/invoice?txnId=9")


def notifier(sb: Sandbox, token: str | None = None, **kwargs: object) -> SlackNotifier:
    cfg = sb.config["slack"]
    return SlackNotifier.from_token(token or cfg["token"], base_url=cfg["base_url"], timeout=5,
                                    backoff_seconds=0.01, **kwargs)  # type: ignore[arg-type]


def captured(sb: Sandbox) -> list[dict]:
    return httpx.get(f"{sb.url}/_sandbox/slack/messages").json()["messages"]


def test_post_payment_alert_is_captured_as_rendered(msb: Sandbox) -> None:
    message = render_payment_alert(ALERT)
    posted = notifier(msb).post("#payments", message)
    assert posted.channel == "C0PAYMENTS1" and posted.ts
    [stored] = captured(msb)
    assert stored["ts"] == posted.ts and stored["channel_name"] == "payments"
    assert stored["text"] == message.text and stored["blocks"] == message.blocks
    assert notifier(msb).check_auth()["user_id"] == msb.config["slack"]["bot_user_id"]


def test_wraps_a_given_client_from_a_block(msb: Sandbox) -> None:
    cfg = msb.config["slack"]
    slack = SlackNotifier(WebClient(token=cfg["token"], base_url=cfg["base_url"]))
    kinds = {type(h).__name__ for h in slack.client.retry_handlers}
    assert {"RateLimitErrorRetryHandler", "_ServerErrorRetry", "ConnectionErrorRetryHandler"} <= kinds
    assert slack.post("revenue", SlackMessage(text="hello")).ts


@pytest.mark.parametrize(
    ("channel", "token", "error", "category", "retryable"),
    [
        ("#nope", None, "channel_not_found", "slack_rejected", False),
        ("#finance-leads", None, "not_in_channel", "slack_rejected", False),
        ("#payments", "xoxb-sandbox-wrong-token-value", "invalid_auth", "slack_auth", False),
    ],
)
def test_ok_false_raises_notification_error(msb: Sandbox, channel: str, token: str | None, error: str,
                                            category: str, retryable: bool) -> None:
    with pytest.raises(NotificationError) as caught:
        notifier(msb, token).post(channel, SlackMessage(text="x"))
    exc = caught.value
    assert isinstance(exc, SlackError)
    assert exc.error == error and exc.category == category and exc.retryable is retryable
    assert error in str(exc) and channel in str(exc)
    assert msb.config["slack"]["token"] not in str(exc) and "xoxb" not in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__


def test_429_is_retried_after_retry_after(throttled_msb: Sandbox) -> None:
    sb = throttled_msb
    httpx.post(f"{sb.url}/_sandbox/slack/limits", json={"per_second": 1, "burst": 1})
    slack = notifier(sb, rate_limit_retries=2)
    started = time.monotonic()
    slack.post("#payments", SlackMessage(text="one"))
    slack.post("#payments", SlackMessage(text="two"))  # 429 first, then OK after Retry-After
    assert time.monotonic() - started >= 0.9
    assert [m["text"] for m in captured(sb)] == ["one", "two"]
    assert httpx.get(f"{sb.url}/_sandbox/slack/stats").json()["ratelimited"]["payments"] >= 1


def test_429_storm_beyond_retries(msb: Sandbox) -> None:
    httpx.post(f"{msb.url}/_sandbox/faults/slack", json={"throttle_next": 5})
    with pytest.raises(SlackError) as caught:
        notifier(msb, rate_limit_retries=1).post("#payments", SlackMessage(text="x"))
    exc = caught.value
    assert exc.status == 429 and exc.category == "slack_rate_limited" and exc.retryable
    assert "rate limited after 1 retries" in str(exc) and "Retry-After 1s" in str(exc)
    assert captured(msb) == []


def test_5xx_retried_then_raised(msb: Sandbox) -> None:
    httpx.post(f"{msb.url}/_sandbox/faults/slack", json={"error_rate": 1.0})
    with pytest.raises(SlackError) as caught:
        notifier(msb, server_error_retries=2).post("#payments", SlackMessage(text="x"))
    assert caught.value.status == 503 and caught.value.category == "slack_unavailable"
    assert caught.value.retryable and "HTTP 503" in str(caught.value)
    requests = httpx.get(f"{msb.url}/_sandbox/slack/stats").json().get("requests", {})
    assert requests == {}  # every attempt (1 + 2 retries) was refused before reaching the emulator
    assert captured(msb) == []


def test_slack_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    slack = SlackNotifier.from_token("xoxb-secret-token-123", base_url=f"http://127.0.0.1:{port}/slack/api/",
                                     timeout=2)
    with pytest.raises(NotificationError) as caught:
        slack.post("#payments", SlackMessage(text="x"))
    assert caught.value.category == "slack_unavailable" and caught.value.retryable
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "secret-token" not in str(caught.value)
