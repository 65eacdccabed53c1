"""Posting rendered Slack messages with ``slack_sdk.WebClient``; every failure → ``NotificationError``.

The client retries HTTP 429 after ``Retry-After`` (``RateLimitErrorRetryHandler``), 5xx with
exponential backoff and connection resets; what still fails becomes a ``SlackError`` (a
``NotificationError``) whose message names the channel, Slack's error code and what to do — never
the token.

Example:
    >>> notifier = SlackNotifier.from_token(token, base_url="http://127.0.0.1:8765/slack/api/")
    >>> notifier.post("#payments", render_payment_alert(alert))
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from dealbooks.exceptions import NotificationError
from dealbooks.notifications.slack_messages import SlackMessage

DEFAULT_BASE_URL = "https://slack.com/api/"

_AUTH_ERRORS = {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired",
                "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied"}
_TRANSIENT_ERRORS = {"fatal_error", "internal_error", "service_unavailable", "request_timeout",
                     "ratelimited", "team_added_to_org"}
_HINTS = {
    "channel_not_found": "the channel does not exist or the bot cannot see it; check the channel in settings",
    "not_in_channel": "invite the bot to the channel (/invite @<bot>) or pick another channel",
    "is_archived": "the channel is archived; pick another channel in settings",
    "invalid_blocks": "the message layout was refused; this is a dealbooks bug, please report it",
    "msg_too_long": "the message is too long for Slack",
    "no_text": "the message was empty",
}


class SlackError(NotificationError):
    """Slack refused or could not take a message.

    Attributes:
        error: Slack's error code (``channel_not_found``, ``ratelimited``...) or ``connection``.
        status: The HTTP status, when there was a response.
    """

    def __init__(self, message: str, *, error: str, status: int | None = None, category: str,
                 retryable: bool) -> None:
        super().__init__(message, category=category, retryable=retryable)
        self.error = error
        self.status = status


@dataclass(frozen=True)
class PostedMessage:
    """Where a message landed: the channel id and Slack's message timestamp (its id)."""

    channel: str
    ts: str


