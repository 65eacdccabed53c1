"""Accounts-receivable aging report, built with vectorised pandas (pure, no network I/O).

Open balances of live invoices (not paid, voided or deleted; balance > 0) are bucketed by
calendar days past the due date on the as-of date: ``current`` (not yet due, or no due date),
``1-30``, ``31-60``, ``61-90``, ``90+``. Rows are per customer or per owner *and currency*
(amounts in different currencies are never added up), sorted by total, largest first.
The as-of date travels in ``df.attrs["as_of"]`` for the renderers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from dealbooks.domain.status import InvoiceState, InvoiceStatus

BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "90+")
BUCKET_LABELS = {"current": "Current", "1-30": "1–30 days", "31-60": "31–60 days",
                 "61-90": "61–90 days", "90+": "90+ days"}
BUCKET_COLOURS = ("#2e7d32", "#f9a825", "#ef6c00", "#d84315", "#b71c1c")
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}
_CLOSED = [InvoiceStatus.PAID.value, InvoiceStatus.VOIDED.value, InvoiceStatus.DELETED.value]
UNASSIGNED = "Unassigned"


def _frame(invoices: Iterable[InvoiceState] | pd.DataFrame, owners: Mapping[str, str]) -> pd.DataFrame:
    if isinstance(invoices, pd.DataFrame):
        frame = invoices.copy()
    else:
        frame = pd.DataFrame.from_records(
            [(s.invoice_id, str(s.status), s.balance, s.due_date, s.currency, s.customer_id,
              s.customer_name) for s in invoices],
            columns=["invoice_id", "status", "balance", "due_date", "currency", "customer_id",
                     "customer_name"],
        )
    for col in ("currency", "customer_id", "customer_name", "owner"):
        if col not in frame.columns:
            frame[col] = ""
    frame["invoice_id"] = frame["invoice_id"].astype(str)
    mapped = frame["invoice_id"].map(owners)
    frame["owner"] = mapped.where(mapped.notna(), frame["owner"]).fillna("").replace("", UNASSIGNED)
    name = frame["customer_name"].fillna("").astype(str)
    cid = frame["customer_id"].fillna("").astype(str)
    fallback = ("Customer " + cid).where(cid.ne(""), "Unknown customer")
    frame["customer"] = name.where(name.ne(""), fallback)
    frame["currency"] = frame["currency"].fillna("").astype(str)
    return frame


def aging_report(
    invoices: Iterable[InvoiceState] | pd.DataFrame,
    as_of: date,
    by: Literal["customer", "owner"] = "customer",
    owners: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Open balance per customer (or owner) and currency, bucketed by days overdue.

    Args:
        invoices: Invoice states, or a frame with ``invoice_id``, ``status``, ``balance``,
            ``due_date`` (and optionally ``currency``, ``customer_id``, ``customer_name``, ``owner``).
        as_of: Company-local report date.
        by: Group by "customer" or by "owner" (deal owner).
        owners: Deal owner name per invoice id; unmatched invoices go to "Unassigned".

    Returns:
        Columns ``[by, "currency", *BUCKETS, "total"]`` as floats rounded to cents, one row per
        group, largest total first; ``attrs["as_of"]`` and ``attrs["by"]`` set.
    """
    frame = _frame(invoices, owners or {})
    balance = pd.to_numeric(frame["balance"], errors="coerce").fillna(0.0).astype("float64")
    live = balance.gt(0) & ~frame["status"].astype(str).isin(_CLOSED)
    frame, balance = frame.loc[live], balance.loc[live]
    due = pd.to_datetime(frame["due_date"], errors="coerce")
    days = (pd.Timestamp(as_of) - due).dt.days.fillna(0).clip(lower=0)
    bucket = pd.cut(days, bins=[-1, 0, 30, 60, 90, float("inf")], labels=list(BUCKETS))
    long = pd.DataFrame({by: frame[by], "currency": frame["currency"], "bucket": bucket,
                         "balance": balance})
    if long.empty:
        empty = pd.DataFrame({by: pd.Series(dtype=str), "currency": pd.Series(dtype=str),
                              **{c: pd.Series(dtype="float64") for c in (*BUCKETS, "total")}})
        empty.attrs.update(as_of=as_of.isoformat(), by=by)
        return empty
    table = long.pivot_table(index=[by, "currency"], columns="bucket", values="balance",
                             aggfunc="sum", fill_value=0.0, observed=False)
    table = table.reindex(columns=list(BUCKETS), fill_value=0.0).astype("float64")
    table["total"] = table[list(BUCKETS)].sum(axis=1)
    table = table.round(2).reset_index().sort_values(["total", by], ascending=[False, True])
    table.columns.name = None
    table = table.reset_index(drop=True)
    table.attrs.update(as_of=as_of.isoformat(), by=by)
    return table


