"""Invoice status derivation from QBO invoice JSON (pure, no I/O).

QBO has no status field; dealbooks derives one (see API_FACTS, "No status field exists").
Precedence, first match wins:

1. ``deleted``  — CDC / delete response ``{"status": "Deleted"}``.
2. ``voided``   — ``PrivateNote`` starts with "Voided" and ``TotalAmt`` is 0.
3. ``paid``     — ``Balance`` 0 and ``TotalAmt`` > 0.
4. ``overdue``  — ``Balance`` > 0 and ``DueDate`` < today (company timezone). Overdue wins over
   partially paid: it is the actionable fact (reminders, aging). ``InvoiceState.amount_paid`` and
   ``InvoiceState.is_partially_paid`` keep the payment fact available.
5. ``partially_paid`` — 0 < ``Balance`` < ``TotalAmt``.
6. ``sent``     — ``EmailStatus`` is EmailSent.
7. ``open``     — everything else (including a non-voided zero-amount invoice).

``amount_paid`` is ``TotalAmt - Balance``: it includes a deposit taken on the invoice and credits
applied, because both lower what the customer still owes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

ZERO = Decimal("0")


class InvoiceStatus(StrEnum):
    """Derived lifecycle status of one QBO invoice."""

    OPEN = "open"
    SENT = "sent"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    VOIDED = "voided"
    DELETED = "deleted"


CLOSED_STATUSES = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOIDED, InvoiceStatus.DELETED})
"""Statuses after which nothing more is owed (no reminders, not in aging)."""


@dataclass(frozen=True)
class InvoiceState:
    """Everything the sync, reminders, roll-up and aging need from one QBO invoice.

    Attributes:
        invoice_id: QBO ``Id``.
        status: The derived status (see module docstring for precedence).
        total: ``TotalAmt`` (0 after a void).
        balance: ``Balance`` (open amount).
        amount_paid: ``total - balance``, never negative.
        due_date: ``DueDate``.
        currency: ``CurrencyRef.value``; "" when QBO omits it (single-currency company).
        doc_number: ``DocNumber``.
        customer_id: ``CustomerRef.value``.
        customer_name: ``CustomerRef.name``.
        email_status: ``EmailStatus`` as QBO gives it.
        bill_email: ``BillEmail.Address``.
        invoice_link: ``InvoiceLink`` (customer share/pay link) when QBO returned one.
        payment_ids: Ids of payments linked to the invoice (``LinkedTxn`` of type Payment).
        last_updated: ``MetaData.LastUpdatedTime`` in UTC.
        sync_token: ``SyncToken``.
        txn_date: ``TxnDate``.
        is_overdue: Balance > 0 and due date before ``today``.
        days_overdue: Calendar days past the due date (0 when not overdue).
    """

    invoice_id: str
    status: InvoiceStatus
    total: Decimal = ZERO
    balance: Decimal = ZERO
    amount_paid: Decimal = ZERO
    due_date: date | None = None
    currency: str = ""
    doc_number: str = ""
    customer_id: str = ""
    customer_name: str = ""
    email_status: str = ""
    bill_email: str = ""
    invoice_link: str = ""
    payment_ids: tuple[str, ...] = ()
    last_updated: datetime | None = None
    sync_token: str = ""
    txn_date: date | None = None
    is_overdue: bool = False
    days_overdue: int = 0

    @property
    def is_partially_paid(self) -> bool:
        """True when some but not all of a non-zero total is paid (also while overdue)."""
        return self.amount_paid > 0 and self.balance > 0

    @property
    def is_open(self) -> bool:
        """True when money is still owed on a live invoice."""
        return self.status not in CLOSED_STATUSES and self.balance > 0


def company_today(now_utc: datetime, tz_name: str) -> date:
    """The calendar date in the company's timezone at ``now_utc``.

    Args:
        now_utc: The current instant; a naive value is taken as UTC.
        tz_name: IANA timezone of the QBO company, e.g. "America/Los_Angeles".

    Returns:
        The local date there (06:30 UTC on 2 May is still 1 May in Los Angeles).
    """
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=UTC)
    return now_utc.astimezone(ZoneInfo(tz_name)).date()


def company_timezone(preferences: dict[str, Any], company_info: dict[str, Any] | None, fallback: str) -> str:
    """The company's IANA timezone: QBO keeps it as ``CompanyTimeZone`` in a ``NameValue`` list
    (``Preferences.OtherPrefs``; some companies have it on ``CompanyInfo``); else ``fallback``."""
    pairs = ((preferences.get("OtherPrefs") or {}).get("NameValue") or []) + ((company_info or {}).get("NameValue") or [])
    zone = next((str(nv.get("Value")) for nv in pairs if nv.get("Name") == "CompanyTimeZone" and nv.get("Value")), "")
    try:
        ZoneInfo(zone or fallback)
    except (KeyError, ValueError):
        return "UTC"
    return zone or fallback


def to_decimal(value: Any) -> Decimal:
    """A QBO amount as ``Decimal``; ``None`` and "" (python-quickbooks' unset) become 0.

    Raises:
        ValueError: The value is not a number.
    """
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def parse_date(value: Any) -> date | None:
    """A QBO date ("2023-03-20") or an existing ``date``; empty values become ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def parse_timestamp(value: Any) -> datetime | None:
    """A QBO timestamp ("2023-02-18T13:16:17-08:00") as an aware UTC ``datetime``, or ``None``."""
    if not value:
        return None
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _unwrap(invoice: dict[str, Any]) -> dict[str, Any]:
    inner = invoice.get("Invoice")
    return inner if isinstance(inner, dict) else invoice


def _ref(invoice: dict[str, Any], key: str, field: str) -> str:
    ref = invoice.get(key) or {}
    return str(ref.get(field) or "") if isinstance(ref, dict) else ""


def _is_email_sent(email_status: str) -> bool:
    return email_status.replace("_", "").lower() == "emailsent"


def _status(raw: dict[str, Any], total: Decimal, balance: Decimal, overdue: bool) -> InvoiceStatus:
    if str(raw.get("status", "")).lower() == "deleted":
        return InvoiceStatus.DELETED
    if str(raw.get("PrivateNote") or "").startswith("Voided") and total == 0:
        return InvoiceStatus.VOIDED
    if balance == 0 and total > 0:
        return InvoiceStatus.PAID
    if overdue:
        return InvoiceStatus.OVERDUE
    if 0 < balance < total:
        return InvoiceStatus.PARTIALLY_PAID
    if _is_email_sent(str(raw.get("EmailStatus") or "")):
        return InvoiceStatus.SENT
    return InvoiceStatus.OPEN


def invoice_state(invoice: dict[str, Any], today: date) -> InvoiceState:
    """Derive the full ``InvoiceState`` of a QBO invoice.

    Args:
        invoice: QBO Invoice JSON, bare or wrapped as ``{"Invoice": {...}}``; a CDC deletion
            stub ``{"Id", "status": "Deleted", ...}`` is accepted.
        today: The company-local date (see ``company_today``).

    Returns:
        The state, with amounts as ``Decimal``.
    """
    raw = _unwrap(invoice)
    total = to_decimal(raw.get("TotalAmt"))
    balance = to_decimal(raw.get("Balance"))
    due = parse_date(raw.get("DueDate"))
    deleted = str(raw.get("status", "")).lower() == "deleted"
    overdue = not deleted and balance > 0 and due is not None and due < today
    status = _status(raw, total, balance, overdue)
    overdue = overdue and status == InvoiceStatus.OVERDUE
    linked = raw.get("LinkedTxn") or []
    return InvoiceState(
        invoice_id=str(raw.get("Id", "")),
        status=status,
        total=total,
        balance=balance,
        amount_paid=max(total - balance, ZERO),
        due_date=due,
        currency=_ref(raw, "CurrencyRef", "value"),
        doc_number=str(raw.get("DocNumber") or ""),
        customer_id=_ref(raw, "CustomerRef", "value"),
        customer_name=_ref(raw, "CustomerRef", "name"),
        email_status=str(raw.get("EmailStatus") or ""),
        bill_email=_ref(raw, "BillEmail", "Address"),
        invoice_link=str(raw.get("InvoiceLink") or ""),
        payment_ids=tuple(str(t.get("TxnId")) for t in linked if t.get("TxnType") == "Payment"),
        last_updated=parse_timestamp((raw.get("MetaData") or {}).get("LastUpdatedTime")),
        sync_token=str(raw.get("SyncToken", "")),
        txn_date=parse_date(raw.get("TxnDate")),
        is_overdue=overdue,
        days_overdue=(today - due).days if overdue and due is not None else 0,
    )


def derive_status(invoice: dict[str, Any], today: date) -> InvoiceStatus:
    """The derived status of a QBO invoice on ``today`` (company-local date).

    Args:
        invoice: QBO Invoice JSON (see ``invoice_state``).
        today: The company-local date.

    Returns:
        One ``InvoiceStatus``; precedence is documented in the module docstring.
    """
    return invoice_state(invoice, today).status
