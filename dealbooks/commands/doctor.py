"""`dealbooks doctor`: a preflight with one line per check (✓ ok, ✗ fail, ! warning) and what to do.

Checks: QuickBooks token valid and refreshable, custom transaction numbers, multicurrency, online
payments, sales tax (US automated tax vs. a non-US ``default_tax_code``), Pipedrive and HubSpot
tokens, mapped ``InvoiceSettings`` fields exist in the CRM, webhooks registered (Pipedrive's API
lists them) and the receiver reachable, Slack ``auth.test``, SMTP NOOP/login, ledger migrated.
Exit code 1 when any check fails. Secrets are never shown.

Run ``python -m dealbooks.commands.doctor`` or, registered in the CLI, ``dealbooks doctor``.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dealbooks.commands.common import parse_blocks
from dealbooks.commands.doctor_checks import (
    Check,
    check_hubspot,
    check_ledger,
    check_pipedrive,
    check_quickbooks,
    check_receiver,
    check_slack,
    check_smtp,
)
from dealbooks.flows.context import DEFAULT_BLOCKS, load_block

SYMBOLS = {"ok": "[green]✓[/]", "fail": "[red]✗[/]", "warn": "[yellow]![/]"}


def run_checks(names: dict[str, str] | None = None, *, webhook_url: str | None = None,
               ledger_url: str | None = None, crms: list[str] | None = None) -> list[Check]:
    """Every check, in order; nothing printed.

    Args:
        names: block name overrides per kind.
        webhook_url: the receiver's public base URL (checks ``/healthz`` and Pipedrive's subscription).
        ledger_url: the ledger database (default ``DEALBOOKS_LEDGER_URL``).
        crms: the CRMs to check (default: those with a saved block; both when neither has one).
    """
    from dealbooks.blocks import InvoiceSettings

    names = dict(names or {})
    checks = check_ledger(ledger_url)
    try:
        settings = load_block("settings", names, required=False)
    except Exception:  # noqa: BLE001 - reported by the block checks below
        settings = None
    if settings is None:
        checks.append(Check("InvoiceSettings block", "warn", f"no block {({**DEFAULT_BLOCKS, **names})['settings']!r}: "
                            "defaults are used", "run `dealbooks setup` to save (and then edit) the settings"))
        settings = InvoiceSettings()
    checks += check_quickbooks(names, settings)
    if crms is None:
        crms = [crm for crm in ("pipedrive", "hubspot") if _has_block(crm, names)] or ["pipedrive", "hubspot"]
    if "pipedrive" in crms:
        checks += check_pipedrive(names, settings, webhook_url)
    if "hubspot" in crms:
        checks += check_hubspot(names, settings)
    checks += check_receiver(webhook_url, _quiet_block("qbo", names))
    checks += check_slack(names)
    checks += check_smtp(names)
    return checks


def _quiet_block(kind: str, names: dict[str, str]) -> object | None:
    try:
        return load_block(kind, names, required=False)
    except Exception:  # noqa: BLE001 - the block checks report an unreachable API
        return None


def _has_block(kind: str, names: dict[str, str]) -> bool:
    return _quiet_block(kind, names) is not None


def print_checks(checks: list[Check]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dealbooks doctor")
    for column in ("", "check", "result", "what to do"):
        table.add_column(column)
    for check in checks:
        table.add_row(SYMBOLS[check.status], check.name, check.detail, check.fix)
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    console = Console(width=180)
    console.print(table)
    console.print(f"{len(checks) - failed - warned} ok, {warned} warnings, {failed} failed")


def doctor(
    block: Annotated[Optional[list[str]], typer.Option(
        "--block", help="Block name per kind, e.g. --block qbo=my-company.")] = None,
    webhook_url: Annotated[Optional[str], typer.Option(
        help="Public base URL of `dealbooks webhooks serve` (checks it answers and Pipedrive points at it).")] = None,
    ledger_url: Annotated[Optional[str], typer.Option(help="Ledger database URL (default DEALBOOKS_LEDGER_URL).")] = None,
    crm: Annotated[Optional[list[str]], typer.Option(help="Check only this CRM (repeatable).")] = None,
) -> None:
    """Check that dealbooks can work: credentials, QuickBooks settings, mapped fields, webhooks, Slack, SMTP, ledger."""
    names = parse_blocks(block)
    checks = run_checks(names, webhook_url=webhook_url, ledger_url=ledger_url, crms=list(crm) if crm else None)
    print_checks(checks)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)
