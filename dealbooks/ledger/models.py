"""The ledger's tables: dealbooks' own memory, separate from Prefect's database.

Every uniqueness guarantee the product relies on is a database constraint here, so it holds
across retries, processes and workers: one link per CRM deal and purpose, one deal per QBO
invoice, one inbox row per sender event, one notification per kind and key, one event per
dedupe key.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Money = Numeric(18, 2)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


PK = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER keys


class DealInvoiceLink(Base):
    """A QBO invoice belonging to a CRM deal. ``purpose`` is "won" for the invoice dealbooks
    creates when the deal is won, or ``linked:<invoice id>`` for existing invoices linked later."""

    __tablename__ = "deal_invoice_links"
    __table_args__ = (
        UniqueConstraint("crm", "deal_id", "purpose", name="uq_link_deal_purpose"),
        UniqueConstraint("realm_id", "invoice_id", name="uq_link_invoice"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    crm: Mapped[str] = mapped_column(String(20))
    deal_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(80), default="won")
    realm_id: Mapped[str] = mapped_column(String(32))
    invoice_id: Mapped[str] = mapped_column(String(32))
    doc_number: Mapped[str] = mapped_column(String(32), default="")
    customer_id: Mapped[str] = mapped_column(String(32), default="")
    request_id: Mapped[str] = mapped_column(String(64), default="")
    origin: Mapped[str] = mapped_column(String(16), default="created")  # created | linked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceSnapshot(Base):
    """The last known state of a QBO invoice, compared against on every sync."""

    __tablename__ = "invoice_snapshots"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc_number: Mapped[str] = mapped_column(String(32), default="")
    customer_id: Mapped[str] = mapped_column(String(32), default="")
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3), default="")
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    txn_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    bill_email: Mapped[str] = mapped_column(String(100), default="")
    email_status: Mapped[str] = mapped_column(String(20), default="")
    invoice_link: Mapped[str] = mapped_column(Text, default="")
    sync_token: Mapped[str] = mapped_column(String(16), default="")
    last_updated: Mapped[datetime | None] = mapped_column(nullable=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceEvent(Base):
    """A status change or payment, appended once (``dedupe_key``): the outbox notifications read."""

    __tablename__ = "invoice_events"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_event_dedupe"),
        Index("ix_event_kind_id", "kind", "id"),
        Index("ix_event_invoice", "realm_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # status_changed | payment_received | ...
    realm_id: Mapped[str] = mapped_column(String(32))
    invoice_id: Mapped[str] = mapped_column(String(32))
    old_status: Mapped[str] = mapped_column(String(20), default="")
    new_status: Mapped[str] = mapped_column(String(20), default="")
    payment_id: Mapped[str] = mapped_column(String(32), default="")
    amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SyncRecord(Base):
    """The latest outcome of one record in one kind of run: synced, excluded or failed."""

    __tablename__ = "sync_records"
    __table_args__ = (
        UniqueConstraint("run_kind", "record_key", name="uq_sync_record"),
        Index("ix_sync_outcome", "run_kind", "outcome"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    run_kind: Mapped[str] = mapped_column(String(40))
    record_type: Mapped[str] = mapped_column(String(20))  # deal | invoice
    record_key: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(10))  # synced | excluded | failed
    category: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    flow_run_id: Mapped[str] = mapped_column(String(40), default="")
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """A webhook delivery received, deduplicated by the sender's event id."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbox_event"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20))  # pipedrive | hubspot | quickbooks
    event_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="received")  # received|dispatched|ignored|failed
    subject: Mapped[str] = mapped_column(String(120), default="")  # e.g. "pipedrive:42"
    detail: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """A notification sent at most once per ``(kind, key)`` (a reminder step, a payment alert)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_notification"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="sending")  # sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SyncCursor(Base):
    """Where an incremental job resumes (e.g. the CDC ``changedSince`` per realm)."""

    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
