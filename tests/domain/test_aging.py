"""AR aging report: buckets, grouping, renderers, chart."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from dealbooks.domain.aging import (
    BUCKETS,
    aging_chart_png,
    aging_markdown,
    aging_report,
    aging_rows,
    format_money,
)
from dealbooks.domain.snapshots import snapshot_frame
from dealbooks.domain.status import InvoiceState, InvoiceStatus, invoice_state

from .qbo_samples import INVOICE_OPEN_130, INVOICE_PAID_TWO_PAYMENTS_12, INVOICE_VOIDED_129

AS_OF = date(2024, 5, 1)


def _inv(iid: str, days_overdue: int | None, balance: str, customer: str = "Acme",
         currency: str = "USD", status: InvoiceStatus = InvoiceStatus.OPEN) -> InvoiceState:
    due = None if days_overdue is None else AS_OF - timedelta(days=days_overdue)
    return InvoiceState(invoice_id=iid, status=status, total=Decimal(balance), balance=Decimal(balance),
                        due_date=due, currency=currency, customer_id=customer.lower(),
                        customer_name=customer)


@pytest.mark.parametrize(("days", "bucket"), [
    (None, "current"), (-10, "current"), (0, "current"), (1, "1-30"), (30, "1-30"),
    (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+"),
])
def test_bucket_boundaries(days: int | None, bucket: str) -> None:
    row = aging_report([_inv("1", days, "100")], AS_OF).iloc[0]
    assert row[bucket] == 100.0 and row["total"] == 100.0
    assert sum(row[b] for b in BUCKETS) == 100.0


def test_by_customer_sums_and_sorts_by_total() -> None:
    invoices = [_inv("1", 5, "100", "Acme"), _inv("2", 45, "250.25", "Acme"),
                _inv("3", 100, "1000", "Globex"), _inv("4", -3, "10", "Initech")]
    df = aging_report(invoices, AS_OF)
    assert df["customer"].tolist() == ["Globex", "Acme", "Initech"]
    acme = df.set_index("customer").loc["Acme"]
    assert (acme["1-30"], acme["31-60"], acme["total"]) == (100.0, 250.25, 350.25)
    assert df.attrs == {"as_of": "2024-05-01", "by": "customer"}


def test_excludes_paid_voided_deleted_and_zero_balances() -> None:
    invoices = [invoice_state(INVOICE_PAID_TWO_PAYMENTS_12, AS_OF),
                invoice_state(INVOICE_VOIDED_129, AS_OF),
                _inv("5", 10, "77", status=InvoiceStatus.DELETED),
                _inv("6", 10, "0"),
                invoice_state(INVOICE_OPEN_130, AS_OF)]
    df = aging_report(invoices, AS_OF)
    assert df["customer"].tolist() == ["Sonnenschein Family Store"]
    assert df.loc[0, "90+"] == 362.07  # due 2023-03-20


def test_by_owner_with_unassigned() -> None:
    invoices = [_inv("1", 5, "100", "Acme"), _inv("2", 40, "50", "Globex"), _inv("3", 2, "7", "Initech")]
    df = aging_report(invoices, AS_OF, by="owner", owners={"1": "Dana", "2": "Dana"})
    assert df[["owner", "total"]].values.tolist() == [["Dana", 150.0], ["Unassigned", 7.0]]


def test_currencies_are_never_added_together() -> None:
    df = aging_report([_inv("1", 5, "100", "Acme"), _inv("2", 5, "80", "Acme", currency="EUR")], AS_OF)
    assert sorted(df["currency"]) == ["EUR", "USD"] and df["total"].tolist() == [100.0, 80.0]
    rows = aging_rows(df)
    assert [r["customer"] for r in rows] == ["Acme", "Acme", "Total", "Total"]
    assert "(EUR)" in aging_markdown(df) and "€80.00" in aging_markdown(df)


def test_accepts_a_snapshot_frame_and_a_missing_customer_name() -> None:
    no_name = replace(_inv("3", 5, "10", ""), customer_id="58")
    frame = snapshot_frame([_inv("1", 5, "100", ""), no_name, _inv("2", 5, "1", "Acme")])
    df = aging_report(frame, AS_OF)
    assert df["customer"].tolist() == ["Unknown customer", "Customer 58", "Acme"]


def test_empty_report_renders() -> None:
    df = aging_report([], AS_OF)
    assert df.empty and list(df.columns) == ["customer", "currency", *BUCKETS, "total"]
    assert aging_rows(df) == []
    assert "No open receivables" in aging_markdown(df)


def test_rows_are_json_ready_with_totals() -> None:
    df = aging_report([_inv("1", 5, "100.10", "Acme"), _inv("2", 95, "0.2", "Globex")], AS_OF)
    rows = aging_rows(df)
    json.dumps(rows)
    total = rows[-1]
    assert total["customer"] == "Total" and total["total"] == pytest.approx(100.3)
    assert total["1-30"] == 100.1 and total["90+"] == 0.2


def test_markdown_table_is_readable() -> None:
    df = aging_report([_inv("1", 5, "1234.5", "O'Brien | Sons"), _inv("2", 95, "20", "Café Müller")], AS_OF)
    md = aging_markdown(df)
    assert md.startswith("### AR aging by customer — as of 2024-05-01")
    assert "| Customer | Current | 1–30 days | 31–60 days | 61–90 days | 90+ days | Total |" in md
    assert "| O'Brien \\| Sons | – | $1,234.50 | – | – | – | $1,234.50 |" in md
    assert "| **Total** |" in md and "$1,254.50" in md


def test_format_money() -> None:
    assert format_money(1234.5, "USD") == "$1,234.50"
    assert format_money(-5, "GBP") == "-£5.00"
    assert format_money(1000, "SEK") == "1,000.00 SEK"
    assert format_money(3, "") == "3.00"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_chart_png_is_written(tmp_path: Path) -> None:
    invoices = [_inv(str(i), (i * 13) % 140 - 10, str(100 + i * 37), f"Customer {i % 22}")
                for i in range(120)]
    df = aging_report(invoices, AS_OF)
    out = aging_chart_png(df, tmp_path / "charts" / "aging.png")
    width, height = _png_size(out)
    assert width >= 1200 and height > width / 2  # 15 named bars + "Other (7)"


def test_chart_for_empty_and_mixed_currency_reports(tmp_path: Path) -> None:
    assert _png_size(aging_chart_png(aging_report([], AS_OF), tmp_path / "empty.png"))[0] > 0
    mixed = aging_report([_inv("1", 5, "100"), _inv("2", 50, "80", currency="EUR")], AS_OF, by="owner")
    assert _png_size(aging_chart_png(mixed, tmp_path / "mixed.png"))[0] > 0


def test_large_input_is_bucketed_in_one_pass() -> None:
    base = _inv("0", 0, "10")
    frame = snapshot_frame(replace(base, invoice_id=str(i), customer_name=f"C{i % 50}",
                                   due_date=AS_OF - timedelta(days=i % 120)) for i in range(10_000))
    df = aging_report(frame, AS_OF)
    assert len(df) == 50 and df["total"].sum() == pytest.approx(100_000.0)
    assert isinstance(df, pd.DataFrame)
