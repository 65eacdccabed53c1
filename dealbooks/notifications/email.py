"""Sending email over SMTP with ``smtplib``; every failure becomes a ``NotificationError``.

``SmtpSettings.security`` picks the transport: ``"starttls"`` (port 587 by default), ``"ssl"``
(implicit TLS, 465) or ``"plain"`` (no TLS, 25; loopback relays and the sandbox sink). Login
happens only when a username is given. Error messages name the server, the username and SMTP's
reply — never the password.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import SecretStr

from dealbooks.exceptions import NotificationError

Security = Literal["starttls", "ssl", "plain"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "plain": 25}


class EmailDeliveryError(NotificationError):
    """The SMTP server could not be reached or refused the message.

    Attributes:
        smtp_code: The SMTP reply code, when the server answered (e.g. 451, 535, 550).
    """

    def __init__(self, message: str, *, category: str, retryable: bool, smtp_code: int | None = None) -> None:
        super().__init__(message, category=category, retryable=retryable)
        self.smtp_code = smtp_code


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server.

    Attributes:
        host: Server host name.
        port: Server port; the security mode's default port when ``None``.
        security: ``"starttls"``, ``"ssl"`` or ``"plain"``.
        username: Login name; no ``AUTH`` when ``None``.
        password: Login password (kept as ``SecretStr``; a ``str`` is wrapped).
        timeout: Seconds for connecting and for each SMTP command.
        verify_tls: Verify the server certificate (STARTTLS and SSL).
        local_hostname: Name sent in ``EHLO`` (the machine's FQDN when ``None``).
    """

    host: str
    port: int | None = None
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    timeout: float = 30.0
    verify_tls: bool = True
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.security not in DEFAULT_PORTS:
            raise ValueError(f"security must be one of {sorted(DEFAULT_PORTS)}, not {self.security!r}")
        if isinstance(self.password, str):
            object.__setattr__(self, "password", SecretStr(self.password))

    @property
    def effective_port(self) -> int:
        """The port actually used."""
        return self.port or DEFAULT_PORTS[self.security]

    @classmethod
    def from_sandbox(cls, config: dict[str, Any], *, login: bool = True) -> SmtpSettings:
        """Settings for the sandbox sink from its ``config["smtp"]`` document (plain, loopback)."""
        return cls(host=config["host"], port=int(config["port"]), security="plain",
                   username=config.get("username") if login else None,
                   password=config.get("password") if login else None, timeout=10.0)

    @classmethod
    def from_prefect_email(cls, block: Any, *, timeout: float = 30.0) -> SmtpSettings:
        """Settings from a ``prefect_email.EmailServerCredentials`` block.

        ``smtp_type`` maps SSL → ``"ssl"``, STARTTLS → ``"starttls"``, INSECURE → ``"plain"``;
        ``smtp_server`` may be a built-in provider (``SMTPServer.GMAIL``) or a host name.
        """
        server = block.smtp_server
        host = str(getattr(server, "value", server))
        kind = getattr(block.smtp_type, "name", str(block.smtp_type)).upper()
        security: Security = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "plain"}[kind]
        password = block.password.get_secret_value() if block.password is not None else ""
        return cls(host=host, port=block.smtp_port, security=security, username=block.username,
                   password=password or None, timeout=timeout, verify_tls=bool(block.verify))


@dataclass(frozen=True)
class SentEmail:
    """Outcome of a send: the Message-ID and the recipients the server refused (others got it)."""

    message_id: str | None
    recipients: list[str]
    refused: dict[str, tuple[int, str]]


