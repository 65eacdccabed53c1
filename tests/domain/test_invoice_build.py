"""Deal → customer draft → QBO invoice body, and every refusal's category."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from dealbooks.blocks import InvoiceSettings
from dealbooks.domain.customer import (
    QboCustomer,
    customer_draft,
    customer_payload,
    customer_updates,
    resolve_source,
)
from dealbooks.domain.deal import Address, Deal, LineItem, Organization, Person
from dealbooks.domain.invoice import CompanyContext, ItemRef, build_invoice, request_id_for
from dealbooks.exceptions import InvoiceBuildError

TODAY = date(2026, 11, 21)
CONSULT = ItemRef("11", "Consulting", "CONSULT-HR")
SERVICES = ItemRef("1", "Services")
US = CompanyContext(items_by_sku={"CONSULT-HR": CONSULT}, items_by_id={"11": CONSULT, "1": SERVICES},
                    fallback_item=SERVICES, term_days={"3": 30})


def deal(**changes: object) -> Deal:
    base = Deal(
        crm="pipedrive", id="42", title="O'Brien & Sons — renewal", status="won", value=Decimal("1250"),
        currency="USD", owner_id="7", pipeline_id="1",
        organization=Organization("5", "O'Brien & Sons", Address("1 Main St", "Springfield", "IL", "62701", "US"),
                                  fields={"vat": "US-123"}),
        person=Person("9", "Seán O'Brien", "sean@obrien.example"),
        lines=(LineItem("1", "Consulting hours", Decimal("10"), Decimal("100"), sku="CONSULT-HR",
                        discount=Decimal("10")),
               LineItem("2", "Custom work", Decimal("1"), Decimal("350.5"), sku="NOPE")),
        fields={"abc123": "yes"})
    return replace(base, **changes)  # type: ignore[arg-type]


def build(d: Deal, settings: InvoiceSettings | None = None, company: CompanyContext = US,
          customer: QboCustomer | None = None):
    settings = settings or InvoiceSettings()
    draft = customer_draft(d, settings)
    customer = customer or QboCustomer("77", draft.display_name, "USD", draft.email)
    return build_invoice(d, settings, company, customer, draft, realm_id="9130", today=TODAY)


def test_sources_resolve_into_the_deal() -> None:
    d = deal()
    assert resolve_source(d, "organization.name") == "O'Brien & Sons"
    assert resolve_source(d, "organization.fields.vat") == "US-123"
    assert resolve_source(d, "deal.fields.abc123") == "yes"
    assert resolve_source(replace(d, person=None), "person.email") is None


def test_us_invoice_body() -> None:
    result = build(deal(), InvoiceSettings(tax_id_source="organization.fields.vat"))
    body = result.payload
    assert body["CustomerRef"] == {"value": "77"}
    assert body["TxnDate"] == "2026-11-21" and body["DueDate"] == "2026-12-21"
    assert body["BillEmail"] == {"Address": "sean@obrien.example"}
    first, second, discount = body["Line"]
    assert first["SalesItemLineDetail"]["ItemRef"]["value"] == "11"
    assert (first["Amount"], first["SalesItemLineDetail"]["Qty"], first["SalesItemLineDetail"]["UnitPrice"]) == (1000.0, 10.0, 100.0)
    assert first["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    assert second["SalesItemLineDetail"]["ItemRef"]["value"] == "1"  # unmatched SKU → fallback item
    assert discount == {"DetailType": "DiscountLineDetail", "Amount": 100.0, "Description": "Discounts from the deal",
                        "DiscountLineDetail": {"PercentBased": False}}
    assert result.total == Decimal("1250.50")
    assert "CurrencyRef" not in body and "DocNumber" not in body and "GlobalTaxCalculation" not in body
    assert body["PrivateNote"].startswith("dealbooks:pipedrive:42:won")
    assert body["BillAddr"]["City"] == "Springfield"


def test_request_id_is_deterministic_and_fits_batch() -> None:
    assert request_id_for(deal(), "9130") == request_id_for(deal(title="renamed"), "9130")
    assert request_id_for(deal(), "9130") != request_id_for(deal(id="43"), "9130")
    assert request_id_for(deal(), "9130") != request_id_for(deal(crm="hubspot"), "9130")
    assert len(request_id_for(deal(), "9130")) <= 36


def test_non_us_company_needs_a_tax_code_on_every_line() -> None:
    uk = replace(US, country="GB", home_currency="GBP", tax_code_ids=frozenset({"5"}))
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(currency="GBP"), company=uk, customer=QboCustomer("77", "x", "GBP"))
    assert info.value.category == "tax_code_missing" and "default_tax_code" in str(info.value)
    body = build(deal(currency="GBP"), InvoiceSettings(default_tax_code="5"), uk,
                 QboCustomer("77", "x", "GBP")).payload
    assert body["GlobalTaxCalculation"] == "TaxExcluded"
    assert {line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in body["Line"][:2]} == {"5"}
    with pytest.raises(InvoiceBuildError, match="does not exist"):
        build(deal(currency="GBP"), InvoiceSettings(default_tax_code="99"), uk, QboCustomer("77", "x", "GBP"))


def test_currency_rules() -> None:
    multi = replace(US, multicurrency=True)
    body = build(deal(currency="EUR"), company=multi, customer=QboCustomer("77", "x", "EUR")).payload
    assert body["CurrencyRef"] == {"value": "EUR"}
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(currency="EUR"), company=multi, customer=QboCustomer("77", "Acme", "USD"))
    assert info.value.category == "currency_mismatch" and "cannot change" in str(info.value)
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(currency="EUR"))  # multicurrency off
    assert info.value.category == "currency_mismatch"
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(currency=""))
    assert info.value.category == "currency_missing"


@pytest.mark.parametrize("changes,category", [
    ({"organization": None}, "no_organization"),
    ({"person": None}, "no_email"),
    ({"person": Person("9", "x", "not-an-email")}, "invalid_email"),
    ({"lines": ()}, "no_products"),
    ({"lines": (LineItem("1", "x", Decimal("-2"), Decimal("5")),)}, "invalid_quantity"),
    ({"lines": (LineItem("1", "x", Decimal("1e9"), Decimal("5")),)}, "invalid_quantity"),
    ({"lines": (LineItem("1", "x", Decimal("1"), Decimal("-5")),)}, "invalid_price"),
    ({"lines": (LineItem("1", "x", Decimal("1"), Decimal("5"), discount=Decimal("150")),)}, "invalid_price"),
    ({"status": "open"}, "not_won"),
])
def test_bad_deals_fail_with_a_category(changes: dict, category: str) -> None:
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(**changes))
    assert info.value.category == category
    assert "42" in str(info.value)


def test_unmatched_product_fails_when_settings_say_so() -> None:
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(), InvoiceSettings(unmatched_products="fail"))
    assert info.value.category == "unknown_product" and "NOPE" in str(info.value)
    mapped = build(deal(), InvoiceSettings(unmatched_products="fail", item_mapping={"NOPE": "11"})).payload
    assert mapped["Line"][1]["SalesItemLineDetail"]["ItemRef"]["value"] == "11"
    no_fallback = replace(US, fallback_item=None)
    with pytest.raises(InvoiceBuildError, match="fallback_item_id"):
        build(deal(), company=no_fallback)


def test_owner_and_pipeline_restrictions() -> None:
    with pytest.raises(InvoiceBuildError) as info:
        build(deal(), InvoiceSettings(allowed_owner_ids=["8"]))
    assert info.value.category == "not_allowed"
    with pytest.raises(InvoiceBuildError):
        build(deal(), InvoiceSettings(pipelines=["2"]))
    assert build(deal(), InvoiceSettings(allowed_owner_ids=["7"], pipelines=["1"])).payload


def test_terms_numbering_and_send_on_create() -> None:
    company = replace(US, custom_txn_numbers=True)
    body = build(deal(), InvoiceSettings(use_customer_terms=True, send_on_create=True), company,
                 QboCustomer("77", "x", "USD", terms_id="3")).payload
    assert body["SalesTermRef"] == {"value": "3"} and body["DueDate"] == "2026-12-21"
    assert body["DocNumber"] == "PI-42" and len(body["DocNumber"]) <= 21
    assert body["EmailStatus"] == "NeedToSend"
    assert build(deal(), InvoiceSettings(due_days=14)).payload["DueDate"] == "2026-12-05"


def test_customer_draft_payload_and_updates() -> None:
    settings = InvoiceSettings(tax_id_source="organization.fields.vat")
    draft = customer_draft(deal(organization=Organization("5", "A:B\tC")), settings)
    assert draft.display_name == "A-B C"  # ':' separates sub-customers in QBO
    draft = customer_draft(deal(), settings)
    body = customer_payload(draft, multicurrency=True)
    assert body["DisplayName"] == "O'Brien & Sons" and body["CurrencyRef"] == {"value": "USD"}
    assert body["PrimaryTaxIdentifier"] == "US-123"
    same = QboCustomer("1", draft.display_name, "USD", draft.email, address=draft.address, tax_id="US-123")
    assert customer_updates(same, draft) == {}
    moved = replace(same, email="old@x.example", address=Address("2 Side St"))
    assert set(customer_updates(moved, draft)) == {"PrimaryEmailAddr", "BillAddr"}
    by_person = customer_draft(deal(organization=None), InvoiceSettings(recipient_name_source="person.name"))
    assert by_person.display_name == "Seán O'Brien"
