"""`dealbooks sync`, `dealbooks status`, `dealbooks report aging`, `dealbooks invoice link|unlink`.

Registered in ``dealbooks.cli``::

    from dealbooks.commands import sync as sync_commands
    app.command("sync")(sync_commands.sync)
    app.command("status")(sync_commands.status)
    app.add_typer(sync_commands.report_app, name="report")
    sync_commands.add_link_commands(invoice_app)   # the `invoice` group of dealbooks.commands.invoices

A refused action prints its reason and exits with 1.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from dealbooks.commands.common import BlocksOption, parse_blocks, refusals
from dealbooks.commands.common import run_context as _context
from dealbooks.exceptions import DealbooksError

DateOption = Annotated[Optional[datetime], typer.Option(
    "--as-of", formats=["%Y-%m-%d"], help="Company-local day (default: today in the company's timezone).")]

console = Console()
errors = Console(stderr=True)


def _today(ctx: Any, as_of: Optional[datetime]) -> date:
    from dealbooks.flows.status_sync import company_day

    return as_of.date() if as_of else company_day.fn(ctx, None)


def _table(title: str, rows: list[dict[str, Any]], right: tuple[str, ...] = ()) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (rows[0] if rows else {}):
        table.add_column(str(column), justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    return table


# -- dealbooks sync / status --------------------------------------------------------------------
def sync(full: Annotated[bool, typer.Option("--full", help="Read every invoice (a full reconcile).")] = False,
         as_of: DateOption = None, block: BlocksOption = None) -> None:
    """Run the status sync now: invoice states and payments back to the deals, then payment alerts."""
    from dealbooks.flows.status_sync import status_sync

    result = status_sync(trigger="manual", full=full, as_of=as_of.date() if as_of else None,
                         blocks=parse_blocks(block) or None)
    console.print(f"[bold]{result['mode']}[/bold] sync ({result['reason']}) as of {result['as_of']}: "
                  f"{result['fetched']['invoices']} invoices and {result['fetched']['payments']} payments read, "
                  f"{result['changed']} changed, {result['deals']['written']} deals written, "
                  f"{len(result['deals']['failed'])} failed; alerts {result['alerts']}", highlight=False)
    console.print(_table("Sync health", result["health"], right=("records", "this run")))


def status(block: BlocksOption = None,
           limit: Annotated[int, typer.Option(help="Most failing records listed.")] = 50) -> None:
    """Sync health: records by outcome and error category, and the failing records with their messages."""
    from dealbooks.tasks.sync import health_rows

    ledger = _context(block).ledger
    rows = health_rows(ledger, run_kinds=("status_sync", "payment_alerts", "invoice_on_won"))
    rows = [{k: v for k, v in row.items() if k != "this run"} for row in rows]
    console.print(_table("Sync health", rows, right=("records",)) if rows else "No records yet: no sync has run.")
    failing = [{"run": r.run_kind, "record": r.record_key, "category": r.category, "attempts": r.attempts,
                "updated": r.updated_at.strftime("%Y-%m-%d %H:%M"), "message": r.message}
               for r in ledger.records.failed(limit=limit)]
    if failing:
        console.print(_table(f"Failing records ({len(failing)})", failing, right=("attempts",)))
    else:
        console.print("No failing records.")


# -- dealbooks report aging ---------------------------------------------------------------------
report_app = typer.Typer(help="Reports from the ledger.", no_args_is_help=True)


@report_app.command("aging")
@refusals
def aging(by: Annotated[str, typer.Option("--by", help="Group by customer or owner.")] = "customer",
          csv: Annotated[Optional[Path], typer.Option("--csv", help="Also write the table as CSV.")] = None,
          png: Annotated[Optional[Path], typer.Option("--png", help="Also write a stacked bar chart (PNG).")] = None,
          as_of: DateOption = None, block: BlocksOption = None) -> None:
    """AR aging: open balance by customer or owner in buckets (current, 1–30, 31–60, 61–90, 90+ days)."""
    from dealbooks.domain.aging import (
        BUCKETS,
        aging_chart_png,
        aging_rows,
        format_money,
    )
    from dealbooks.tasks.overdue import aging_from_ledger

    if by not in ("customer", "owner"):
        raise typer.BadParameter("--by is 'customer' or 'owner'")
    ctx = _context(block)
    report = aging_from_ledger(ctx, _today(ctx, as_of), by=by)  # type: ignore[arg-type]
    rows = [{**{k: v for k, v in row.items() if k not in (*BUCKETS, "total")},
             **{b: format_money(row[b], row["currency"]) if row[b] else "–" for b in (*BUCKETS, "total")}}
            for row in aging_rows(report)]
    title = f"AR aging by {by} — as of {report.attrs.get('as_of')}"
    console.print(_table(title, rows, right=(*BUCKETS, "total")) if rows else f"{title}: no open receivables.")
    if csv is not None:
        report.to_csv(csv, index=False)
        console.print(f"CSV written to {csv}")
    if png is not None:
        console.print(f"Chart written to {aging_chart_png(report, png)}")


# -- dealbooks invoice link / unlink -------------------------------------------------------------
def link(crm: Annotated[str, typer.Option("--crm", help="pipedrive or hubspot.")],
         deal: Annotated[str, typer.Option("--deal", help="The CRM deal id.")],
         invoice: Annotated[Optional[str], typer.Option(
             "--invoice", help="QuickBooks invoice Id; without it, link by rule (same customer, unlinked, near in date).")] = None,
         window_days: Annotated[int, typer.Option(help="Rule: days of TxnDate around the deal's invoice.")] = 30,
         block: BlocksOption = None) -> None:
    """Link a QuickBooks invoice created outside dealbooks to a deal; the deal is updated at once."""
    from dealbooks.tasks.linking import link_by_rule, link_invoice

    if crm not in ("pipedrive", "hubspot"):
        raise typer.BadParameter("--crm is 'pipedrive' or 'hubspot'")
    ctx = _context(block)
    today = _today(ctx, None)
    if invoice:
        made = [link_invoice(ctx.ledger, ctx.qbo, crm, deal, invoice, today)]
    else:
        made = link_by_rule(ctx.ledger, ctx.qbo, today, window_days=window_days, deals=[(crm, deal)])
    if not made:
        console.print(f"No unlinked invoice of the deal's customer within {window_days} days.")
        return
    for m in made:
        console.print(f"Invoice {m.doc_number or m.invoice_id} (Id {m.invoice_id}) "
                      f"{'linked to' if m.created else 'was already linked to'} {crm} deal {deal}.", highlight=False)
    refresh_deal(ctx, crm, deal, today)


def unlink(invoice: Annotated[str, typer.Option("--invoice", help="QuickBooks invoice Id.")],
           block: BlocksOption = None) -> None:
    """Remove an invoice's link to its deal; the deal's roll-up is written again without it."""
    from dealbooks.tasks.linking import unlink_invoice

    ctx = _context(block)
    removed = unlink_invoice(ctx.ledger, ctx.qbo.realm_id, invoice)
    if removed is None:
        raise DealbooksError(f"Invoice {invoice} is not linked to any deal.", category="not_linked")
    console.print(f"Invoice {invoice} unlinked from {removed.crm} deal {removed.deal_id}.", highlight=False)
    refresh_deal(ctx, removed.crm, removed.deal_id, _today(ctx, None))


def refresh_deal(ctx: Any, crm: str, deal_id: str, today: date) -> None:
    """Write the deal's roll-up now (the same write-back the sync does)."""
    from dealbooks.tasks.invoicing import invoice_app_url
    from dealbooks.tasks.writeback import write_back_deals

    links = [link for link in ctx.ledger.links.for_deal(crm, deal_id) if link.realm_id == ctx.qbo.realm_id]
    if not links:
        console.print(f"{crm} deal {deal_id} has no invoice left; its invoice fields were left as they were.")
        return
    [result] = write_back_deals(ledger=ctx.ledger, qbo=ctx.qbo, crm_for=ctx.crm, realm_id=ctx.qbo.realm_id,
                                deals={(crm, deal_id): links}, current={}, today=today,
                                url_template=invoice_app_url(ctx.qbo, "{id}"), notes={})
    if result.outcome == "failed":
        raise DealbooksError(f"The deal could not be updated ({result.category}): {result.message}; "
                             "the next sync retries.", category=result.category)
    fields = result.fields
    console.print(f"Deal updated: {fields.status if fields else '-'}, billed {fields.amount_billed if fields else '-'}, "
                  f"open {fields.balance if fields else '-'}.", highlight=False)


def add_link_commands(target: typer.Typer) -> typer.Typer:
    """Register ``link`` and ``unlink`` on ``target`` (the ``invoice`` group); returns it."""
    target.command("link")(refusals(link))
    target.command("unlink")(refusals(unlink))
    return target


__all__ = ["add_link_commands", "report_app", "status", "sync"]
