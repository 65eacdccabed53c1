"""QBO transport: an unmodified ``quickbooks.QuickBooks`` over ``intuitlib.AuthClient``, made safe.

``QboTransport`` adds what python-quickbooks 0.9.12 leaves out (see ``qbo_auth``, ``qbo_errors``,
``ratelimit``): refresh on expiry and on 401 with rotated tokens saved first, classification of
every failure into a typed ``QboError``, a per-realm limiter that keeps under QBO's 500/min and
10-concurrent throttle, retries with backoff that honour ``Retry-After``, and deterministic
``requestid`` values so that a repeated create never makes a second object. Payloads are plain
QBO JSON dicts in and out; the facade with the entity operations is ``dealbooks.clients.qbo.QboClient``.

The sandbox is reached by URL only: ``environment`` is ``"sandbox"``, ``"production"`` or a
discovery-document URL (intuitlib uses any other value as that URL) and ``api_base`` replaces the
``.../v3`` base. ``OAUTHLIB_INSECURE_TRANSPORT`` is set only for a loopback ``http://`` URL.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import AuthorizationException, QuickbooksException
from requests.adapters import HTTPAdapter

from dealbooks.clients.qbo_auth import RealmLock, TokenManager, TokenStore
from dealbooks.clients.qbo_errors import classify
from dealbooks.clients.ratelimit import RateLimiter, get_limiter
from dealbooks.exceptions import ConfigurationError, QboAuthError, QboError, QboRetryableError

T = TypeVar("T")

MINOR_VERSION = 75
DEFAULT_REDIRECT_URI = "https://developer.intuit.com/v2/OAuth2Playground/RedirectUrl"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def marker_for(*parts: object) -> str:
    """A short stable marker (``dealbooks:<12 hex>``) to store in ``PrivateNote`` for lookups."""
    return "dealbooks:" + hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:12]


def quote(value: str) -> str:
    """A QBO query string literal: single quotes, inner quotes and backslashes escaped (O'Brien)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_loopback_http(url: str) -> bool:
    """True for ``http://127.0.0.1...``, ``http://localhost...`` and ``http://[::1]...``."""
    parsed = urlparse(url)
    return parsed.scheme == "http" and (parsed.hostname or "") in _LOOPBACK


@dataclass(frozen=True)
class QboConnection:
    """Where and as whom to connect; ``repr`` hides the client secret.

    Attributes:
        client_id: the Intuit app's client id.
        client_secret: the Intuit app's client secret.
        realm_id: the QBO company id.
        environment: ``"sandbox"``, ``"production"`` or a discovery-document URL.
        api_base: the Accounting API base ending in ``/v3`` (default: from ``environment``).
        redirect_uri: the app's OAuth redirect URI (unused by refreshes, required by intuitlib).
        minorversion: the QBO ``minorversion`` sent with every call (75 or more).
    """

    client_id: str
    client_secret: str = field(repr=False)
    realm_id: str
    environment: str = "production"
    api_base: str | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    minorversion: int = MINOR_VERSION


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry retryable failures.

    Attributes:
        max_attempts: attempts per call, including the first.
        base_delay: first backoff in seconds (doubles per attempt, with jitter).
        max_delay: cap for a backoff or a ``Retry-After``.
        timeout: per-request HTTP timeout in seconds (QBO itself gives up at 120 s).
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0
    timeout: float = 120.0


class _Transport(HTTPAdapter):
    """A requests adapter that applies a default timeout and remembers each thread's last response.

    python-quickbooks raises without the response, so the status and ``Retry-After`` are read here.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(pool_connections=4, pool_maxsize=32)
        self.timeout = timeout
        self.local = threading.local()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        self.local.response = None
        response = super().send(request, **kwargs)
        self.local.response = response
        return response

    def last_response(self) -> requests.Response | None:
        return getattr(self.local, "response", None)


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """The ``Retry-After`` header in seconds (delta or HTTP date), or ``None``."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class QboTransport:
    """One realm's authenticated, rate-limited, retrying access to the QBO Accounting API.

    Args:
        connection: app credentials, realm and URLs.
        store: where the refresh token lives (``FileTokenStore`` or ``BlockTokenStore``).
        retry: retry policy.
        limiter: per-realm limiter (default: shared, 480/min and 10 concurrent, under QBO's 500/10).
        batch_limiter: limiter for ``/batch`` (default: shared, 36/min, under QBO's 40/min).
        lock: cross-process refresh lock (default ``RealmLock(realm_id)``).
        block_name: the credentials block, named in error messages.
        sleep: sleep function (backoff).
    """

    def __init__(self, connection: QboConnection, store: TokenStore, *, retry: RetryPolicy | None = None,
                 limiter: RateLimiter | None = None, batch_limiter: RateLimiter | None = None,
                 lock: RealmLock | None = None, block_name: str = "",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.connection = connection
        self.realm_id = str(connection.realm_id)
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or get_limiter("qbo", self.realm_id, rate=480, per=60.0, concurrency=10)
        self.batch_limiter = batch_limiter or get_limiter("qbo-batch", self.realm_id, rate=36, per=60.0,
                                                          concurrency=10)
        self._sleep = sleep
        for url in (connection.environment, connection.api_base or ""):
            if is_loopback_http(url):
                os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        self.auth_client = self._auth_client(connection)
        self._transport = _Transport(self.retry.timeout)
        self.auth_client.mount("https://", self._transport)
        self.auth_client.mount("http://", self._transport)
        self.tokens = TokenManager(self.auth_client, store, self.realm_id, lock=lock, block_name=block_name)
        self.auth_client.access_token = self.tokens.access_token()
        self.qb = QuickBooks(auth_client=self.auth_client, company_id=self.realm_id,
                             minorversion=connection.minorversion)
        if connection.api_base:
            self.qb.api_url_v3 = self.qb.sandbox_api_url_v3 = connection.api_base.rstrip("/")
        self.qb.session.mount("https://", self._transport)
        self.qb.session.mount("http://", self._transport)
        self._session_token = ""

    @property
    def company_url(self) -> str:
        """``{api_base}/company/{realm}``."""
        return f"{self.qb.api_url}/company/{self.realm_id}"

    def _use_token(self, token: str) -> None:
        if token != self._session_token:
            self.qb.session.token = {"access_token": token, "token_type": "Bearer"}
            self._session_token = token

    def call(self, fn: Callable[[QuickBooks], T], *, idempotent: bool = True, batch: bool = False) -> T:
        """Run ``fn(qb)`` with a valid token, the realm's limiter, 401-refresh and retries.

        Args:
            fn: one python-quickbooks request, e.g. ``lambda qb: qb.query(sql)``.
            idempotent: whether repeating the request after an ambiguous failure (timeout, 5xx,
                dropped connection) is safe. Non-idempotent calls are retried only when QBO
                certainly did nothing (throttled, connection refused).
            batch: use the batch limiter as well.

        Returns:
            What ``fn`` returned.

        Raises:
            QboError: a typed subclass for every failure.
        """
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self.tokens.access_token()
            self._use_token(token)
            try:
                with self.limiter.slot():
                    if batch:
                        with self.batch_limiter.slot():
                            return fn(self.qb)
                    return fn(self.qb)
            except Exception as exc:  # noqa: BLE001 - every failure is classified below
                response = self._transport.last_response()
                error = self._classify(exc, response)
                connect_failed = isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError))
            if error.status == 401 or isinstance(error, QboAuthError) and error.code in ("3200", "100"):
                if not refreshed:
                    refreshed = True
                    self.tokens.refresh(stale=token)
                    continue
                raise QboAuthError("QuickBooks keeps rejecting freshly refreshed access tokens (401). Reconnect "
                                   "QuickBooks and update the credentials block.", code=error.code, status=401)
            if not isinstance(error, QboRetryableError) or attempt >= self.retry.max_attempts:
                raise error
            throttled = error.code == "3001" or error.status == 429
            if not idempotent and not (throttled or connect_failed):
                raise error
            delay = retry_after_seconds(response) if throttled else None
            if delay is None:
                delay = self.retry.base_delay * (2 ** (attempt - 1)) * (0.75 + random.random() / 2)
            delay = min(delay, self.retry.max_delay)
            if throttled:
                self.limiter.penalize(delay)
            self._sleep(delay)

    def _auth_client(self, connection: Any) -> AuthClient:
        """intuitlib's client, which reads the OAuth discovery document; a busy or unreachable
        service is retried, and every failure says what it was."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return AuthClient(connection.client_id, connection.client_secret, connection.redirect_uri,
                                  connection.environment)
            except AuthClientError as exc:
                status = exc.status_code
                if status == 429 or status >= 500:
                    message = (f"Intuit's OAuth discovery document answered HTTP {status} (the service is busy "
                               "or failing); dealbooks retried it. Try again in a minute.")
                    retryable = True
                else:
                    message = (f"Intuit's OAuth discovery document answered HTTP {status}: check the QuickBooks "
                               "environment (sandbox, production or a discovery URL) on the credentials block.")
                    retryable = False
            except requests.RequestException as exc:
                message = (f"Could not reach Intuit's OAuth discovery document ({type(exc).__name__}): check the "
                           "network and the QuickBooks environment on the credentials block.")
                retryable = True
            except ValueError:
                raise ConfigurationError("Intuit's OAuth discovery document is not valid JSON: check the QuickBooks "
                                         "environment (sandbox, production or a discovery URL).") from None
            if not retryable:
                raise ConfigurationError(message)
            if attempt == self.retry.max_attempts:
                raise QboRetryableError(message, code="discovery")
            self._sleep(min(self.retry.base_delay * 2 ** (attempt - 1), self.retry.max_delay))
        raise AssertionError("unreachable")

    def _classify(self, exc: Exception, response: requests.Response | None) -> QboError:
        status = response.status_code if response is not None else None
        known = (QuickbooksException, requests.RequestException, AuthClientError, QboError)
        if not isinstance(exc, known) and response is not None and status is not None and status >= 400:
            exc = QuickbooksException(f"Error returned with status code '{status}': {response.text}", 10000)
        if isinstance(exc, AuthorizationException):
            status = 401
        return classify(exc, status=status, secrets=self.tokens.secrets)

    def request(self, method: str, path: str, *, body: Mapping[str, Any] | str | None = None,
                params: Mapping[str, Any] | None = None, request_id: str | None = None,
                content_type: str = "application/json", idempotent: bool = True,
                batch: bool = False) -> dict[str, Any]:
        """One Accounting API request through ``QuickBooks.make_request``.

        Args:
            method: ``GET`` or ``POST``.
            path: below ``/company/{realm}/``, e.g. ``"invoice"`` or ``"invoice/130/send"``.
            body: a dict (sent as JSON) or text (queries).
            params: query parameters (``minorversion`` is added by python-quickbooks).
            request_id: QBO ``requestid`` for an idempotent create/update.
            content_type: request content type.
            idempotent: see ``call``; a ``request_id`` makes a POST idempotent.
            batch: count against the batch limit too.

        Returns:
            The decoded QBO JSON response.
        """
        data = json.dumps(body) if isinstance(body, Mapping) else body
        url = f"{self.company_url}/{path}"

        def run(qb: QuickBooks) -> dict[str, Any]:
            return qb.make_request(method, url, request_body=data, content_type=content_type,
                                   params=dict(params or {}), request_id=request_id)

        return self.call(run, idempotent=idempotent or bool(request_id), batch=batch)

    def download_pdf(self, entity: str, entity_id: str) -> bytes:
        """The PDF of a sales form (``QuickBooks.download_pdf``), retried like a read."""
        return self.call(lambda qb: qb.download_pdf(entity, entity_id))

    def revoke(self) -> None:
        """Revoke the stored refresh token at Intuit (disconnect the company)."""
        refresh_token = self.tokens.store.load().refresh_token
        try:
            self.auth_client.revoke(token=refresh_token)
        except (AuthClientError, requests.RequestException) as exc:
            raise classify(exc, secrets=self.tokens.secrets + (refresh_token,)) from None

    def __repr__(self) -> str:
        return f"QboTransport(realm_id={self.realm_id!r}, api={self.qb.api_url!r})"