def format_money(value: float, currency: str = "") -> str:
    """``1234.5, "USD"`` → ``"$1,234.50"``; unknown codes are suffixed (``"1,234.50 SEK"``)."""
    sign = "-" if value < 0 else ""
    amount = f"{abs(value):,.2f}"
    if currency in _SYMBOLS:
        return f"{sign}{_SYMBOLS[currency]}{amount}"
    return f"{sign}{amount} {currency}".rstrip()


def _group_col(df: pd.DataFrame) -> str:
    return str(df.attrs.get("by") or df.columns[0])


def _totals(df: pd.DataFrame) -> pd.DataFrame:
    """One "Total" row per currency."""
    sums = df.groupby("currency", sort=True)[[*BUCKETS, "total"]].sum().round(2).reset_index()
    sums.insert(0, _group_col(df), "Total")
    return sums


def aging_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Report rows plus per-currency "Total" rows as JSON-ready dicts (for a table artifact)."""
    if df.empty:
        return []
    full = pd.concat([df, _totals(df)], ignore_index=True)
    return [{k: (float(v) if k in (*BUCKETS, "total") else str(v)) for k, v in row.items()}
            for row in full.to_dict("records")]


def aging_markdown(df: pd.DataFrame) -> str:
    """The report as a markdown table with money formatting and totals (for a Prefect artifact)."""
    by = _group_col(df)
    as_of = df.attrs.get("as_of")
    title = f"### AR aging by {by}" + (f" — as of {as_of}" if as_of else "")
    if df.empty:
        return f"{title}\n\nNo open receivables."
    headers = [by.capitalize(), *(BUCKET_LABELS[b] for b in BUCKETS), "Total"]
    lines = [title, "", "| " + " | ".join(headers) + " |",
             "|---" + "|---:" * (len(headers) - 1) + "|"]
    for row in aging_rows(df):
        name = str(row[by]).replace("|", "\\|")
        name = f"**{name}**" if name == "Total" else name
        if row["currency"] and df["currency"].nunique() > 1:
            name = f"{name} ({row['currency']})"
        cells = [format_money(row[c], row["currency"]) if row[c] else "–" for c in (*BUCKETS, "total")]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def aging_chart_png(df: pd.DataFrame, path: str | Path, top: int = 15) -> Path:
    """A stacked horizontal bar chart of the report, saved as PNG (Agg; no display needed).

    The ``top`` largest rows are drawn; the rest are merged into one "Other (n)" bar per currency.

    Args:
        df: A frame from ``aging_report``.
        path: Where to write the PNG.
        top: Maximum number of named bars.

    Returns:
        The path written.
    """
    path = Path(path)
    by = _group_col(df)
    mixed = df["currency"].nunique() > 1 if not df.empty else False
    data = df.head(top).copy()
    rest = df.iloc[top:]
    if not rest.empty:
        other = rest.groupby("currency")[[*BUCKETS, "total"]].sum().reset_index()
        other.insert(0, by, f"Other ({len(rest)})")
        data = pd.concat([data, other], ignore_index=True)
    pairs = zip(data[by], data["currency"], strict=True)
    labels = [f"{n} ({c})" if mixed and c else str(n) for n, c in pairs]
    currency = "" if mixed or data.empty else str(data["currency"].iloc[0])

    fig = Figure(figsize=(11, max(3.5, 0.45 * len(data) + 2)), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    as_of = df.attrs.get("as_of")
    title = f"Accounts receivable aging by {by}" + (f" — as of {as_of}" if as_of else "")
    ax.set_title(title, fontsize=14, fontweight="bold", loc="left", pad=34)
    if data.empty:
        ax.text(0.5, 0.5, "No open receivables", ha="center", va="center", fontsize=13,
                transform=ax.transAxes)
        ax.set_axis_off()
    else:
        rows = list(range(len(data)))[::-1]
        left = pd.Series(0.0, index=data.index)
        for bucket, colour in zip(BUCKETS, BUCKET_COLOURS, strict=True):
            ax.barh(rows, data[bucket], left=left, color=colour, label=BUCKET_LABELS[bucket],
                    edgecolor="white", linewidth=0.6)
            left = left + data[bucket]
        for y, total, cur in zip(rows, data["total"], data["currency"], strict=True):
            ax.text(total, y, "  " + format_money(total, cur), va="center", fontsize=9)
        ax.set_yticks(rows, labels, fontsize=10)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_money(v, currency).replace(".00", "")))
        ax.set_xlim(0, float(data["total"].max()) * 1.18 or 1)
        ax.set_xlabel("Open balance" + (f" ({currency})" if currency else ""))
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(ncols=len(BUCKETS), loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False,
                  fontsize=9, handlelength=1.2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
