"""`dealbooks invoice ...` and `dealbooks reminders run`: invoice actions and reminders from a shell.

Registered in ``dealbooks.cli``::

    from dealbooks.commands.invoices import invoice_app, reminders_app
    app.add_typer(invoice_app, name="invoice")
    app.add_typer(reminders_app, name="reminders")

``add_invoice_commands(typer_app)`` puts the same commands on another Typer (to share the
``invoice`` group with ``link``/``unlink``). A refused action prints its reason and exits with 1.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dealbooks.commands.common import BlocksOption, parse_blocks, refusals
from dealbooks.commands.common import run_context as _context

DateOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])]


def _out() -> Console:
    return Console(highlight=False, markup=False)


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def send(invoice_id: Annotated[str, typer.Argument(help="QuickBooks invoice Id.")],
         to: Annotated[str | None, typer.Option(help="Send here instead (becomes the invoice's billing email).")] = None,
         block: BlocksOption = None) -> None:
    """Email the invoice from QuickBooks."""
    from dealbooks.tasks.invoice_actions import send_invoice

    _out().print(send_invoice(_context(block), invoice_id, to)["message"])


def pdf(invoice_id: Annotated[str, typer.Argument(help="QuickBooks invoice Id.")],
        out: Annotated[Path | None, typer.Option(help="File to write (default: Invoice-<number>.pdf here).")] = None,
        block: BlocksOption = None) -> None:
    """Download the invoice PDF from QuickBooks."""
    from dealbooks.tasks.invoice_actions import invoice_pdf

    content, name = invoice_pdf(_context(block), invoice_id)
    target = out or Path(name)
    target.write_bytes(content)
    _out().print(f"Wrote {target} ({len(content)} bytes).")


def share_link(invoice_id: Annotated[str, typer.Argument(help="QuickBooks invoice Id.")],
               block: BlocksOption = None) -> None:
    """Print the customer's view/pay link, or why QuickBooks gives none."""
    from dealbooks.tasks.invoice_actions import share_link as link_of

    _out().print(link_of(_context(block), invoice_id), soft_wrap=True)


def void(invoice_id: Annotated[str, typer.Argument(help="QuickBooks invoice Id.")], block: BlocksOption = None) -> None:
    """Void the invoice in QuickBooks (refused when it has payments)."""
    from dealbooks.tasks.invoice_actions import void_invoice

    state = void_invoice(_context(block), invoice_id)
    _out().print(f"Invoice {state.doc_number or invoice_id} voided.")


def delete(invoice_id: Annotated[str, typer.Argument(help="QuickBooks invoice Id.")],
           block: BlocksOption = None) -> None:
    """Delete the invoice in QuickBooks and unlink it from its deal."""
    from dealbooks.tasks.invoice_actions import delete_invoice

    _out().print(delete_invoice(_context(block), invoice_id)["message"])


def list_(crm: Annotated[str | None, typer.Option(help="pipedrive or hubspot (with --deal).")] = None,
          deal: Annotated[str | None, typer.Option(help="The CRM deal id.")] = None,
          customer: Annotated[str | None, typer.Option(help="A QuickBooks customer Id.")] = None,
          since: DateOption = None, until: DateOption = None, block: BlocksOption = None) -> None:
    """List a deal's or a customer's invoices, optionally from --since to --until (YYYY-MM-DD)."""
    from dealbooks.tasks.invoice_actions import list_invoices

    if deal and not crm:
        raise typer.BadParameter("--deal needs --crm (pipedrive or hubspot)")
    rows = list_invoices(_context(block), crm=crm, deal_id=deal, customer_id=customer,
                         since=_day(since), until=_day(until))
    table = Table(title=f"{len(rows)} invoice(s)")
    for column in ("Id", "Number", "Date", "Due", "Total", "Balance", "Status", "Customer", "Deal"):
        table.add_column(column, justify="right" if column in ("Total", "Balance") else "left")
    for r in rows:
        table.add_row(r.invoice_id, r.doc_number, str(r.txn_date or ""), str(r.due_date or ""),
                      f"{r.total} {r.currency}".strip(), f"{r.balance} {r.currency}".strip(), r.status, r.customer,
                      r.deal)
    _out().print(table)


def run_reminders(dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the emails; send nothing.")] = False,
                  as_of: Annotated[datetime | None, typer.Option(
                      "--as-of", formats=["%Y-%m-%d"], help="Act as this company-local day.")] = None,
                  block: BlocksOption = None) -> None:
    """Send today's overdue reminder emails (the overdue-reminders flow)."""
    from dealbooks.flows.reminders import overdue_reminders

    result = overdue_reminders(as_of=_day(as_of), dry_run=dry_run, blocks=parse_blocks(block))
    table = Table(title=f"Reminders on {result['date']}{' (dry run)' if dry_run else ''}: {result['counts'] or 'none due'}")
    for column in ("Invoice", "Step", "Outcome", "To", "Detail"):
        table.add_column(column)
    for row in result["reminders"]:
        table.add_row(row["invoice"], str(row["step"]), row["outcome"], row["to"], row["message"])
    _out().print(table)


def add_invoice_commands(target: typer.Typer) -> typer.Typer:
    """Register send, pdf, share-link, void, delete and list on ``target``; returns it."""
    target.command("send")(refusals(send))
    target.command("pdf")(refusals(pdf))
    target.command("share-link")(refusals(share_link))
    target.command("void")(refusals(void))
    target.command("delete")(refusals(delete))
    target.command("list")(refusals(list_))
    return target


invoice_app = add_invoice_commands(typer.Typer(help="QuickBooks invoices: send, PDF, share link, void, delete, list.",
                                               no_args_is_help=True))
reminders_app = typer.Typer(help="Overdue reminder emails.", no_args_is_help=True)


@reminders_app.callback()
def reminders_group() -> None:
    """Overdue reminder emails (a group, so that `reminders run` stays `run` even as the only command)."""


reminders_app.command("run")(refusals(run_reminders))

__all__ = ["add_invoice_commands", "invoice_app", "reminders_app"]
