"""Invoice actions as flows, so that a person can run them from the Prefect UI ("Run" → parameters).

Each flow does one action (``dealbooks.tasks.invoice_actions``) and leaves a markdown artifact with
the result; a refusal fails the run with the reason as its message.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dealbooks.flows.context import RunContext
from dealbooks.tasks import invoice_actions as actions


def _context(blocks: dict[str, str] | None) -> RunContext:
    return RunContext(blocks or {})


@flow(name="invoice-send", log_prints=True)
def invoice_send(invoice_id: str, to: str | None = None, blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Email an invoice from QuickBooks (to its billing email, or ``to``, which replaces it)."""
    result = actions.send_invoice(_context(blocks), invoice_id, to)
    create_markdown_artifact(key="invoice-send", markdown=f"# Invoice sent\n\n{result['message']}")
    return result


@flow(name="invoice-share-link", log_prints=True)
def invoice_share_link(invoice_id: str, blocks: dict[str, str] | None = None) -> str:
    """The customer's view/pay link of an invoice, when QuickBooks gives one."""
    link = actions.share_link(_context(blocks), invoice_id)
    create_markdown_artifact(key="invoice-share-link", markdown=f"# Share link of invoice {invoice_id}\n\n<{link}>")
    return link


@flow(name="invoice-void", log_prints=True)
def invoice_void(invoice_id: str, blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Void an invoice in QuickBooks (refused when it has payments or is voided already)."""
    state = actions.void_invoice(_context(blocks), invoice_id)
    create_markdown_artifact(key="invoice-void", markdown=f"# Invoice {state.doc_number or invoice_id} voided")
    return {"invoice_id": invoice_id, "doc_number": state.doc_number, "status": str(state.status)}


@flow(name="invoice-delete", log_prints=True)
def invoice_delete(invoice_id: str, blocks: dict[str, str] | None = None) -> dict[str, Any]:
    """Delete an invoice in QuickBooks and unlink it from its deal."""
    result = actions.delete_invoice(_context(blocks), invoice_id)
    create_markdown_artifact(key="invoice-delete", markdown=f"# Invoice deleted\n\n{result['message']}")
    return result


@flow(name="invoice-list", log_prints=True)
def invoice_list(crm: str | None = None, deal_id: str | None = None, customer_id: str | None = None,
                 since: date | None = None, until: date | None = None,
                 blocks: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A deal's or a customer's invoices in a date range, as a table artifact."""
    rows = actions.list_invoices(_context(blocks), crm=crm, deal_id=deal_id, customer_id=customer_id,
                                 since=since, until=until)
    table = [{"id": r.invoice_id, "number": r.doc_number, "date": str(r.txn_date or ""), "due": str(r.due_date or ""),
              "total": str(r.total), "balance": str(r.balance), "currency": r.currency, "status": r.status,
              "customer": r.customer, "deal": r.deal} for r in rows]
    create_table_artifact(key="invoice-list", table=table or [{"id": "", "status": "no invoices"}],
                          description=f"{len(rows)} invoice(s)")
    return table


__all__ = ["invoice_delete", "invoice_list", "invoice_send", "invoice_share_link", "invoice_void"]
