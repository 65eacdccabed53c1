"""Pure rendering of reminder emails and MIME assembly (no SMTP here)."""

from __future__ import annotations

import html as html_lib
from datetime import date
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from dealbooks.notifications.reminders import (
    DEFAULT_REMINDER_STEPS,
    ReminderData,
    attachment_filename,
    build_reminder_message,
    mailbox,
    render_reminder,
    template_for_step,
)

CORPUS = [
    'O\'Brien & "Sons" Ltd',
    "Zoë Ünal-Müller, S.à r.l.",
    "<script>alert('x')</script>",
    "Ünicode 🎉🚀 Inc.",
    "שלום עולם בע״מ",
    "شركة الاختبار",
    "{{ 7*7 }} {% raw %}",
    "Smith, John <john@evil.example>",
]


def data(**overrides: object) -> ReminderData:
    values: dict[str, object] = dict(
        customer_name="Acme Corp", invoice_number="1042", amount_due=Decimal("1250.5"),
        due_date=date(2025, 3, 5), days_overdue=7, company_name="Northwind Consulting",
        contact_name="Ana Silva", pay_link="https://pay.example/i/1042?x=1&y=2", invoice_total=Decimal("2000"),
        company_email="billing@northwind.example")
    values.update(overrides)
    return ReminderData(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("step", DEFAULT_REMINDER_STEPS)
def test_every_step_renders_all_variables(step: int) -> None:
    rendered = render_reminder(data(days_overdue=step), step)
    assert rendered.template == f"reminder_{step:02d}"
    assert "1042" in rendered.subject and "\n" not in rendered.subject
    for part in (rendered.text, rendered.html):
        for expected in ("Ana Silva", "1042", "$1,250.50", "$2,000.00", "March 5, 2025",
                         "Northwind Consulting", "billing@northwind.example", "attached as a PDF"):
            assert expected in part, (step, expected)
        assert ("1 day overdue" if step == 1 else f"{step} days overdue") in part
    assert "https://pay.example/i/1042?x=1&y=2" in rendered.text
    assert 'href="https://pay.example/i/1042?x=1&amp;y=2"' in rendered.html


def test_steps_escalate_from_friendly_to_final() -> None:
    subjects = [render_reminder(data(days_overdue=s), s).subject for s in DEFAULT_REMINDER_STEPS]
    assert subjects[0].startswith("Friendly reminder")
    assert subjects[-1].startswith("Final notice")
    assert len(set(subjects)) == 4
    assert render_reminder(data(), 1).text.startswith("Hi Ana Silva,")
    assert render_reminder(data(), 30).text.startswith("Dear Ana Silva,")
    assert "final notice" in render_reminder(data(), 30).html.lower()


def test_custom_cadence_maps_to_templates() -> None:
    assert [template_for_step(s) for s in (0, 1, 3, 7, 10, 14, 29, 30, 90)] == [1, 1, 1, 7, 7, 14, 14, 30, 30]
    assert render_reminder(data(days_overdue=45), 45).template == "reminder_30"


def test_missing_or_unsafe_pay_link_is_left_out() -> None:
    for link in (None, "", "javascript:alert(1)"):
        rendered = render_reminder(data(pay_link=link), 7)
        assert "Pay online" not in rendered.text
        assert "<a href=\"http" not in rendered.html and "javascript" not in rendered.html


def test_no_attachment_sentence_without_pdf_and_greeting_fallback() -> None:
    rendered = render_reminder(data(contact_name=None, invoice_total=None), 7, has_attachment=False)
    assert "attached" not in rendered.text and "attached" not in rendered.html
    assert rendered.text.startswith("Hi Acme Corp,")
    assert "Invoice total" not in rendered.html


@pytest.mark.parametrize("name", CORPUS)
@pytest.mark.parametrize("step", DEFAULT_REMINDER_STEPS)
def test_names_render_safely(name: str, step: int) -> None:
    rendered = render_reminder(data(customer_name=name, contact_name=name, company_name=name), step)
    assert name in rendered.text  # plain text keeps the name intact
    escaped = html_lib.escape(name, quote=True).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    assert escaped in rendered.html
    assert "<script>" not in rendered.html
    assert "49" not in rendered.html.replace("2025", "")  # no template evaluation of user input
    if any(ch in name for ch in "<>&\""):
        assert name not in rendered.html


def test_message_structure_and_headers() -> None:
    name = 'Zoë "Z" O\'Brien <script> 🎉 שלום'
    rendered = render_reminder(data(customer_name=name, contact_name=name), 14)
    message = build_reminder_message(
        rendered, sender=mailbox("billing@northwind.example", "Northwind Consulting Ünïcode"),
        to=[mailbox("ap@acme.example", name), "finance@acme.example"], cc=["cfo@acme.example"],
        reply_to="ar@northwind.example", invoice_number="INV/10 42", pdf=b"%PDF-1.4 test")
    raw = message.as_bytes(policy=policy.SMTP)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()  # RFC 2047 encoded words, no raw 8-bit in headers
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == rendered.subject
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].addr_spec == "ap@acme.example"
    assert parsed["From"].addresses[0].display_name == "Northwind Consulting Ünïcode"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["Message-ID"]
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, pdf = parsed.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert name in alternative.get_payload()[0].get_content()
    assert pdf.get_filename() == "Invoice-INV_10_42.pdf" and pdf.get_content() == b"%PDF-1.4 test"


def test_header_injection_and_bad_addresses() -> None:
    rendered = render_reminder(data(invoice_number="1042\r\nBcc: victim@example.com"), 7)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    message = build_reminder_message(rendered, sender="a@b.example", to="c@d.example", invoice_number="1")
    assert message["Bcc"] is None
    for bad in ("two@x.example, three@y.example", "Name <x@y.example>", ""):
        with pytest.raises(ValueError):
            mailbox(bad)
    with pytest.raises(ValueError):
        build_reminder_message(rendered, sender="a@b.example", to=[], invoice_number="1")


def test_attachment_filename() -> None:
    assert attachment_filename("1042") == "Invoice-1042.pdf"
    assert attachment_filename("../../etc/passwd") == "Invoice-etc_passwd.pdf"
    assert attachment_filename("ü") == "Invoice-invoice.pdf"


def test_templates_dir_overrides(tmp_path: Path) -> None:
    (tmp_path / "reminder_07.subject.txt").write_text("Custom {{ invoice_number }} for {{ customer_name }}")
    rendered = render_reminder(data(customer_name="A & B"), 7, templates_dir=tmp_path)
    assert rendered.subject == "Custom 1042 for A & B"
    assert "Our records show" in rendered.text  # other files still come from the package
