"""Slack messages as data: Block Kit blocks plus fallback text (pure rendering, no I/O).

Everything user-supplied is escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so a customer named
``<!channel>`` or ``<script>`` can neither ping a channel nor forge a link. Links are only made from
http(s) URLs. Block Kit limits are respected (header 150 chars, section text 3000, field 2000,
button label 75, 50 blocks per message).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from dealbooks.notifications.money import (
    Amount,
    format_date,
    format_money,
    format_total,
    one_line,
    plural,
    safe_url,
    to_decimal,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_BUTTON = 75


@dataclass(frozen=True)
class SlackMessage:
    """A rendered message: ``text`` is the notification/screen-reader fallback for ``blocks``."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``WebClient.chat_postMessage`` (besides ``channel``)."""
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True)
class PaymentAlert:
    """One payment received against one invoice.

    Attributes:
        customer_name: The QBO customer (usually the CRM organisation).
        invoice_number: QBO ``DocNumber``.
        amount: This payment's amount applied to the invoice.
        balance: The invoice's open balance after this payment (0 when paid in full).
        currency: ISO code of the invoice.
        invoice_total: The invoice total, shown when given.
        paid_on: The payment date.
        deal_name: The CRM deal's title.
        deal_url: Link to the deal in the CRM.
        invoice_url: Link to the invoice (QBO app or customer view).
        owner_name: The deal owner, shown when given.
        crm_name: ``"Pipedrive"`` or ``"HubSpot"`` (names the deal link).
        payment_reference: QBO payment id or reference number.
    """

    customer_name: str
    invoice_number: str
    amount: Amount
    balance: Amount
    currency: str = "USD"
    invoice_total: Amount | None = None
    paid_on: date | None = None
    deal_name: str | None = None
    deal_url: str | None = None
    invoice_url: str | None = None
    owner_name: str | None = None
    crm_name: str | None = None
    payment_reference: str | None = None

    @property
    def paid_in_full(self) -> bool:
        """True when nothing remains open on the invoice."""
        return to_decimal(self.balance) <= 0


@dataclass(frozen=True)
class OverdueInvoice:
    """One overdue invoice for the overdue summary."""

    customer_name: str
    invoice_number: str
    balance: Amount
    days_overdue: int
    currency: str = "USD"
    owner_name: str | None = None
    invoice_url: str | None = None


def escape_mrkdwn(value: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """A mrkdwn link ``<url|label>`` for an http(s) URL, else the escaped label alone."""
    target = safe_url(url)
    text = escape_mrkdwn(label)
    return f"<{target}|{text}>" if target else text


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _truncate(text, limit)}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _truncate(text, limit), "emoji": True}


def render_payment_alert(alert: PaymentAlert) -> SlackMessage:
    """Render the Slack message for one payment.

    Args:
        alert: The payment, its invoice and the deal it belongs to.

    Returns:
        Block Kit blocks (header, fields, context, link buttons) and a one-line fallback text.
    """
    currency = alert.currency
    amount = format_money(alert.amount, currency)
    balance = format_money(max(to_decimal(alert.balance), Decimal(0)), currency)
    customer = one_line(alert.customer_name)
    number = one_line(alert.invoice_number, 40)
    status = "Paid in full" if alert.paid_in_full else "Partially paid"
    header = (f"Payment received: {amount} — invoice {number} paid in full" if alert.paid_in_full
              else f"Partial payment received: {amount} on invoice {number}")
    fallback = (f"{header}. Customer: {customer}."
                + ("" if alert.paid_in_full else f" Remaining balance: {balance}."))
    fields = [
        f"*Customer*\n{escape_mrkdwn(customer)}",
        f"*Invoice*\n{link(alert.invoice_url, number)}",
        f"*Amount received*\n{amount}",
        f"*Status*\n{status}",
        f"*Remaining balance*\n{balance}",
    ]
    if alert.invoice_total is not None:
        fields.append(f"*Invoice total*\n{format_money(alert.invoice_total, currency)}")
    if alert.deal_name or alert.deal_url:
        crm = f" ({escape_mrkdwn(one_line(alert.crm_name, 40))})" if alert.crm_name else ""
        fields.append(f"*Deal*{crm}\n{link(alert.deal_url, one_line(alert.deal_name or 'Open deal'))}")
    if alert.owner_name:
        fields.append(f"*Owner*\n{escape_mrkdwn(one_line(alert.owner_name))}")
    emoji = ":white_check_mark:" if alert.paid_in_full else ":hourglass_flowing_sand:"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"💰 {header}", MAX_HEADER)},
        {"type": "section", "fields": [_mrkdwn(text, MAX_FIELD) for text in fields[:10]]},
    ]
    context = [f"{emoji} {status}"]
    if alert.paid_on:
        context.append(f"received {format_date(alert.paid_on)}")
    if alert.payment_reference:
        context.append(f"payment {escape_mrkdwn(one_line(alert.payment_reference, 60))}")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context))]})
    buttons = []
    for action_id, url, label in (("open_invoice", alert.invoice_url, f"Open invoice {number}"),
                                  ("open_deal", alert.deal_url, "Open deal")):
        target = safe_url(url)
        if target:
            buttons.append({"type": "button", "action_id": action_id, "url": target,
                            "text": _plain(label, MAX_BUTTON)})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return SlackMessage(text=escape_mrkdwn(fallback), blocks=blocks)