class _ServerErrorRetry(ServerErrorRetryHandler):
    """Retries 500, 502, 503 and 504 (the built-in handler only knows 500 and 503)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


def configure_retries(client: WebClient, *, rate_limit_retries: int = 3, server_error_retries: int = 2,
                      backoff_seconds: float = 0.5) -> WebClient:
    """Install dealbooks' retry handlers on ``client`` (idempotent; keeps handlers already there).

    Args:
        client: The client to configure (modified in place).
        rate_limit_retries: Retries of HTTP 429, each after the server's ``Retry-After``.
        server_error_retries: Retries of HTTP 5xx, with exponential backoff.
        backoff_seconds: Backoff factor for 5xx retries (``factor * 2**attempt`` plus jitter).

    Returns:
        The same client.
    """
    handlers: list[RetryHandler] = list(client.retry_handlers)
    if not any(isinstance(h, ConnectionErrorRetryHandler) for h in handlers):
        handlers.append(ConnectionErrorRetryHandler(max_retry_count=1))
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in handlers):
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    if not any(isinstance(h, ServerErrorRetryHandler) for h in handlers):
        handlers.append(_ServerErrorRetry(max_retry_count=server_error_retries,
                                          interval_calculator=BackoffRetryIntervalCalculator(backoff_seconds)))
    client.retry_handlers = handlers
    return client


def build_slack_client(token: str | SecretStr, *, base_url: str | None = None, timeout: int = 10,
                       rate_limit_retries: int = 3, server_error_retries: int = 2,
                       backoff_seconds: float = 0.5) -> WebClient:
    """A ``WebClient`` for the real Slack or the sandbox, with dealbooks' retry handlers.

    Args:
        token: Bot token (``xoxb-...``).
        base_url: API base, e.g. ``http://127.0.0.1:8765/slack/api/``; Slack's own by default.
        timeout: Seconds per HTTP request.
        rate_limit_retries: See ``configure_retries``.
        server_error_retries: See ``configure_retries``.
        backoff_seconds: See ``configure_retries``.

    Returns:
        The configured client.
    """
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    url = base_url or DEFAULT_BASE_URL
    client = WebClient(token=secret, base_url=url if url.endswith("/") else url + "/", timeout=timeout)
    return configure_retries(client, rate_limit_retries=rate_limit_retries,
                             server_error_retries=server_error_retries, backoff_seconds=backoff_seconds)


class SlackNotifier:
    """Posts ``SlackMessage``s; raises ``SlackError`` instead of anything slack_sdk raises."""

    def __init__(self, client: WebClient, *, rate_limit_retries: int = 3, server_error_retries: int = 2,
                 backoff_seconds: float = 0.5) -> None:
        """Wrap a client (e.g. from a Slack block's ``get_client()``), adding retry handlers.

        Args:
            client: A synchronous ``slack_sdk.WebClient`` carrying the token and base URL.
            rate_limit_retries: Retries of HTTP 429 after ``Retry-After``.
            server_error_retries: Retries of HTTP 5xx.
            backoff_seconds: Backoff factor for 5xx retries.
        """
        self.client = configure_retries(client, rate_limit_retries=rate_limit_retries,
                                        server_error_retries=server_error_retries,
                                        backoff_seconds=backoff_seconds)
        self.rate_limit_retries = next(h.max_retry_count for h in self.client.retry_handlers
                                       if isinstance(h, RateLimitErrorRetryHandler))

    @classmethod
    def from_token(cls, token: str | SecretStr, *, base_url: str | None = None, timeout: int = 10,
                   rate_limit_retries: int = 3, server_error_retries: int = 2,
                   backoff_seconds: float = 0.5) -> SlackNotifier:
        """Build the client from a token and optional base URL (see ``build_slack_client``)."""
        client = build_slack_client(token, base_url=base_url, timeout=timeout,
                                    rate_limit_retries=rate_limit_retries,
                                    server_error_retries=server_error_retries, backoff_seconds=backoff_seconds)
        return cls(client, rate_limit_retries=rate_limit_retries)

    def post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> PostedMessage:
        """Post one message.

        Args:
            channel: Channel id (``C0123``) or name (``#payments``).
            message: The rendered message.
            thread_ts: Reply in this thread instead of the channel.

        Returns:
            The channel id and ``ts`` Slack assigned.

        Raises:
            SlackError: Slack answered ``ok: false``, kept rate-limiting, failed with 5xx, or could
                not be reached. ``retryable`` says whether a later attempt may succeed.
        """
        kwargs: dict[str, Any] = {"channel": channel, **message.as_kwargs(), "unfurl_links": False,
                                  "unfurl_media": False}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = self._call("chat.postMessage", channel, lambda: self.client.chat_postMessage(**kwargs))
        return PostedMessage(channel=str(response.get("channel", channel)), ts=str(response["ts"]))

    def check_auth(self) -> dict[str, Any]:
        """Call ``auth.test``: who the token belongs to (team, bot user), or ``SlackError``."""
        response = self._call("auth.test", None, self.client.auth_test)
        return {k: response.get(k) for k in ("team", "team_id", "user", "user_id", "bot_id", "url")}

    # -- internals ----------------------------------------------------------------------------
    def _call(self, method: str, channel: str | None, call: Any) -> Any:
        where = f"{method} to {channel}" if channel else method
        try:
            return call()
        except SlackApiError as exc:
            raise self._api_error(where, exc) from None
        except (SlackClientError, URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc.__class__.__name__
            raise SlackError(
                self._scrub(f"Slack {where} failed: could not reach Slack at {self.client.base_url} ({reason}); "
                            "the message will be retried."),
                error="connection", category="slack_unavailable", retryable=True) from None

    def _api_error(self, where: str, exc: SlackApiError) -> SlackError:
        response = exc.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        error = str(data.get("error") or (f"http_{status}" if status else "unknown_error"))
        if status == 429:
            headers = getattr(response, "headers", {}) or {}
            retry_after = headers.get("Retry-After") or headers.get("retry-after") or "?"
            message = (f"Slack {where} is still rate limited after {self.rate_limit_retries} retries "
                       f"(HTTP 429, Retry-After {retry_after}s); the message will be retried later.")
            return SlackError(self._scrub(message), error="ratelimited", status=status,
                              category="slack_rate_limited", retryable=True)
        if status is not None and status >= 500:
            return SlackError(self._scrub(f"Slack {where} failed with HTTP {status} ({error}); "
                                          "Slack is unavailable, the message will be retried."),
                              error=error, status=status, category="slack_unavailable", retryable=True)
        if error in _AUTH_ERRORS:
            return SlackError(self._scrub(f"Slack {where} failed: {error}; the bot token was refused, "
                                          "check the Slack credentials block."),
                              error=error, status=status, category="slack_auth", retryable=False)
        hint = _HINTS.get(error, "see https://api.slack.com/methods for this error")
        transient = error in _TRANSIENT_ERRORS
        category = "slack_unavailable" if transient else "slack_rejected"
        return SlackError(self._scrub(f"Slack {where} failed: {error} ({hint})."),
                          error=error, status=status, category=category, retryable=transient)

    def _scrub(self, text: str) -> str:
        token = self.client.token
        return text.replace(token, "***") if token else text
