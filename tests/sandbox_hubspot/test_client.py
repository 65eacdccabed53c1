"""HubSpotClient (CrmClient) against the emulator: mapping, won listing, write-back in batches, notes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from dealbooks.clients.crm import CrmClient
from dealbooks.clients.hubspot import HubSpotClient
from dealbooks.domain.deal import DealInvoiceFields
from dealbooks.exceptions import CrmNotFound


def _client(hs) -> HubSpotClient:
    cfg = hs.config["hubspot"]
    return HubSpotClient(cfg["access_token"], base_url=cfg["base_url"])


def _assoc(to_id: str, type_id: int) -> dict:
    return {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}


def test_get_deal_maps_company_contact_and_line_items(hs):
    api, client = hs.client(), _client(hs)
    assert isinstance(client, CrmClient)
    other = api.crm.companies.basic_api.create({"properties": {"name": "Secondary Ltd"}})
    company = api.crm.companies.basic_api.create({"properties": {
        "name": "Acme GmbH", "address": "Hauptstr. 1", "city": "Berlin", "zip": "10115", "country": "Germany"}})
    contact = api.crm.contacts.basic_api.create({"properties": {"firstname": "Jane", "lastname": "Doe",
                                                                "email": "jane@acme.test", "phone": "+49 1"}})
    deal = api.crm.deals.basic_api.create({
        "properties": {"dealname": "Rollout", "amount": "1470", "deal_currency_code": "EUR",
                       "pipeline": "75312001", "dealstage": "75312002"},
        "associations": [_assoc(other.id, 341), _assoc(company.id, 5), _assoc(contact.id, 3)]})
    product = api.crm.products.search_api.do_search({"filterGroups": [{"filters": [
        {"propertyName": "hs_sku", "operator": "EQ", "value": "CONSULT-HR"}]}]}).results[0]
    api.crm.line_items.basic_api.create({"properties": {"name": "Custom work", "quantity": "2", "price": "300",
                                                        "discount": "15", "hs_position_on_quote": "1"},
                                         "associations": [_assoc(deal.id, 20)]})
    api.crm.line_items.basic_api.create({"properties": {"hs_product_id": product.id, "quantity": "6",
                                                        "hs_discount_percentage": "10", "hs_position_on_quote": "0"},
                                         "associations": [_assoc(deal.id, 20)]})
    got = client.get_deal(deal.id)
    assert (got.crm, got.title, got.status, got.value, got.currency) == ("hubspot", "Rollout", "open",
                                                                        Decimal("1470"), "EUR")
    assert got.organization.id == company.id and got.organization.address.city == "Berlin"
    assert got.person.name == "Jane Doe" and got.person.email == "jane@acme.test"
    first, second = got.lines
    assert (first.sku, first.quantity, first.unit_price, first.discount, first.discount_type) == \
        ("CONSULT-HR", Decimal(6), Decimal("150.00"), Decimal(10), "percentage")
    assert first.amount == Decimal("810.0000")
    assert (second.name, second.discount, second.discount_type, second.amount) == \
        ("Custom work", Decimal(30), "amount", Decimal(570))
    assert got.url.endswith(f"/contacts/{hs.config['hubspot']['portal_id']}/record/0-3/{deal.id}")
    api.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "75312003"}})  # custom pipeline won
    won = client.get_deal(deal.id)
    assert won.status == "won" and won.won_at is not None and won.stage_id == "75312003"
    with pytest.raises(CrmNotFound):
        client.get_deal("999999")


def test_list_won_deals_pages_in_modification_order(hs):
    api, client = hs.client(), _client(hs)
    for batch in range(3):
        api.crm.deals.batch_api.create({"inputs": [
            {"properties": {"dealname": f"W{batch}-{i}", "dealstage": "closedwon" if i % 5 else "closedlost"}}
            for i in range(100)]})
    httpx.post(hs.url + "/_sandbox/hubspot/stats")
    deals = list(client.list_won_deals())
    assert len(deals) == 240 and all(d.status == "won" and not d.lines for d in deals)
    assert [d.updated_at for d in deals] == sorted(d.updated_at for d in deals)
    stats = httpx.get(hs.url + "/_sandbox/hubspot/stats").json()["by_endpoint"]
    assert stats["POST /crm/v3/objects/deals/search"] == 2  # 200 per page
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert list(client.list_won_deals(since=later)) == []
    touched = deals[0].id
    hs.state.clock.advance(5)
    api.crm.deals.basic_api.update(touched, {"properties": {"amount": "99"}})
    assert [d.id for d in client.list_won_deals(since=hs.state.now() - timedelta(seconds=1))] == [touched]


def test_write_invoice_fields_in_batches_of_100(hs):
    api, client = hs.client(), _client(hs)
    mapping = client.ensure_invoice_fields()
    assert mapping["invoice_number"] == "dealbooks_invoice_number"
    assert _client(hs).ensure_invoice_fields() == mapping  # idempotent, nothing created twice
    created = []
    for _ in range(2):
        created += api.crm.deals.batch_api.create({"inputs": [{"properties": {"dealname": "I"}}
                                                              for _ in range(75)]}).results
    ids = [d.id for d in created]
    updates = {deal_id: DealInvoiceFields(invoice_id=f"Q{n}", invoice_number=str(1000 + n), status="open",
                                          amount_billed=Decimal("12.50"), due_date=date(2025, 3, 1))
               for n, deal_id in enumerate(ids)}
    updates["888888"] = DealInvoiceFields(invoice_id="Qx")
    httpx.post(hs.url + "/_sandbox/hubspot/stats")
    results = client.write_invoice_fields(updates)
    stats = httpx.get(hs.url + "/_sandbox/hubspot/stats").json()["by_endpoint"]
    assert stats == {"POST /crm/v3/objects/deals/batch/update": 2}
    assert isinstance(results.pop("888888"), CrmNotFound)
    assert set(results) == set(ids) and all(v is None for v in results.values())
    props = api.crm.deals.basic_api.get_by_id(ids[-1], properties=list(mapping.values())).properties
    assert props["dealbooks_invoice_number"] == "1149" and props["dealbooks_due_date"] == "2025-03-01"
    assert client.get_deal(ids[0]).fields["dealbooks_invoice_number"] == "1000"


def test_add_note_and_missing_deal(hs):
    api, client = hs.client(), _client(hs)
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "Noted"}})
    note_id = client.add_note(deal.id, "<p>Invoice <b>1001</b> created</p>")
    linked = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "notes").results
    assert [r.to_object_id for r in linked] == [note_id]
    with pytest.raises(CrmNotFound):
        client.add_note("777777", "<p>x</p>")


def test_notes_go_100_per_batch_and_a_refused_batch_falls_back_note_by_note(hs):
    api, client = hs.client(), _client(hs)
    deals = [d.id for d in api.crm.deals.batch_api.create({"inputs": [{"properties": {"dealname": f"N{i}"}}
                                                                      for i in range(3)]}).results]
    notes = [(deals[i % 3], f"<p>Payment {i} received</p>") for i in range(150)]
    httpx.post(hs.url + "/_sandbox/hubspot/stats")
    replies = client.add_notes(notes)
    stats = httpx.get(hs.url + "/_sandbox/hubspot/stats").json()["by_endpoint"]
    assert stats == {"POST /crm/v3/objects/notes/batch/create": 2}
    assert len(set(replies)) == 150 and all(isinstance(r, str) for r in replies)
    linked = api.crm.associations.v4.basic_api.get_page("deals", deals[0], "notes", limit=500).results
    assert {r.to_object_id for r in linked} == {replies[i] for i in range(0, 150, 3)}, "each id is its own deal's note"

    httpx.post(hs.url + "/_sandbox/hubspot/stats")
    mixed = client.add_notes([(deals[0], "<p>kept</p>"), ("777777", "<p>lost</p>"), (deals[1], "<p>kept too</p>")])
    stats = httpx.get(hs.url + "/_sandbox/hubspot/stats").json()["by_endpoint"]
    assert stats["POST /crm/v3/objects/notes/batch/create"] == 1 and stats["POST /crm/v3/objects/notes"] == 3
    assert isinstance(mixed[1], CrmNotFound) and isinstance(mixed[0], str) and isinstance(mixed[2], str)
