"""Invoice on deal won: won deals become QuickBooks invoices, exactly once, written back to the deal.

Triggered by the webhook receiver (one deal) and by ``poll_won_deals`` (deals whose webhooks were
lost, and failed deals worth retrying). ``dry_run`` builds and shows the invoices without creating
anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from dealbooks.exceptions import DealbooksError
from dealbooks.flows.context import CRMS, RunContext
from dealbooks.tasks.invoicing import RUN_KIND, DealOutcome, company_context, invoice_one_deal

POLL_OVERLAP = timedelta(minutes=10)  # deals updated just before the last poll are looked at again


@task(name="read-quickbooks-company", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def read_company(ctx: RunContext) -> Any:
    return company_context(ctx.qbo, ctx.settings)


@task(name="invoice-deal", task_run_name="invoice {crm}:{deal_id}", cache_policy=NO_CACHE)
def invoice_deal(ctx: RunContext, company: Any, crm: str, deal_id: str, dry_run: bool) -> DealOutcome:
    return invoice_one_deal(crm_name=crm, deal_id=deal_id, crm=ctx.crm(crm), qbo=ctx.qbo, ledger=ctx.ledger,
                            settings=ctx.settings, company=company, dry_run=dry_run,
                            flow_run_id=str(flow_run.get_id() or ""), customers=ctx.customers)


@flow(name="invoice-on-deal-won", log_prints=True)
def invoice_on_deal_won(crm: str, deal_ids: list[str], dry_run: bool = False,
                        blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Create one QuickBooks invoice per won deal and write it back to the deal.

    Args:
        crm: "pipedrive" or "hubspot".
        deal_ids: the CRM's deal ids.
        dry_run: build and show the invoices (markdown artifact) without creating anything.
        blocks: block document names overriding the defaults (see ``dealbooks.flows.context``).

    Returns:
        Counts per outcome and the per-deal results.
    """
    ctx = RunContext(blocks or {})
    deal_ids = [str(d) for d in dict.fromkeys(deal_ids)]
    company = read_company_or_record(ctx, crm, deal_ids, dry_run)
    outcomes = [invoice_deal(ctx, company, crm, deal_id, dry_run) for deal_id in deal_ids]
    return report(outcomes, dry_run)


def read_company_or_record(ctx: RunContext, crm: str, deal_ids: list[str], dry_run: bool) -> Any:
    """The company context; when QBO cannot be read, every deal is recorded as failed first."""
    try:
        return read_company(ctx)
    except DealbooksError as exc:
        if not dry_run:
            ctx.ledger.records.record_many(RUN_KIND, "deal", [(f"{crm}:{d}", "failed", exc.category, exc.message)
                                                              for d in deal_ids], str(flow_run.get_id() or ""))
        raise


@flow(name="poll-won-deals", log_prints=True)
def poll_won_deals(crms: list[str] | None = None, dry_run: bool = False,
                   blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Find won deals not yet invoiced (lost webhooks, earlier failures) and invoice them.

    Reads each CRM's won deals updated since the last poll (minus a small overlap), plus every
    deal whose last attempt failed, and runs them through the same path as a webhook would.
    """
    logger = get_run_logger()
    ctx = RunContext(blocks or {})
    crms = crms or ctx.configured_crms()
    company = read_company(ctx)
    outcomes: list[DealOutcome] = []
    for crm in crms:
        cursor_name = f"poll-won:{crm}"
        since_text = ctx.ledger.cursors.get(cursor_name)
        since = datetime.fromisoformat(since_text) - POLL_OVERLAP if since_text else None
        started = datetime.now(timezone.utc)
        won = [deal.id for deal in ctx.crm(crm).list_won_deals(since)]
        retry = [r.record_key.split(":", 1)[1] for r in ctx.ledger.records.failed(RUN_KIND)
                 if r.record_key.startswith(f"{crm}:")]
        todo = [d for d in dict.fromkeys(won + retry)
                if ctx.ledger.links.get(crm, d) is None or d in retry]
        logger.info("%s: %d won deals since %s, %d failed to retry, %d to invoice",
                    crm, len(won), since_text or "the beginning", len(retry), len(todo))
        outcomes += [invoice_deal(ctx, company, crm, deal_id, dry_run) for deal_id in todo]
        if not dry_run:
            ctx.ledger.cursors.set(cursor_name, started.isoformat())
    return report(outcomes, dry_run)


def report(outcomes: list[DealOutcome], dry_run: bool) -> dict[str, Any]:
    """Counts, a table artifact of every deal's outcome, and the previews of a dry run."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    rows = [{"deal": o.key, "outcome": o.outcome, "category": o.category, "invoice": o.doc_number or o.invoice_id,
             "total": str(o.total or ""), "message": o.message} for o in outcomes]
    if rows:
        create_table_artifact(key="invoice-on-won" if not dry_run else "invoice-preview", table=rows,
                              description=f"Deals processed: {counts}")
    if dry_run and any(o.draft for o in outcomes):
        create_markdown_artifact(key="invoice-preview-detail", markdown=preview_markdown(outcomes),
                                 description="Invoices that would be created (dry run)")
    return {"counts": counts, "deals": rows}


def preview_markdown(outcomes: list[DealOutcome]) -> str:
    """The invoices a dry run would create, one section per deal."""
    parts = ["# Invoice preview (dry run: nothing was created)"]
    for o in outcomes:
        if o.draft is None:
            parts.append(f"## {o.key}: {o.outcome} ({o.category})\n\n{_md(o.message)}")
            continue
        body = o.draft.payload
        rows = "\n".join(f"| {_md(d)} | {q.normalize():f} | {p:.2f} | {a:.2f} |" for d, q, p, a in o.draft.lines)
        parts.append(f"## {o.key}: {_md(o.message)}\n\n"
                     f"Date {body['TxnDate']}, due {body.get('DueDate', '-')}, "
                     f"currency {(body.get('CurrencyRef') or {}).get('value', 'home')}, "
                     f"email {_md(body['BillEmail']['Address'])}\n\n"
                     f"| Description | Qty | Unit price | Amount |\n|---|---:|---:|---:|\n{rows}\n\n"
                     f"**Total {o.draft.total}**")
    return "\n\n".join(parts) + "\n"


def _md(text: str) -> str:
    """Text safe inside a markdown table cell (no pipes, no raw HTML)."""
    return (text or "").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


__all__ = ["CRMS", "invoice_on_deal_won", "poll_won_deals"]
