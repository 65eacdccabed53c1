"""Deal → QBO invoice body: lines, tax, currency, dates, numbering. Pure: no I/O.

The flow gathers what QBO knows (``CompanyContext``, the matched ``QboCustomer``) and this module
decides; every refusal is an ``InvoiceBuildError`` whose category and message a revenue-ops user
can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dealbooks.domain.customer import CustomerDraft, QboCustomer
from dealbooks.domain.deal import Deal, LineItem
from dealbooks.domain.ids import make_request_id
from dealbooks.exceptions import InvoiceBuildError

CENT = Decimal("0.01")
MAX_QUANTITY = Decimal("1000000")
MAX_LINES = 750
MAX_DESCRIPTION = 4000


@dataclass(frozen=True)
class ItemRef:
    id: str
    name: str
    sku: str = ""


@dataclass(frozen=True)
class CompanyContext:
    """What QBO says about the company, read once per run."""

    country: str = "US"
    home_currency: str = "USD"
    multicurrency: bool = False
    custom_txn_numbers: bool = False
    timezone: str = "America/Los_Angeles"
    items_by_sku: dict[str, ItemRef] = field(default_factory=dict)
    items_by_id: dict[str, ItemRef] = field(default_factory=dict)
    fallback_item: ItemRef | None = None
    tax_code_ids: frozenset[str] = frozenset()
    term_days: dict[str, int] = field(default_factory=dict)
    online_payments: bool = False  # SalesFormsPrefs.ETransactionPaymentEnabled: invoices can carry a pay link

    @property
    def is_us(self) -> bool:
        return self.country.upper() in ("US", "USA", "UNITED STATES")


@dataclass(frozen=True)
class InvoiceDraft:
    """A ready-to-send QBO invoice body and how to find it again."""

    payload: dict[str, Any]
    request_id: str
    marker: str
    total: Decimal
    lines: tuple[tuple[str, Decimal, Decimal, Decimal], ...]  # description, qty, unit price, amount


def deal_marker(deal: Deal, purpose: str = "won") -> str:
    """Written into PrivateNote; lookup-before-create finds the invoice by it."""
    return f"dealbooks:{deal.crm}:{deal.id}:{purpose}"


def request_id_for(deal: Deal, realm_id: str, purpose: str = "won") -> str:
    """Deterministic QBO ``requestid`` (36 chars, fits batch's limit): same deal, same id."""
    return make_request_id(realm_id, deal_marker(deal, purpose))


def check_issuable(deal: Deal, settings: Any) -> None:
    """Refuse deals that are not won, or outside the settings' owners/pipelines."""
    if deal.status != "won":
        raise InvoiceBuildError(f"Deal {deal.id} is {deal.status}, not won: nothing to invoice.", category="not_won")
    if settings.allowed_owner_ids and deal.owner_id not in settings.allowed_owner_ids:
        raise InvoiceBuildError(
            f"Deal {deal.id} belongs to owner {deal.owner_id or '(none)'}, who may not issue invoices "
            "(InvoiceSettings.allowed_owner_ids).", category="not_allowed")
    if settings.pipelines and deal.pipeline_id not in settings.pipelines:
        raise InvoiceBuildError(f"Deal {deal.id} is in pipeline {deal.pipeline_id}, which is not invoiced "
                                "(InvoiceSettings.pipelines).", category="not_allowed")


def build_invoice(deal: Deal, settings: Any, company: CompanyContext, customer: QboCustomer,
                  draft: CustomerDraft, *, realm_id: str, today: date) -> InvoiceDraft:
    """The QBO invoice for a won deal.

    Raises:
        InvoiceBuildError: no_products, invalid_quantity, unknown_product, currency_mismatch,
            currency_missing, tax_code_missing, too_many_lines.
    """
    check_issuable(deal, settings)
    currency = _currency(deal, company, customer, settings)
    tax_code = _tax_code(company, settings)
    lines, discount, shown = _lines(deal, company, settings, tax_code)
    subtotal = sum((Decimal(str(line["Amount"])) for line in lines), Decimal(0))
    payload: dict[str, Any] = {
        "CustomerRef": {"value": customer.id},
        "Line": lines,
        "TxnDate": today.isoformat(),
        "BillEmail": {"Address": draft.email},
        "PrivateNote": f"{deal_marker(deal)} | {deal.title}"[:4000],
        "CustomerMemo": {"value": settings.customer_message[:1000]} if settings.customer_message else None,
    }
    if discount > 0:
        payload["Line"].append({"DetailType": "DiscountLineDetail", "Amount": float(discount),
                                "Description": "Discounts from the deal",
                                "DiscountLineDetail": {"PercentBased": False}})
    if settings.use_customer_terms and customer.terms_id in company.term_days:
        payload["SalesTermRef"] = {"value": customer.terms_id}
        payload["DueDate"] = (today + timedelta(days=company.term_days[customer.terms_id])).isoformat()
    else:
        payload["DueDate"] = (today + timedelta(days=settings.due_days)).isoformat()
    if company.multicurrency:
        payload["CurrencyRef"] = {"value": currency}
    if not company.is_us:
        payload["GlobalTaxCalculation"] = "TaxExcluded"
    if company.custom_txn_numbers:
        payload["DocNumber"] = f"{deal.crm[:2].upper()}-{deal.id}"[:21]
    if settings.send_on_create:
        payload["EmailStatus"] = "NeedToSend"
    if draft.address:
        payload["BillAddr"] = {k: v for k, v in {"Line1": draft.address.street, "City": draft.address.city,
                                                  "CountrySubDivisionCode": draft.address.region,
                                                  "PostalCode": draft.address.postal_code,
                                                  "Country": draft.address.country}.items() if v}
    payload = {k: v for k, v in payload.items() if v is not None}
    return InvoiceDraft(payload, request_id_for(deal, realm_id), deal_marker(deal), subtotal - discount, shown)


def _currency(deal: Deal, company: CompanyContext, customer: QboCustomer, settings: Any) -> str:
    currency = (deal.currency or "").upper()
    if not currency:
        raise InvoiceBuildError(f"Deal {deal.id} has no currency: set one on the deal.", category="currency_missing")
    customer_currency = (customer.currency or company.home_currency).upper()
    if not company.multicurrency or settings.currency_rule == "home_only":
        if currency != company.home_currency.upper():
            raise InvoiceBuildError(
                f"Deal {deal.id} is in {currency}, but QuickBooks invoices only in {company.home_currency} "
                "(multicurrency is off or InvoiceSettings.currency_rule is home_only): change the deal's "
                "currency or turn on multicurrency in QuickBooks.", category="currency_mismatch")
        return currency
    if currency != customer_currency:
        raise InvoiceBuildError(
            f"Deal {deal.id} is in {currency}, but QuickBooks customer {customer.display_name!r} bills in "
            f"{customer_currency}, and a customer's currency cannot change: change the deal's currency or "
            f"create a separate {currency} customer in QuickBooks.", category="currency_mismatch")
    return currency


def _tax_code(company: CompanyContext, settings: Any) -> str:
    if company.is_us:
        return "TAX" if settings.taxable_by_default else "NON"
    code = settings.default_tax_code
    if not code:
        raise InvoiceBuildError(
            f"This QuickBooks company is in {company.country}, where every line needs a tax code: set "
            "InvoiceSettings.default_tax_code to a TaxCode id.", category="tax_code_missing")
    if company.tax_code_ids and code not in company.tax_code_ids:
        raise InvoiceBuildError(f"Tax code {code!r} (InvoiceSettings.default_tax_code) does not exist in "
                                "QuickBooks: pick an id from Taxes > Tax codes.", category="tax_code_missing")
    return code


def _lines(deal: Deal, company: CompanyContext, settings: Any, tax_code: str
           ) -> tuple[list[dict[str, Any]], Decimal, tuple[tuple[str, Decimal, Decimal, Decimal], ...]]:
    if not deal.lines:
        raise InvoiceBuildError(f"Deal {deal.id} ({deal.title!r}) has no products: add products to the deal "
                                "so the invoice has lines.", category="no_products")
    if len(deal.lines) > MAX_LINES:
        raise InvoiceBuildError(f"Deal {deal.id} has {len(deal.lines)} products; QuickBooks allows {MAX_LINES} "
                                "lines on an invoice.", category="too_many_lines")
    lines: list[dict[str, Any]] = []
    shown: list[tuple[str, Decimal, Decimal, Decimal]] = []
    discount = Decimal(0)
    for line in deal.lines:
        _check_quantity(deal, line)
        item = _item_for(deal, line, company, settings)
        amount = (line.quantity * line.unit_price).quantize(CENT, ROUND_HALF_UP)
        discount += (amount - line.amount.quantize(CENT, ROUND_HALF_UP))
        description = (line.description or line.name)[:MAX_DESCRIPTION]
        lines.append({
            "DetailType": "SalesItemLineDetail",
            "Amount": float(amount),
            "Description": description,
            "SalesItemLineDetail": {"ItemRef": {"value": item.id, "name": item.name},
                                    "Qty": float(line.quantity), "UnitPrice": float(line.unit_price),
                                    "TaxCodeRef": {"value": tax_code}},
        })
        shown.append((description, line.quantity, line.unit_price, amount))
    return lines, discount.quantize(CENT), tuple(shown)


def _check_quantity(deal: Deal, line: LineItem) -> None:
    if line.quantity <= 0 or line.quantity > MAX_QUANTITY:
        raise InvoiceBuildError(f"Deal {deal.id}: product {line.name!r} has quantity {line.quantity}; it must be "
                                f"above 0 and at most {MAX_QUANTITY}.", category="invalid_quantity")
    if line.unit_price < 0:
        raise InvoiceBuildError(f"Deal {deal.id}: product {line.name!r} has a negative price {line.unit_price}; "
                                "give refunds as credit memos in QuickBooks.", category="invalid_price")
    if line.discount < 0 or (line.discount_type == "percentage" and line.discount > 100):
        raise InvoiceBuildError(f"Deal {deal.id}: product {line.name!r} has discount {line.discount}, which is "
                                "not between 0 and 100%.", category="invalid_price")


def _item_for(deal: Deal, line: LineItem, company: CompanyContext, settings: Any) -> ItemRef:
    for key in (line.product_id, line.sku):
        mapped = settings.item_mapping.get(key) if key else None
        if mapped and mapped in company.items_by_id:
            return company.items_by_id[mapped]
    if line.sku and line.sku in company.items_by_sku:
        return company.items_by_sku[line.sku]
    if settings.unmatched_products == "fallback" and company.fallback_item is not None:
        return company.fallback_item
    hint = ("set InvoiceSettings.fallback_item_id to a QuickBooks item for custom lines"
            if settings.unmatched_products == "fallback" else
            "add the SKU to a QuickBooks item or map it in InvoiceSettings.item_mapping")
    raise InvoiceBuildError(f"Deal {deal.id}: product {line.name!r} (SKU {line.sku or 'none'}) matches no "
                            f"QuickBooks item: {hint}.", category="unknown_product")
