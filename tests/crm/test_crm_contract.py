"""The CRM contract: what the flows rely on, checked identically on Pipedrive and HubSpot.

Every test gets a fresh sandbox and a ``CrmTestEnv`` (tests/crm/env.py) that sets records up
through the CRM's own API; the assertions are made on what ``env.client`` (the ``CrmClient``
under test) returns. ``address`` keys: street, city, region, postal_code, country.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from dealbooks.clients.crm import CrmClient
from dealbooks.domain.deal import INVOICE_FIELD_LABELS, Deal, DealInvoiceFields
from dealbooks.exceptions import CrmError, CrmNotFound

ADDRESS = {"street": "12 Rue de l'Église", "city": "Strasbourg", "region": "Grand Est",
           "postal_code": "67000", "country": "France"}


def _product_spec_type() -> Any:
    """``ProductSpec`` from tests/crm/env.py (tests/ is not a package)."""
    name = "dealbooks_tests_crm_env"
    if name not in sys.modules:
        spec_ = importlib.util.spec_from_file_location(name, Path(__file__).with_name("env.py"))
        assert spec_ is not None and spec_.loader is not None
        module = importlib.util.module_from_spec(spec_)
        sys.modules[name] = module
        spec_.loader.exec_module(module)
    return sys.modules[name].ProductSpec


ProductSpec = _product_spec_type()


def spec(name: str, quantity: str, price: str, sku: str = "", discount: str = "0") -> Any:
    return ProductSpec(name, Decimal(quantity), Decimal(price), sku, Decimal(discount))


def sandbox_now(sandbox: Any) -> datetime:
    response = httpx.get(f"{sandbox.url}/_sandbox/clock", timeout=10)
    return datetime.fromisoformat(response.json()["now"])


def advance_clock(sandbox: Any, seconds: float) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/clock", json={"advance_seconds": seconds}, timeout=10)


def test_client_implements_the_protocol(crm_env: Any) -> None:
    assert isinstance(crm_env.client, CrmClient)


def test_won_deal_is_a_full_deal(crm_env: Any) -> None:
    deal_id = crm_env.create_deal(
        "Onboarding package", org_name="Acme Corp", person_name="Jane Doe", email="jane@example.com",
        products=[spec("Consulting (hourly)", "10", "150", "CONSULT-HR", "10"),
                  spec("Pro license (annual)", "2", "1200", "LIC-PRO")],
        currency="EUR", address=ADDRESS)
    crm_env.mark_won(deal_id)

    deal = crm_env.client.get_deal(deal_id)

    assert isinstance(deal, Deal)
    assert deal.id == deal_id and deal.status == "won" and deal.title == "Onboarding package"
    assert deal.currency == "EUR"
    assert deal.won_at is not None and deal.won_at.tzinfo is not None
    assert deal.organization is not None and deal.organization.name == "Acme Corp"
    address = deal.organization.address
    assert address is not None
    assert "Rue de l'Église" in address.street
    assert (address.city, address.postal_code) == ("Strasbourg", "67000")
    assert address.country in ("France", "FR")
    assert deal.person is not None and deal.person.name == "Jane Doe"
    assert deal.person.email == "jane@example.com"
    lines = sorted(deal.lines, key=lambda line: line.sku)
    assert [line.sku for line in lines] == ["CONSULT-HR", "LIC-PRO"]
    consult, licence = lines
    assert (consult.quantity, consult.unit_price, consult.discount) == (Decimal(10), Decimal(150), Decimal(10))
    assert consult.discount_type == "percentage" and consult.amount == Decimal(1350)
    assert (licence.quantity, licence.unit_price, licence.discount) == (Decimal(2), Decimal(1200), Decimal(0))
    assert deal.url.startswith("https://")
    assert deal.key == f"{deal.crm}:{deal_id}"


def test_deal_without_organization_or_person(crm_env: Any) -> None:
    deal_id = crm_env.create_deal("Bare deal", org_name=None, person_name=None, email=None, products=[])
    deal = crm_env.client.get_deal(deal_id)
    assert deal.organization is None and deal.person is None and deal.lines == ()
    assert deal.status == "open"


def test_list_won_deals_since_a_cursor_pages_through_all(crm_env: Any, crm_sandbox: Any) -> None:
    client = crm_env.client
    if hasattr(client, "page_limit"):
        client.page_limit = 2  # exercise paging without creating hundreds of deals
    first = [crm_env.create_deal(f"Early {i}", products=[]) for i in range(3)]
    for deal_id in first:
        crm_env.mark_won(deal_id)
    open_deal = crm_env.create_deal("Still open", products=[])
    advance_clock(crm_sandbox, 3600)
    cursor = sandbox_now(crm_sandbox)
    advance_clock(crm_sandbox, 5)
    later = [crm_env.create_deal(f"Late {i}", products=[]) for i in range(5)]
    for deal_id in later:
        crm_env.mark_won(deal_id)

    everything = [d.id for d in client.list_won_deals()]
    since = list(client.list_won_deals(cursor))

    assert sorted(everything) == sorted(first + later)
    assert open_deal not in everything
    assert sorted(d.id for d in since) == sorted(later)
    assert all(d.status == "won" for d in since)
    assert all(d.updated_at is not None and d.updated_at >= cursor for d in since)
    stamps = [d.updated_at for d in since]
    assert stamps == sorted(stamps), "oldest first"


def test_invoice_fields_are_created_once_written_and_read_back(crm_env: Any) -> None:
    deal_a = crm_env.create_deal("Invoice A", products=[])
    deal_b = crm_env.create_deal("Invoice B", products=[])
    keys = crm_env.client.ensure_invoice_fields()
    assert set(keys) == set(INVOICE_FIELD_LABELS)
    assert crm_env.client.ensure_invoice_fields() == keys, "idempotent"

    fields_a = DealInvoiceFields(invoice_id="130", invoice_number="1042", invoice_url="https://qbo.example/i/130",
                                 status="partially_paid", amount_billed=Decimal("1500.00"),
                                 amount_paid=Decimal("500.25"), balance=Decimal("999.75"), currency="USD",
                                 due_date=date(2025, 3, 31), last_payment_date=date(2025, 3, 2))
    fields_b = DealInvoiceFields(invoice_id="131", status="open", amount_billed=Decimal("10"))
    result = crm_env.client.write_invoice_fields({deal_a: fields_a, deal_b: fields_b})

    assert result == {deal_a: None, deal_b: None}
    stored = crm_env.read_invoice_fields(deal_a)
    expected = fields_a.as_strings()
    for name in ("invoice_id", "invoice_number", "invoice_url", "status", "currency"):
        assert str(stored[name]) == expected[name]
    for name in ("amount_billed", "amount_paid", "balance"):
        assert Decimal(str(stored[name])) == Decimal(expected[name])
    for name in ("due_date", "last_payment_date"):
        assert _as_date(stored[name]) == expected[name]
    assert str(crm_env.read_invoice_fields(deal_b)["invoice_id"]) == "131"


def test_write_invoice_fields_isolates_a_missing_deal(crm_env: Any) -> None:
    deal_id = crm_env.create_deal("Real deal", products=[])
    result = crm_env.client.write_invoice_fields({
        deal_id: DealInvoiceFields(invoice_id="7", status="paid"),
        "99999999": DealInvoiceFields(invoice_id="8", status="paid"),
    })
    assert result[deal_id] is None
    assert isinstance(result["99999999"], CrmError)
    assert str(crm_env.read_invoice_fields(deal_id)["invoice_id"]) == "7"


def test_notes_are_added_in_order(crm_env: Any) -> None:
    deal_id = crm_env.create_deal("Noted deal", products=[])
    first = crm_env.client.add_note(deal_id, "<p>Invoice <b>1042</b> created in QuickBooks</p>")
    second = crm_env.client.add_note(deal_id, "<p>Payment of 500.25 USD received 💸</p>")
    assert first and second and first != second
    contents = crm_env.notes(deal_id)
    assert len(contents) == 2
    assert "1042" in contents[0] and "💸" in contents[1]


def test_many_notes_at_once_and_a_missing_deal_costs_only_its_own_note(crm_env: Any) -> None:
    first, second = crm_env.create_deal("Batch one", products=[]), crm_env.create_deal("Batch two", products=[])
    notes = [(first, "<p>Invoice <b>2001</b> is now overdue</p>"), ("99999999", "<p>nobody home</p>"),
             (second, "<p>Payment of 10.00 USD received</p>"), (first, "<p>Invoice <b>2001</b> paid</p>")]
    replies = crm_env.client.add_notes(notes)
    assert [isinstance(r, Exception) for r in replies] == [False, True, False, False]
    assert isinstance(replies[1], CrmError) and len({replies[0], replies[2], replies[3]}) == 3
    assert len([n for n in crm_env.notes(first) if "2001" in n]) == 2
    assert len(crm_env.notes(second)) == 1, "the refused batch created nothing twice"
    assert crm_env.client.add_notes([]) == []


def test_unknown_deal_is_not_found(crm_env: Any) -> None:
    with pytest.raises(CrmNotFound) as info:
        crm_env.client.get_deal("99999999")
    assert "99999999" in str(info.value)
    with pytest.raises(CrmNotFound):
        crm_env.client.add_note("99999999", "<p>nobody home</p>")


def test_names_with_quotes_accents_and_emoji_round_trip(crm_env: Any) -> None:
    org = "O'Brien & Söhne «Ünïcode» GmbH 🚀"
    person = "Zoë D'Angelo-Ñúñez 😀"
    title = "Déjà vu — \"quoted\" deal ✨"
    deal_id = crm_env.create_deal(title, org_name=org, person_name=person, email="zoe.dangelo@example.com",
                                  products=[spec("Café crème ☕ (größe L)", "3", "4.5")])
    crm_env.mark_won(deal_id)
    deal = crm_env.client.get_deal(deal_id)
    assert deal.title == title
    assert deal.organization is not None and deal.organization.name == org
    assert deal.person is not None and deal.person.name == person
    assert [line.name for line in deal.lines] == ["Café crème ☕ (größe L)"]
    assert deal.lines[0].amount == Decimal("13.5")


def _as_date(value: Any) -> str:
    """A date field as read back: ``YYYY-MM-DD`` text, or HubSpot's midnight epoch milliseconds."""
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc).date().isoformat()
    return text[:10]
