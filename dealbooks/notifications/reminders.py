"""Overdue reminder emails: jinja2 rendering and MIME assembly (pure, no I/O besides templates).

One template set per reminder step in ``templates/``: ``reminder_NN.subject.txt``,
``reminder_NN.txt`` and ``reminder_NN.html`` for NN in 01 (friendly), 07, 14 and 30 (final).
``.html`` templates are autoescaped; ``.txt`` ones are not (plain text keeps names intact). A
custom cadence uses the template of the largest default step not above it (3 → 01, 10 → 07,
45 → 30); a ``templates_dir`` can override any of these files.

Variables available to every template: ``customer_name``, ``recipient_name``, ``greeting``,
``invoice_number``, ``amount_due`` (formatted with currency), ``invoice_total``, ``due_date``
(formatted), ``days_overdue``, ``days_overdue_text`` (``"1 day"``/``"7 days"``), ``pay_link``
(``None`` when absent or not http(s)), ``company_name``, ``company_email``, ``step``, ``tone``,
``has_attachment`` and (in the bodies) ``subject``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dealbooks.notifications.money import Amount, format_date, format_money, one_line, plural, safe_url

DEFAULT_REMINDER_STEPS: tuple[int, ...] = (1, 7, 14, 30)
TEMPLATE_STEPS: dict[int, str] = {1: "friendly", 7: "reminder", 14: "firm", 30: "final"}
TEMPLATES_DIR = Path(__file__).parent / "templates"

Recipient = str | Address


@dataclass(frozen=True)
class ReminderData:
    """What a reminder says about one overdue invoice.

    Attributes:
        customer_name: The customer (company) the invoice is billed to.
        invoice_number: QBO ``DocNumber``.
        amount_due: Open balance.
        due_date: The invoice's due date.
        days_overdue: Days past the due date (business-day rules are applied by the caller).
        company_name: The sender (our company).
        currency: ISO code of the invoice.
        contact_name: The person addressed; the customer name is used when absent.
        pay_link: QBO ``InvoiceLink``; the pay button/line is left out when absent.
        invoice_total: The invoice total, mentioned when it differs from the amount due.
        company_email: Where the customer can answer; mentioned in the footer when given.
        greeting: Overrides the step's default greeting ("Hi Ana," / "Dear Ana,").
    """

    customer_name: str
    invoice_number: str
    amount_due: Amount
    due_date: date
    days_overdue: int
    company_name: str
    currency: str = "USD"
    contact_name: str | None = None
    pay_link: str | None = None
    invoice_total: Amount | None = None
    company_email: str | None = None
    greeting: str | None = None


@dataclass(frozen=True)
class RenderedReminder:
    """A rendered reminder: subject, plain-text and HTML bodies."""

    step: int
    template: str
    subject: str
    text: str
    html: str


def template_for_step(step: int) -> int:
    """The default template step used for a cadence step (largest default step ≤ ``step``)."""
    eligible = [days for days in TEMPLATE_STEPS if days <= step]
    return max(eligible) if eligible else min(TEMPLATE_STEPS)


@lru_cache(maxsize=16)
def _environment(templates_dir: str | None) -> Environment:
    loaders = [FileSystemLoader(templates_dir)] if templates_dir else []
    loaders.append(FileSystemLoader(str(TEMPLATES_DIR)))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html", "htm"), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_reminder(data: ReminderData, step: int, *, templates_dir: Path | str | None = None,
                    has_attachment: bool = True) -> RenderedReminder:
    """Render the subject, text and HTML parts of the reminder for ``step`` days overdue.

    Args:
        data: The invoice and the people involved.
        step: The cadence step (days overdue it is scheduled at), e.g. 1, 7, 14 or 30.
        templates_dir: Optional directory whose files override the packaged templates.
        has_attachment: Whether the invoice PDF will be attached (the text says so).

    Returns:
        The rendered reminder.
    """
    template_step = template_for_step(step)
    name = f"reminder_{template_step:02d}"
    tone = TEMPLATE_STEPS[template_step]
    recipient = one_line(data.contact_name or data.customer_name)
    salutation = "Hi" if tone in ("friendly", "reminder") else "Dear"
    currency = data.currency
    total = data.invoice_total
    show_total = total is not None and format_money(total, currency) != format_money(data.amount_due, currency)
    variables = {
        "step": step,
        "tone": tone,
        "customer_name": one_line(data.customer_name),
        "recipient_name": recipient,
        "greeting": one_line(data.greeting) if data.greeting else f"{salutation} {recipient},",
        "invoice_number": one_line(data.invoice_number, 60),
        "amount_due": format_money(data.amount_due, currency),
        "invoice_total": format_money(total, currency) if show_total and total is not None else None,
        "due_date": format_date(data.due_date),
        "days_overdue": data.days_overdue,
        "days_overdue_text": plural(data.days_overdue, "day"),
        "pay_link": safe_url(data.pay_link),
        "company_name": one_line(data.company_name),
        "company_email": one_line(data.company_email) if data.company_email else None,
        "has_attachment": has_attachment,
    }
    env = _environment(str(templates_dir) if templates_dir else None)
    subject = one_line(env.get_template(f"{name}.subject.txt").render(variables), 250)
    variables["subject"] = subject
    text = env.get_template(f"{name}.txt").render(variables)
    html = env.get_template(f"{name}.html").render(variables)
    return RenderedReminder(step=step, template=name, subject=subject, text=text, html=html)


def attachment_filename(invoice_number: str) -> str:
    """``Invoice-<number>.pdf`` with anything but letters, digits, ``.``, ``_``, ``-`` replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", invoice_number).strip("._") or "invoice"
    return f"Invoice-{safe[:60]}.pdf"


