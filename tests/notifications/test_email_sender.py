"""Reminder emails sent with smtplib to the sandbox SMTP sink (no mocks at the SMTP boundary)."""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal

import httpx
import pytest

from dealbooks.exceptions import NotificationError
from dealbooks.notifications.email import EmailDeliveryError, SmtpEmailSender, SmtpSettings, send_email
from dealbooks.notifications.reminders import ReminderData, build_reminder_message, mailbox, render_reminder
from dealbooks.sandbox.server import Sandbox

NAME = 'Zoë "Z" O\'Brien <script>alert(1)</script> 🎉 שלום'
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8


def reminder(step: int = 7, pdf: bytes | None = PDF) -> object:
    data = ReminderData(customer_name=NAME, invoice_number="1042", amount_due=Decimal("99.5"),
                        due_date=date(2025, 3, 5), days_overdue=step, company_name="Northwind",
                        pay_link="https://pay.example/1042")
    rendered = render_reminder(data, step, has_attachment=pdf is not None)
    return build_reminder_message(rendered, sender=mailbox("billing@northwind.example", "Northwind"),
                                  to=mailbox("ap@acme.example", NAME), invoice_number="1042", pdf=pdf)


def inbox(sb: Sandbox) -> list[dict]:
    return httpx.get(f"{sb.url}/mail/messages").json()["messages"]


def test_send_reminder_with_pdf_and_login(msb: Sandbox) -> None:
    message = reminder()
    sent = SmtpEmailSender(SmtpSettings.from_sandbox(msb.config["smtp"])).send(message)
    assert sent.recipients == ["ap@acme.example"] and sent.refused == {} and sent.message_id
    [mail] = inbox(msb)
    assert mail["authenticated_as"] == msb.config["smtp"]["username"]
    assert mail["envelope_to"] == ["ap@acme.example"] and mail["envelope_from"] == "billing@northwind.example"
    assert mail["subject"] == "Reminder: invoice 1042 is 7 days overdue"
    assert NAME in mail["text"] and "&lt;script&gt;" in mail["html"] and "<script>" not in mail["html"]
    assert mail["attachments"] == [{"filename": "Invoice-1042.pdf", "content_type": "application/pdf",
                                    "size": len(PDF)}]
    assert mail["message_id"] == sent.message_id


def test_send_without_login_and_without_pdf(msb: Sandbox) -> None:
    send_email(SmtpSettings.from_sandbox(msb.config["smtp"], login=False), reminder(1, pdf=None))
    [mail] = inbox(msb)
    assert mail["authenticated_as"] is None and mail["attachments"] == []
    assert mail["content_type"] == "multipart/alternative"


def test_wrong_password_is_clear_and_secret_free(msb: Sandbox) -> None:
    cfg = dict(msb.config["smtp"], password="hunter2-not-the-password")
    with pytest.raises(NotificationError) as caught:
        send_email(SmtpSettings.from_sandbox(cfg), reminder())
    exc = caught.value
    assert isinstance(exc, EmailDeliveryError)
    assert exc.category == "smtp_auth" and not exc.retryable and exc.smtp_code == 535
    assert "refused the login as dealbooks-sandbox" in str(exc)
    assert "hunter2" not in str(exc) and "hunter2" not in repr(SmtpSettings.from_sandbox(cfg))
    assert inbox(msb) == []


def test_451_is_a_retryable_notification_error(msb: Sandbox) -> None:
    httpx.post(f"{msb.url}/_sandbox/faults/smtp", json={"error_rate": 1.0})
    with pytest.raises(EmailDeliveryError) as caught:
        send_email(SmtpSettings.from_sandbox(msb.config["smtp"]), reminder())
    exc = caught.value
    assert exc.smtp_code == 451 and exc.retryable and exc.category == "smtp_unavailable"
    assert "451" in str(exc) and "temporary failure" in str(exc)
    assert msb.config["smtp"]["password"] not in str(exc)


def test_starttls_against_plain_server_is_a_configuration_error(msb: Sandbox) -> None:
    cfg = msb.config["smtp"]
    settings = SmtpSettings(host=cfg["host"], port=cfg["port"], security="starttls", timeout=5)
    with pytest.raises(EmailDeliveryError) as caught:
        SmtpEmailSender(settings).check()
    assert caught.value.category == "configuration" and not caught.value.retryable
    assert "STARTTLS" in str(caught.value) or "starttls" in str(caught.value)


def test_smtp_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = SmtpSettings(host="127.0.0.1", port=port, security="plain", username="u", password="s3cr3t-pw",
                            timeout=2)
    with pytest.raises(NotificationError) as caught:
        send_email(settings, reminder())
    exc = caught.value
    assert exc.category == "smtp_unavailable" and exc.retryable
    assert f"Could not reach SMTP server 127.0.0.1:{port}" in str(exc) and "refused" in str(exc).lower()
    assert "s3cr3t" not in str(exc)


def test_prefect_email_block_targets_the_plain_sink(msb: Sandbox) -> None:
    """prefect-email's EmailServerCredentials reaches a plain loopback port with smtp_type INSECURE."""
    from prefect_email import EmailServerCredentials

    cfg = msb.config["smtp"]
    block = EmailServerCredentials(username=cfg["username"], password=cfg["password"], smtp_server=cfg["host"],
                                   smtp_type="INSECURE", smtp_port=cfg["port"])
    with block.get_server() as server:
        server.send_message(reminder())
    assert len(inbox(msb)) == 1
    settings = SmtpSettings.from_prefect_email(block, timeout=5)
    assert (settings.host, settings.port, settings.security, settings.username) == (
        cfg["host"], cfg["port"], "plain", cfg["username"])
    SmtpEmailSender(settings).send(reminder())
    assert len(inbox(msb)) == 2
