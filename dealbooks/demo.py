"""`dealbooks demo`: the whole invoice lifecycle against the sandbox, in a few minutes.

Deals are won in both CRM sandboxes → invoices in QuickBooks (via poll-won-deals) → a partial and
a full payment → status sync → Slack alerts → the clock moves on → reminder emails. Everything
runs on embedded defaults: the sandbox in-process, a fresh SQLite ledger under ``demo-output/``,
and Prefect's ephemeral API — or the server in ``PREFECT_API_URL``, so the runs, artifacts and
blocks show in the Prefect UI.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from dealbooks.sandbox.salesperson import ProductSpec, salesperson

DEMO_BLOCKS = {kind: f"demo-{kind}" for kind in ("qbo", "pipedrive", "hubspot", "slack", "smtp", "settings")}
CONSULTING = ProductSpec("Consulting hours", Decimal("12"), Decimal("150"), sku="CONSULT-HR")
LICENCE = ProductSpec("Pro licence (annual)", Decimal("5"), Decimal("480"), sku="LIC-PRO", discount_percent=Decimal("10"))
WORKSHOP = ProductSpec("On-site workshop", Decimal("1"), Decimal("2400"))
DEALS: list[tuple[str, str, str, str, list[ProductSpec]]] = [
    # crm, deal title, organisation, billing email, products
    ("pipedrive", "O'Brien & Sons — 2027 renewal", "O'Brien & Sons", "ap@obrien.example", [CONSULTING, LICENCE]),
    ("pipedrive", "Café Zoë — onboarding", "Café Zoë & Co", "factures@cafe-zoe.example", [CONSULTING, WORKSHOP]),
    ("pipedrive", "Globex expansion", "Globex Corporation", "billing@globex.example", [LICENCE]),
    ("hubspot", "Initech platform deal", "Initech", "accounts@initech.example", [LICENCE, WORKSHOP]),
    ("hubspot", "Umbrella pilot", "Umbrella Corp", "finance@umbrella.example", [CONSULTING]),
    ("hubspot", "Hooli (no contact email yet)", "Hooli", "", [CONSULTING]),
]


@dataclass
class DemoResult:
    deals: list[dict[str, Any]] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    mail: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[str, Any] = field(default_factory=dict)


def run_demo(output: Path = Path("demo-output"), keep_running: bool = False, console: Console | None = None) -> DemoResult:
    """Run the lifecycle; returns what happened (also printed as rich tables)."""
    from dealbooks.sandbox.server import Sandbox
    from dealbooks.sandbox.state import SandboxOptions

    console = console or Console()
    output.mkdir(parents=True, exist_ok=True)
    ledger_path = output / "ledger.db"
    for stale in output.glob("ledger.db*"):
        stale.unlink()
    os.environ["DEALBOOKS_LEDGER_URL"] = f"sqlite:///{ledger_path.resolve()}"
    # A busy 2-core machine can need more than Prefect's default 20 s to start the ephemeral API.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry from a demo
    api = os.environ.get("PREFECT_API_URL")
    console.rule("[bold]dealbooks demo")
    console.print(f"Prefect API: {api or 'ephemeral (set PREFECT_API_URL to watch in the Prefect UI)'}")
    result = DemoResult()
    with Sandbox(options=SandboxOptions(webhook_retry_delays=(0.5, 1.0))) as sandbox:
        console.print(f"Sandbox: {sandbox.url}  (QuickBooks, Pipedrive, HubSpot, Slack, SMTP)")
        with console.status("Saving blocks…"):
            _save_blocks(sandbox.config)
        _step(console, "1/6 Deals won in Pipedrive and HubSpot", lambda: _win_deals(sandbox.config, result))
        _step(console, "2/6 poll-won-deals: invoices in QuickBooks", lambda: _invoice(result))
        _step(console, "3/6 Customers pay: one in full, one partially", lambda: _pay(result))
        _step(console, "4/6 status-sync: payments back to the deals, Slack alerts", lambda: _sync(result, None))
        today = _advance_clock(sandbox, days=45)
        _step(console, f"5/6 45 days later ({today}): sync finds overdue invoices",
              lambda: _sync(result, today))
        _step(console, "6/6 overdue-reminders: reminder emails with the PDF attached",
              lambda: _remind(result, today))
        _collect(sandbox, result)
        _print_summary(console, sandbox, result, ledger_path)
        if keep_running:
            console.print("[bold]The sandbox keeps running[/] (Ctrl-C to stop): "
                          f"{sandbox.url}/_sandbox/slack/messages, {sandbox.url}/mail/messages")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return result


def _step(console: Console, title: str, action: Any) -> None:
    started = time.monotonic()
    with console.status(title + "…"):
        action()
    console.print(f"[green]✓[/] {title}  [dim]({time.monotonic() - started:.1f} s)[/]")


def _save_blocks(config: dict[str, Any]) -> None:
    from dealbooks.sandbox.blocks import save_sandbox_blocks

    save_sandbox_blocks(config, DEMO_BLOCKS, settings={"reminder_business_days": False, "due_days": 30,
                                                       "reminder_from": "billing@sandbox-company.example"})


def _win_deals(config: dict[str, Any], result: DemoResult) -> None:
    people = {crm: salesperson(crm, config) for crm in ("pipedrive", "hubspot")}
    for crm, title, org, email, products in DEALS:
        seller = people[crm]
        deal_id = seller.create_deal(title, org_name=org, person_name="Alex Morgan", email=email or None,
                                     products=products)
        seller.mark_won(deal_id)
        result.deals.append({"crm": crm, "deal_id": deal_id, "title": title})
    people["pipedrive"].create_deal("Still negotiating", org_name="Stark Industries", products=[CONSULTING])


def _invoice(result: DemoResult) -> None:
    from dealbooks.flows.invoice_on_won import poll_won_deals

    result.runs["poll"] = poll_won_deals(["pipedrive", "hubspot"], blocks=DEMO_BLOCKS)


def _pay(result: DemoResult) -> None:
    from dealbooks.flows.context import RunContext

    ctx = RunContext(DEMO_BLOCKS)
    links = {(link.crm, link.deal_id): link for link in ctx.ledger.links.all()}
    invoiced = [d for d in result.deals if (d["crm"], d["deal_id"]) in links]
    plan = [(invoiced[0], Decimal(1)), (invoiced[3], Decimal("0.4"))] if len(invoiced) > 3 else []
    for deal, share in plan:
        link = links[(deal["crm"], deal["deal_id"])]
        invoice = ctx.qbo.get_invoice(link.invoice_id)
        amount = (Decimal(str(invoice["Balance"])) * share).quantize(Decimal("0.01"))
        ctx.qbo.create_payment({"CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": float(amount),
                                "Line": [{"Amount": float(amount),
                                          "LinkedTxn": [{"TxnId": link.invoice_id, "TxnType": "Invoice"}]}]},
                               f"demo-payment-{link.invoice_id}")


def _sync(result: DemoResult, as_of: date | None) -> None:
    from dealbooks.flows.status_sync import status_sync

    result.runs["sync" if as_of is None else "sync-later"] = status_sync(trigger="demo", as_of=as_of, blocks=DEMO_BLOCKS)


def _remind(result: DemoResult, today: date) -> None:
    from dealbooks.flows.reminders import overdue_reminders

    result.runs["reminders"] = overdue_reminders(as_of=today, blocks=DEMO_BLOCKS)


def _advance_clock(sandbox: Any, days: int) -> date:
    """Move the sandbox clock; returns the new day where the QuickBooks company is."""
    from dealbooks.domain.status import company_timezone, company_today
    from dealbooks.flows.context import RunContext

    response = httpx.post(f"{sandbox.url}/_sandbox/clock", json={"advance_days": days})
    response.raise_for_status()
    qbo = RunContext(DEMO_BLOCKS).qbo
    zone = company_timezone(qbo.preferences(), qbo.company_info(), "UTC")
    return company_today(datetime.fromisoformat(response.json()["now"]), zone)


def _collect(sandbox: Any, result: DemoResult) -> None:
    from dealbooks.flows.context import RunContext

    ctx = RunContext(DEMO_BLOCKS)
    snapshots = ctx.ledger.snapshots.load(ctx.qbo.realm_id).set_index("invoice_id")
    failures = {r.record_key: r for r in ctx.ledger.records.failed("invoice_on_won")}
    for deal in result.deals:
        link = ctx.ledger.links.get(deal["crm"], deal["deal_id"])
        failed = failures.get(f"{deal['crm']}:{deal['deal_id']}")
        if link is not None and link.invoice_id in snapshots.index:
            snap = snapshots.loc[link.invoice_id]
            deal.update(invoice=link.doc_number or link.invoice_id, total=snap["total"], balance=snap["balance"],
                        status=snap["status"])
        elif failed is not None:
            deal.update(invoice="—", status=f"failed: {failed.category}", note=failed.message)
    result.slack = httpx.get(f"{sandbox.url}/_sandbox/slack/messages").json().get("messages", [])
    result.mail = httpx.get(f"{sandbox.url}/mail/messages").json().get("messages", [])


def _money(value: Any) -> str:
    return "" if value is None or value == "" else f"{Decimal(str(value)):,.2f}"


def _print_summary(console: Console, sandbox: Any, result: DemoResult, ledger_path: Path) -> None:
    deals = Table(title="Deals → QuickBooks invoices", show_lines=False)
    for column in ("CRM", "Deal", "Invoice", "Total", "Open balance", "Status"):
        deals.add_column(column, justify="right" if column in ("Total", "Open balance") else "left")
    for deal in result.deals:
        deals.add_row(deal["crm"], deal["title"], str(deal.get("invoice", "")), _money(deal.get("total")),
                      _money(deal.get("balance")), str(deal.get("status", "")))
    console.print(deals)
    for deal in result.deals:
        if deal.get("note"):
            console.print(f"[yellow]![/] {deal['crm']} deal {deal['deal_id']}: {deal['note']}")
    slack = Table(title=f"Slack messages captured ({len(result.slack)})")
    slack.add_column("Channel")
    slack.add_column("Message")
    for message in result.slack:
        text = html.unescape(str(message.get("text", "")))  # Slack escapes &, < and > in message text
        slack.add_row(str(message.get("channel_name") or message.get("channel", "")), text[:110])
    console.print(slack)
    mail = Table(title=f"Reminder emails captured ({len(result.mail)})")
    for column in ("To", "Subject", "Attachments"):
        mail.add_column(column)
    for message in result.mail:
        names = ", ".join(a.get("filename", "") for a in message.get("attachments", []))
        mail.add_row(", ".join(message.get("to", [])) if isinstance(message.get("to"), list) else str(message.get("to")),
                     str(message.get("subject", "")), names)
    console.print(mail)
    where = Table(title="Where to look", show_header=False)
    where.add_row("Prefect runs & artifacts", os.environ.get("PREFECT_API_URL", "").replace("/api", "") or
                  "ephemeral API — run `prefect server start`, export PREFECT_API_URL and rerun to see the UI")
    where.add_row("Ledger (SQLite)", str(ledger_path.resolve()))
    where.add_row("CLI", f"DEALBOOKS_LEDGER_URL=sqlite:///{ledger_path.resolve()} dealbooks status --block qbo=demo-qbo")
    where.add_row("Sandbox", f"{sandbox.url}/_sandbox/slack/messages · {sandbox.url}/mail/messages (--keep-running)")
    console.print(where)
