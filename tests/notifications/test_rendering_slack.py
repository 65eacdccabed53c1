"""Pure rendering: money formatting and Slack Block Kit messages."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from dealbooks.notifications.money import format_money, format_total, safe_url
from dealbooks.notifications.slack_messages import (
    MAX_BLOCKS,
    OverdueInvoice,
    PaymentAlert,
    escape_mrkdwn,
    render_overdue_summary,
    render_payment_alert,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (0, "usd", "$0.00"),
        ("0.005", "USD", "$0.01"),
        (1234567.891, "EUR", "€1,234,567.89"),
        (Decimal("-12"), "GBP", "-£12.00"),
        (1234.5, "JPY", "¥1,235"),
        ("10", "CHF", "CHF 10.00"),
        ("1.2345", "KWD", "KWD 1.235"),
        (99, "CAD", "CA$99.00"),
        (5, "XTS", "XTS 5.00"),
    ],
)
def test_format_money(amount: object, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected  # type: ignore[arg-type]


def test_format_money_rejects_garbage_and_totals_by_currency() -> None:
    with pytest.raises(ValueError):
        format_money("abc")
    with pytest.raises(ValueError):
        format_money(float("nan"))
    assert format_total({"USD": Decimal(100), "EUR": Decimal(50)}) == "$100.00 + €50.00"


def test_safe_url_only_http() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://x.example/a?b=1&c=<2>|") == "https://x.example/a?b=1&c=%3C2%3E%7C"
    assert safe_url("") is None and safe_url("/relative") is None


def alert(**overrides: object) -> PaymentAlert:
    values: dict[str, object] = dict(
        customer_name="Acme Corp", invoice_number="1042", amount=Decimal("750"), balance=Decimal("500"),
        invoice_total=Decimal("1250"), paid_on=date(2025, 1, 2), deal_name="Acme renewal",
        deal_url="https://acme.pipedrive.com/deal/5", invoice_url="https://app.qbo.intuit.com/app/invoice?txnId=9",
        owner_name="Ana Silva", crm_name="Pipedrive", payment_reference="P-77")
    values.update(overrides)
    return PaymentAlert(**values)  # type: ignore[arg-type]


def all_text(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_partial_payment_alert() -> None:
    message = render_payment_alert(alert())
    assert message.text.startswith("Partial payment received: $750.00 on invoice 1042")
    assert "Remaining balance: $500.00" in message.text
    body = all_text(message.blocks)
    for expected in ("Partially paid", "$500.00", "$1,250.00", "Acme Corp", "Ana Silva", "P-77",
                     "<https://app.qbo.intuit.com/app/invoice?txnId=9|1042>",
                     "<https://acme.pipedrive.com/deal/5|Acme renewal>", "January 2, 2025"):
        assert expected in body, expected
    assert [b["type"] for b in message.blocks] == ["header", "section", "context", "actions"]
    assert [e["url"] for e in message.blocks[-1]["elements"]] == [
        "https://app.qbo.intuit.com/app/invoice?txnId=9", "https://acme.pipedrive.com/deal/5"]


def test_paid_in_full_alert_without_links() -> None:
    message = render_payment_alert(alert(balance=0, amount=Decimal("1250"), deal_url=None, invoice_url=None,
                                         currency="EUR"))
    assert message.text == "Payment received: €1,250.00 — invoice 1042 paid in full. Customer: Acme Corp."
    assert "Paid in full" in all_text(message.blocks)
    assert "actions" not in [b["type"] for b in message.blocks]
    assert "<http" not in all_text(message.blocks)


@pytest.mark.parametrize("name", ['<!channel> & "Co"', "<https://evil.example|click>", "O'Brien *bold* _it_",
                                  "Zoë Ünal 🎉", "שלום עולם", "x" * 5000])
def test_alert_escapes_names(name: str) -> None:
    message = render_payment_alert(alert(customer_name=name, deal_name=name, owner_name=name))
    body = all_text(message.blocks) + message.text
    assert "<!channel>" not in body and "<https://evil" not in body
    assert escape_mrkdwn(name[:50]) in body
    for block in message.blocks:
        for text in block.get("fields", []):
            assert len(text["text"]) <= 2000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def test_javascript_links_are_not_linked() -> None:
    message = render_payment_alert(alert(invoice_url="javascript:alert(1)", deal_url="ftp://x"))
    assert "javascript" not in all_text(message.blocks)
    assert "actions" not in [b["type"] for b in message.blocks]


def test_overdue_summary_per_owner() -> None:
    invoices = [
        OverdueInvoice("Acme", "1001", Decimal("100"), 3, owner_name="Ana"),
        OverdueInvoice("Beta <b>", "1002", Decimal("250.5"), 40, owner_name="Ana", invoice_url="https://q/2"),
        OverdueInvoice("Gamma", "1003", Decimal("80"), 12, owner_name="Ben", currency="EUR"),
        OverdueInvoice("Delta", "1004", Decimal("20"), 1),
    ]
    message = render_overdue_summary(invoices, as_of=date(2025, 3, 1))
    assert message.text == ("4 overdue invoices totalling $370.50 + €80.00 across 3 owners as of March 1, 2025.")
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert sections[1].startswith("*Ana* — 2 invoices, $350.50 overdue")
    assert sections[1].index("1002") < sections[1].index("1001")  # most overdue first
    assert "<https://q/2|1002> Beta &lt;b&gt; — $250.50, 40 days overdue" in sections[1]
    assert "*Ben* — 1 invoice, €80.00 overdue" in sections[2]
    assert "*Unassigned* — 1 invoice" in sections[3] and "1 day overdue" in sections[3]


def test_overdue_summary_limits_and_empty() -> None:
    many = [OverdueInvoice(f"C{i}", str(i), 10, i, owner_name=f"Owner {i % 80}") for i in range(400)]
    message = render_overdue_summary(many, as_of=date(2025, 3, 1), listed_per_owner=2)
    assert len(message.blocks) <= MAX_BLOCKS
    assert "more owners with" in all_text(message.blocks)
    assert "…and 3 more" in all_text(message.blocks)
    empty = render_overdue_summary([], as_of=date(2025, 3, 1))
    assert empty.text == "No overdue invoices as of March 1, 2025."