def mailbox(email: str, name: str | None = None) -> Address:
    """An address with an optional display name (quotes, accents, emoji are encoded correctly).

    Raises:
        ValueError: If ``email`` is not a single plain address.
    """
    address = one_line(email, 320)
    if not address or any(ch in address for ch in ' <>,;"'):
        raise ValueError(f"not a single email address: {email!r}")
    return Address(display_name=one_line(name or "", 120), addr_spec=address)


def _as_address(value: Recipient) -> Address:
    return value if isinstance(value, Address) else mailbox(value)


def build_reminder_message(
    rendered: RenderedReminder,
    *,
    sender: Recipient,
    to: Recipient | Sequence[Recipient],
    invoice_number: str,
    pdf: bytes | None = None,
    cc: Sequence[Recipient] = (),
    reply_to: Recipient | None = None,
    when: object | None = None,
) -> EmailMessage:
    """Assemble the MIME message: multipart/alternative (text, HTML) plus the invoice PDF.

    Args:
        rendered: The rendered reminder.
        sender: From address (``mailbox(...)`` for a display name).
        to: One or more recipients.
        invoice_number: Names the attachment ``Invoice-<number>.pdf``.
        pdf: The invoice PDF; no attachment when ``None``.
        cc: Copy recipients.
        reply_to: Where replies go, when not to ``sender``.
        when: A ``datetime`` for the ``Date`` header (now when ``None``).

    Returns:
        An ``EmailMessage`` ready for ``smtplib.SMTP.send_message``.
    """
    from datetime import datetime, timezone  # noqa: PLC0415 - keeps the module's pure imports small

    recipients = [to] if isinstance(to, (str, Address)) else list(to)
    if not recipients:
        raise ValueError("a reminder needs at least one recipient")
    from_address = _as_address(sender)
    msg = EmailMessage()
    msg["Subject"] = one_line(rendered.subject, 250)
    msg["From"] = from_address
    msg["To"] = [_as_address(r) for r in recipients]
    if cc:
        msg["Cc"] = [_as_address(r) for r in cc]
    if reply_to is not None:
        msg["Reply-To"] = _as_address(reply_to)
    stamp = when if isinstance(when, datetime) else datetime.now(timezone.utc)
    msg["Date"] = format_datetime(stamp)
    msg["Message-ID"] = make_msgid("reminder", domain=from_address.domain or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Dealbooks-Reminder-Step"] = str(rendered.step)
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=attachment_filename(invoice_number))
    return msg
