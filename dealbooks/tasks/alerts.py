"""Payment alerts: one Slack message per payment event in the ledger, at most once.

Events are read from the ledger's outbox (``payment_received``), never by re-diffing QBO. Each is
claimed in ``ledger.notifications`` (kind ``payment_alert``, key = the event's dedupe key) before
posting: a rerun, a second worker or a retried task cannot post twice. A Slack failure (still
rate-limited after the Retry-After retries, 5xx, ``ok: false``, unreachable) marks the claim failed,
so the next run posts it; it is recorded as a failed record and never raises.

A cursor (the last event id handled) keeps each run proportional to the new events; it never moves
past a failed event, so those are looked at again. Payments on invoices not linked to a deal get
no alert (nobody owns them) and are recorded as excluded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dealbooks.clients.crm import CrmClient
from dealbooks.domain.status import parse_date, to_decimal
from dealbooks.exceptions import NotificationError
from dealbooks.ledger import Ledger
from dealbooks.ledger.models import DealInvoiceLink, InvoiceEvent
from dealbooks.notifications import PaymentAlert, SlackNotifier, render_payment_alert

log = logging.getLogger("dealbooks.alerts")
ALERT_KIND = "payment_alert"
RUN_KIND = "payment_alerts"
CURSOR = "payment-alerts:last-event-id"
CRM_LABELS = {"pipedrive": "Pipedrive", "hubspot": "HubSpot"}


@dataclass
class AlertReport:
    """What one alerts run did."""

    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # key, category, message
    excluded: list[str] = field(default_factory=list)
    already: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"sent": len(self.sent), "failed": len(self.failed), "excluded": len(self.excluded),
                "already_sent": self.already,
                "failures": [{"payment": k, "category": c, "message": m} for k, c, m in self.failed]}


@dataclass
class DealInfo:
    """What the alert shows about the deal and where it goes."""

    title: str = ""
    owner_id: str = ""
    owner_name: str = ""
    pipeline_id: str = ""
    url: str = ""


def build_alert(event: InvoiceEvent, link: DealInvoiceLink, deal: DealInfo) -> PaymentAlert:
    """The ``PaymentAlert`` of one payment event."""
    payload = event.payload or {}
    return PaymentAlert(
        customer_name=payload.get("customer_name") or "Customer",
        invoice_number=payload.get("doc_number") or link.doc_number or event.invoice_id,
        amount=to_decimal(event.amount or 0),
        balance=to_decimal(payload.get("balance_after") or payload.get("balance") or 0),
        currency=payload.get("currency") or "USD",
        invoice_total=to_decimal(payload["total"]) if payload.get("total") else None,
        paid_on=parse_date(payload.get("payment_date")) or _day(event),
        deal_name=deal.title or None, deal_url=deal.url or None,
        invoice_url=payload.get("invoice_url") or None, owner_name=deal.owner_name or None,
        crm_name=CRM_LABELS.get(link.crm, link.crm), payment_reference=event.payment_id or None)


def _day(event: InvoiceEvent) -> date | None:
    return event.occurred_at.date() if event.occurred_at else None


def deal_info(crm: CrmClient | None, deal_id: str) -> DealInfo:
    """Title, owner and pipeline of the deal; with the CRM unreachable, only its URL (default channel)."""
    if crm is None:
        return DealInfo()
    url = ""
    try:
        url = crm.deal_url(deal_id)
        deal = crm.get_deal(deal_id)
    except Exception as exc:  # the alert still goes out, to the default channel
        log.warning("deal %s could not be read for the payment alert: %s", deal_id, exc)
        return DealInfo(url=url)
    return DealInfo(deal.title, deal.owner_id, deal.owner_name, deal.pipeline_id, deal.url or url)


def send_payment_alerts(*, ledger: Ledger, slack: Any, crm_for: Callable[[str], CrmClient | None],
                        flow_run_id: str = "", notifier: SlackNotifier | None = None) -> AlertReport:
    """Post one message per new payment event; record every outcome. Never raises for one payment.

    Args:
        ledger: The ledger (events, links, notifications, records, cursor).
        slack: The ``SlackWorkspace`` block (channel routing, client).
        crm_for: The CRM client by name (None when that CRM is not configured).
        flow_run_id: Stored with each record.
        notifier: A ready notifier (tests); built from ``slack`` otherwise.
    """
    report = AlertReport()
    after = int(ledger.cursors.get(CURSOR) or 0)
    events = ledger.events.list("payment_received", after_id=after, limit=100_000)
    if not events:
        return report
    notifier = notifier or SlackNotifier(slack.get_client())
    links: dict[tuple[str, str], DealInvoiceLink] = {}
    for realm_id in {e.realm_id for e in events}:
        found = ledger.links.for_invoices(realm_id, sorted({e.invoice_id for e in events if e.realm_id == realm_id}))
        links.update({(realm_id, invoice_id): link for invoice_id, link in found.items()})
    deals: dict[tuple[str, str], DealInfo] = {}
    cursor, blocked = after, False
    records: list[tuple[str, str, str, str]] = []
    for event in events:
        outcome = _one(event, links.get((event.realm_id, event.invoice_id)), ledger, slack, notifier, crm_for, deals)
        if outcome is not None:
            records.append((event.dedupe_key, *outcome))
            if outcome[0] == "synced":
                report.sent.append(event.dedupe_key)
            elif outcome[0] == "excluded":
                report.excluded.append(event.dedupe_key)
            else:
                report.failed.append((event.dedupe_key, outcome[1], outcome[2]))
                blocked = True
        else:
            report.already += 1
        if not blocked:
            cursor = event.id
    ledger.records.record_many(RUN_KIND, "payment", records, flow_run_id)  # type: ignore[arg-type]
    if cursor != after:
        ledger.cursors.set(CURSOR, str(cursor))
    return report


def _one(event: InvoiceEvent, link: DealInvoiceLink | None, ledger: Ledger, slack: Any, notifier: SlackNotifier,
         crm_for: Callable[[str], CrmClient | None], deals: dict[tuple[str, str], DealInfo]) -> tuple[str, str, str] | None:
    """Alert one payment: ``(outcome, category, message)``, or None when it was sent before."""
    if link is None:
        return ("excluded", "not_linked", "the invoice is not linked to a deal")
    if not ledger.notifications.claim(ALERT_KIND, event.dedupe_key, {"invoice_id": event.invoice_id}):
        return None
    try:
        key = (link.crm, link.deal_id)
        if key not in deals:
            deals[key] = deal_info(_crm(crm_for, link.crm), link.deal_id)
        deal = deals[key]
        channel = slack.channel_for(owner_id=deal.owner_id, pipeline_id=deal.pipeline_id)
        posted = notifier.post(channel, render_payment_alert(build_alert(event, link, deal)))
    except NotificationError as exc:
        ledger.notifications.mark_failed(ALERT_KIND, event.dedupe_key, exc.message)
        return ("failed", exc.category, exc.message)
    except Exception as exc:  # nothing was posted: a later run tries again
        ledger.notifications.mark_failed(ALERT_KIND, event.dedupe_key, f"{type(exc).__name__}: {exc}")
        log.exception("payment alert %s failed", event.dedupe_key)
        return ("failed", "internal", f"{type(exc).__name__}: {exc}"[:500])
    ledger.notifications.mark_sent(ALERT_KIND, event.dedupe_key, {"channel": posted.channel, "ts": posted.ts})
    return ("synced", "", f"posted to {channel}")


def _crm(crm_for: Callable[[str], CrmClient | None], name: str) -> CrmClient | None:
    try:
        return crm_for(name)
    except Exception as exc:  # no block for that CRM: alert without deal details
        log.warning("%s is not usable for payment alerts: %s", name, exc)
        return None