@dataclass
class _OwnerGroup:
    name: str
    invoices: list[OverdueInvoice] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def render_overdue_summary(invoices: list[OverdueInvoice], *, as_of: date, listed_per_owner: int = 5,
                           max_owners: int = 40) -> SlackMessage:
    """Render the overdue summary: count and total overdue per owner, worst invoices listed.

    Args:
        invoices: The overdue invoices (any order; several currencies are totalled separately).
        as_of: The day the summary describes.
        listed_per_owner: How many invoices to list under each owner (most overdue first).
        max_owners: Owners shown individually; the rest are summarised in one line.

    Returns:
        The message; a short "nothing overdue" message when ``invoices`` is empty.
    """
    day = format_date(as_of)
    if not invoices:
        text = f"No overdue invoices as of {day}."
        return SlackMessage(text=text, blocks=[{"type": "section", "text": _mrkdwn(f":tada: {text}")}])
    groups: dict[str, _OwnerGroup] = {}
    grand: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        owner = one_line(invoice.owner_name or "") or "Unassigned"
        group = groups.setdefault(owner, _OwnerGroup(owner))
        group.invoices.append(invoice)
        code = (invoice.currency or "USD").upper()
        group.totals[code] += to_decimal(invoice.balance)
        grand[code] += to_decimal(invoice.balance)
    ordered = sorted(groups.values(), key=lambda g: (-len(g.invoices), g.name.lower()))
    max_owners = max(1, min(max_owners, MAX_BLOCKS - 5))
    summary = (f"{plural(len(invoices), 'overdue invoice')} totalling {format_total(grand)} "
               f"across {plural(len(groups), 'owner')}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"Overdue invoices — {day}", MAX_HEADER)},
        {"type": "section", "text": _mrkdwn(f"*{escape_mrkdwn(summary)}*")},
        {"type": "divider"},
    ]
    for group in ordered[:max_owners]:
        worst = sorted(group.invoices, key=lambda i: (-i.days_overdue, i.invoice_number))
        lines = [f"*{escape_mrkdwn(group.name)}* — {plural(len(group.invoices), 'invoice')}, "
                 f"{format_total(dict(group.totals))} overdue"]
        for invoice in worst[:listed_per_owner]:
            lines.append(f"• {link(invoice.invoice_url, one_line(invoice.invoice_number, 40))} "
                         f"{escape_mrkdwn(one_line(invoice.customer_name, 80))} — "
                         f"{format_money(invoice.balance, invoice.currency)}, "
                         f"{plural(invoice.days_overdue, 'day')} overdue")
        if len(worst) > listed_per_owner:
            lines.append(f"…and {len(worst) - listed_per_owner} more")
        blocks.append({"type": "section", "text": _mrkdwn(_lines_within(lines, MAX_SECTION))})
    hidden = ordered[max_owners:]
    if hidden:
        count = sum(len(g.invoices) for g in hidden)
        blocks.append({"type": "context", "elements": [_mrkdwn(
            f"…and {plural(len(hidden), 'more owner')} with {plural(count, 'overdue invoice')}")]})
    return SlackMessage(text=escape_mrkdwn(f"{summary} as of {day}."), blocks=blocks)


def _lines_within(lines: list[str], limit: int) -> str:
    """Join lines, dropping whole trailing lines (never cutting a link in half) to fit ``limit``."""
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if size + len(line) + 1 > limit - 20:
            kept.append(f"…and {len(lines) - index} more")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)
