"""Deal owners for invoices, the overdue summary message and the AR aging report from the ledger.

Everything here reads the ledger's snapshots (no QBO call): overdue and aging are re-derived for the
day asked. Owners come from the CRM, one ``get_deal`` per deal with an open invoice.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal

import pandas as pd

from dealbooks.domain.aging import aging_report
from dealbooks.domain.snapshot_rows import state_from_row
from dealbooks.domain.status import InvoiceStatus
from dealbooks.notifications import OverdueInvoice, SlackNotifier, render_overdue_summary
from dealbooks.exceptions import NotificationError

log = logging.getLogger("dealbooks.overdue")
SUMMARY_KIND = "overdue_summary"


def owner_names(ctx: Any, realm_id: str, invoice_ids: list[str]) -> dict[str, str]:
    """Deal owner's name (or id) per linked invoice; unreadable deals are left out (Unassigned)."""
    links = ctx.ledger.links.for_invoices(realm_id, invoice_ids) if invoice_ids else {}
    configured = set(ctx.configured_crms()) if links else set()
    owners: dict[tuple[str, str], str] = {}
    out: dict[str, str] = {}
    for invoice_id, link in links.items():
        key = (link.crm, link.deal_id)
        if key not in owners:
            owners[key] = ""
            if link.crm in configured:
                try:
                    deal = ctx.crm(link.crm).get_deal(link.deal_id)
                    owners[key] = deal.owner_name or deal.owner_id
                except Exception as exc:  # a deleted deal or a CRM outage: shown as Unassigned
                    log.warning("owner of %s:%s unknown: %s", link.crm, link.deal_id, exc)
        if owners[key]:
            out[invoice_id] = owners[key]
    return out


def aging_from_ledger(ctx: Any, today: date, by: Literal["customer", "owner"] = "customer") -> pd.DataFrame:
    """The AR aging report over the ledger's snapshots (owners looked up only for ``by="owner"``)."""
    realm_id = ctx.qbo.realm_id
    frame = ctx.ledger.snapshots.load(realm_id)
    owners: dict[str, str] = {}
    if by == "owner" and not frame.empty:
        live = frame.loc[pd.to_numeric(frame["balance"], errors="coerce").fillna(0).gt(0)
                         & ~frame["status"].isin(["paid", "voided", "deleted"])]
        owners = owner_names(ctx, realm_id, [str(i) for i in live["invoice_id"]])
    return aging_report(frame, today, by=by, owners=owners)


def overdue_invoices(ctx: Any, today: date) -> list[OverdueInvoice]:
    """Every invoice overdue on ``today``, with its owner."""
    realm_id = ctx.qbo.realm_id
    frame = ctx.ledger.snapshots.load(realm_id)
    if frame.empty:
        return []
    candidates = frame.loc[pd.to_numeric(frame["balance"], errors="coerce").fillna(0).gt(0)
                           & pd.to_datetime(frame["due_date"], errors="coerce").lt(pd.Timestamp(today))]
    states = [state_from_row(row, today) for row in candidates.to_dict("records")]
    states = [s for s in states if s.status == InvoiceStatus.OVERDUE]
    owners = owner_names(ctx, realm_id, [s.invoice_id for s in states])
    from dealbooks.tasks.invoicing import invoice_app_url

    return [OverdueInvoice(customer_name=s.customer_name or f"Customer {s.customer_id}",
                           invoice_number=s.doc_number or s.invoice_id, balance=s.balance,
                           days_overdue=s.days_overdue, currency=s.currency or "USD",
                           owner_name=owners.get(s.invoice_id),
                           invoice_url=s.invoice_link or invoice_app_url(ctx.qbo, s.invoice_id)) for s in states]


def post_overdue_summary(ctx: Any, today: date) -> dict[str, Any]:
    """Post the day's overdue summary to ``SlackWorkspace.overdue_channel`` at most once per day."""
    if ctx.slack is None:
        return {"posted": False, "reason": "no slack block"}
    invoices = overdue_invoices(ctx, today)
    key = f"{ctx.qbo.realm_id}:{today.isoformat()}"
    if not ctx.ledger.notifications.claim(SUMMARY_KIND, key, {"invoices": len(invoices)}):
        return {"posted": False, "reason": "already posted today", "overdue": len(invoices)}
    channel = ctx.slack.overdue_channel
    try:
        posted = SlackNotifier(ctx.slack.get_client()).post(channel, render_overdue_summary(invoices, as_of=today))
    except NotificationError as exc:
        ctx.ledger.notifications.mark_failed(SUMMARY_KIND, key, exc.message)
        return {"posted": False, "reason": exc.message, "category": exc.category, "overdue": len(invoices)}
    ctx.ledger.notifications.mark_sent(SUMMARY_KIND, key, {"channel": posted.channel, "ts": posted.ts})
    return {"posted": True, "channel": channel, "overdue": len(invoices)}