class SmtpEmailSender:
    """Sends ``EmailMessage``s through one SMTP server, one connection per ``send``."""

    def __init__(self, settings: SmtpSettings) -> None:
        """Keep the settings; nothing connects until ``send`` or ``check``.

        Args:
            settings: Server, security mode and optional credentials.
        """
        self.settings = settings

    @property
    def server(self) -> str:
        """``host:port`` for messages."""
        return f"{self.settings.host}:{self.settings.effective_port}"

    def send(self, message: EmailMessage) -> SentEmail:
        """Send one message to every ``To``/``Cc``/``Bcc`` recipient.

        Args:
            message: The message (e.g. from ``build_reminder_message``).

        Returns:
            The Message-ID, the recipients and any refused recipients (when some were accepted).

        Raises:
            EmailDeliveryError: Connection, TLS, login or delivery failed; ``retryable`` is True for
                temporary (4xx, network) failures.
        """
        recipients = [a.addr_spec for h in ("To", "Cc", "Bcc") for a in getattr(message.get(h), "addresses", ())]
        with self._session() as smtp:
            try:
                refused = smtp.send_message(message)
            except smtplib.SMTPException as exc:
                raise self._translate(exc, "delivering the message") from None
        return SentEmail(message_id=message.get("Message-ID"), recipients=recipients,
                         refused={k: (v[0], v[1].decode(errors="replace") if isinstance(v[1], bytes) else str(v[1]))
                                  for k, v in refused.items()})

    def check(self) -> None:
        """Connect, negotiate TLS and log in, then quit: a health check for settings and credentials.

        Raises:
            EmailDeliveryError: As for ``send``.
        """
        with self._session() as smtp:
            smtp.noop()

    # -- internals ----------------------------------------------------------------------------
    def _session(self) -> smtplib.SMTP:
        s = self.settings
        port = s.effective_port
        context = ssl.create_default_context() if s.verify_tls else ssl._create_unverified_context()  # noqa: S323
        smtp: smtplib.SMTP | None = None
        step = "connecting"
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, port, local_hostname=s.local_hostname, timeout=s.timeout,
                                        context=context)
            else:
                smtp = smtplib.SMTP(s.host, port, local_hostname=s.local_hostname, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                step = "starting TLS"
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                step = f"logging in as {s.username}"
                smtp.login(s.username, s.password.get_secret_value() if s.password else "")
            return smtp
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            if smtp is not None:
                _close_quietly(smtp)
            raise self._translate(exc, step) from None

    def _translate(self, exc: BaseException, step: str) -> EmailDeliveryError:
        where = f"SMTP server {self.server}"
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return self._error(f"{where} does not support what {step} needs ({exc}); check the security mode "
                               "(starttls/ssl/plain) and whether it offers AUTH.", "configuration", False)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return self._error(f"{where} refused the login as {self.settings.username} ({_reply(exc)}); "
                               "check the SMTP credentials block.", "smtp_auth", False, exc.smtp_code)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            detail = "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
            codes = [code for code, _ in exc.recipients.values()]
            temporary = all(400 <= code < 500 for code in codes)
            return self._error(f"{where} refused every recipient ({detail}).",
                               "smtp_unavailable" if temporary else "smtp_recipient", temporary,
                               codes[0] if codes else None)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return self._error(f"{where} closed the connection while {step} ({exc}); will retry.",
                               "smtp_unavailable", True)
        if isinstance(exc, smtplib.SMTPResponseException):
            temporary = 400 <= exc.smtp_code < 500
            verdict = "temporary failure, will retry" if temporary else "rejected"
            return self._error(f"{where} answered {_reply(exc)} while {step} ({verdict}).",
                               "smtp_unavailable" if temporary else "smtp_rejected", temporary, exc.smtp_code)
        if isinstance(exc, ssl.SSLError):
            return self._error(f"TLS with {where} failed while {step} ({exc.reason or exc}); check the security "
                               "mode and the server certificate.", "configuration", False)
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return self._error(f"{where} timed out while {step} after {self.settings.timeout:g}s; will retry.",
                               "smtp_unavailable", True)
        if isinstance(exc, OSError):
            reason = exc.strerror or exc.__class__.__name__
            return self._error(f"Could not reach {where} while {step} ({reason}); check the host and port, "
                               "or try again later.", "smtp_unavailable", True)
        return self._error(f"{where} failed while {step} ({exc.__class__.__name__}: {exc}).", "smtp_error", True)

    def _error(self, message: str, category: str, retryable: bool, code: int | None = None) -> EmailDeliveryError:
        password = self.settings.password.get_secret_value() if self.settings.password else ""
        if password:
            message = message.replace(password, "***")
        return EmailDeliveryError(message, category=category, retryable=retryable, smtp_code=code)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}".strip()


def _close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass


def send_email(settings: SmtpSettings, message: EmailMessage) -> SentEmail:
    """Send one message with ``settings`` (see ``SmtpEmailSender.send``)."""
    return SmtpEmailSender(settings).send(message)
