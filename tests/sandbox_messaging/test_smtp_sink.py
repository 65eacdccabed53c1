"""The SMTP sink through the stdlib smtplib client."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient

from dealbooks.sandbox.server import Sandbox


def mail(subject: str = "Invoice 1001", to: str = "ap@customer.example") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address("Acme Billing", "billing@acme.example")
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Plain text body\n")
    msg.add_alternative("<p>HTML body</p>\n", subtype="html")
    msg.add_attachment(b"%PDF-1.4\n" + b"x" * 1000, maintype="application", subtype="pdf",
                       filename="Invoice-1001.pdf")
    return msg


def messages(sb: Sandbox, **params: str) -> list[dict]:
    return httpx.get(f"{sb.url}/mail/messages", params=params).json()["messages"]


def test_capture_with_attachment_and_unicode_subject(msb: Sandbox) -> None:
    cfg = msb.config["smtp"]
    with smtplib.SMTP(cfg["host"], cfg["port"], timeout=5) as smtp:
        smtp.send_message(mail("Rappel : facture n° 1001 🎉"))
    [captured] = messages(msb)
    assert captured["subject"] == "Rappel : facture n° 1001 🎉"
    assert captured["envelope_from"] == "billing@acme.example"
    assert captured["envelope_to"] == ["ap@customer.example"] == captured["to"]
    assert captured["text"] == "Plain text body\n"
    assert captured["html"] == "<p>HTML body</p>\n"
    assert captured["attachments"] == [{"filename": "Invoice-1001.pdf", "content_type": "application/pdf",
                                        "size": 1009}]
    assert captured["raw_size"] > 1009 and captured["received_at"]
    assert captured["authenticated_as"] is None
    assert "raw" not in captured
    full = httpx.get(f"{msb.url}/mail/messages/{captured['id']}").json()
    raw_subject = next(line for line in full["raw"].splitlines() if line.startswith("Subject:"))
    assert raw_subject.isascii() and "=?utf-8?" in raw_subject
    assert BytesParser(policy=policy.default).parsebytes(full["raw"].encode())["Subject"] == captured["subject"]


def test_auth_accepts_seeded_credentials_only(msb: Sandbox) -> None:
    cfg = msb.config["smtp"]
    with smtplib.SMTP(cfg["host"], cfg["port"], timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            smtp.login(cfg["username"], "wrong-password")
        assert caught.value.smtp_code == 535
    with smtplib.SMTP(cfg["host"], cfg["port"], timeout=5) as smtp:
        smtp.login(cfg["username"], cfg["password"])
        smtp.send_message(mail())
    assert messages(msb)[0]["authenticated_as"] == cfg["username"]
    stats = httpx.get(f"{msb.url}/_sandbox/smtp/stats").json()
    assert stats["auth_ok"] == 1 and stats["auth_failed"] >= 1 and stats["listening"] is True


def test_451_fault_then_recovery(msb: Sandbox) -> None:
    cfg = msb.config["smtp"]
    httpx.post(f"{msb.url}/_sandbox/faults/smtp", json={"error_rate": 1.0})
    with smtplib.SMTP(cfg["host"], cfg["port"], timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            smtp.send_message(mail())
    assert caught.value.smtp_code == 451
    assert messages(msb) == []  # the inspection side is not affected by the SMTP fault
    httpx.post(f"{msb.url}/_sandbox/faults/smtp", json={"error_rate": 0.0, "throttle_next": 1})
    with smtplib.SMTP(cfg["host"], cfg["port"], timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPDataError):
            smtp.send_message(mail())
        smtp.send_message(mail())
    assert len(messages(msb)) == 1


def test_filter_and_delete(msb: Sandbox) -> None:
    cfg = msb.config["smtp"]
    with smtplib.SMTP(cfg["host"], cfg["port"], timeout=5) as smtp:
        smtp.send_message(mail(to="a@one.example"))
        smtp.send_message(mail(to="b@two.example"))
    assert [m["to"] for m in messages(msb, to="B@two.example")] == [["b@two.example"]]
    assert httpx.delete(f"{msb.url}/mail/messages").json() == {"deleted": 2}
    assert httpx.get(f"{msb.url}/_sandbox/smtp/messages").json()["count"] == 0


def test_state_persists_across_restart(tmp_path: Path, make_msb: Callable[..., Sandbox]) -> None:
    state_file = tmp_path / "sandbox.json"
    with make_msb(state_file=state_file) as first:
        cfg = first.config
        with smtplib.SMTP(cfg["smtp"]["host"], cfg["smtp"]["port"], timeout=5) as smtp:
            smtp.send_message(mail())
        client = WebClient(cfg["slack"]["token"], base_url=cfg["slack"]["base_url"])
        client.chat_postMessage(channel="#revenue", text="kept")
    with make_msb(state_file=state_file) as second:
        assert second.config["slack"]["token"] == cfg["slack"]["token"]
        assert second.config["smtp"]["password"] == cfg["smtp"]["password"]
        assert len(messages(second)) == 1
        kept = httpx.get(f"{second.url}/_sandbox/slack/messages").json()["messages"]
        assert [m["text"] for m in kept] == ["kept"]
