"""HubSpot emulator conformance through hubspot-api-client: objects, search, batch, associations,
properties, pipelines, notes."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.properties import ApiException as PropertiesApiException

ASSOC = {"associationCategory": "HUBSPOT_DEFINED"}


def _assoc(to_id: str, type_id: int) -> dict:
    return {"to": {"id": to_id}, "types": [{**ASSOC, "associationTypeId": type_id}]}


def test_objects_create_get_update_with_associations(hs):
    api = hs.client()
    company = api.crm.companies.basic_api.create({"properties": {"name": "Acme", "city": "Berlin"}})
    contact = api.crm.contacts.basic_api.create({"properties": {"firstname": "Jane", "email": "jane@x.com"}})
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "Big deal", "amount": "900"},
                                           "associations": [_assoc(company.id, 5), _assoc(contact.id, 3)]})
    assert deal.properties["pipeline"] == "default" and deal.properties["dealstage"] == "appointmentscheduled"
    products = api.crm.products.search_api.do_search(
        {"filterGroups": [{"filters": [{"propertyName": "hs_sku", "operator": "EQ", "value": "LIC-PRO"}]}],
         "properties": ["hs_sku", "price"]})
    assert products.total == 1 and products.results[0].properties["price"] == "1200.00"
    line = api.crm.line_items.basic_api.create({
        "properties": {"hs_product_id": products.results[0].id, "quantity": "2", "discount": "100"},
        "associations": [_assoc(deal.id, 20)]})
    assert line.properties["hs_sku"] == "LIC-PRO" and line.properties["amount"] == "2200"

    got = api.crm.deals.basic_api.get_by_id(deal.id, properties=["dealname", "amount"],
                                            associations=["companies", "contacts", "line_items"])
    assert set(got.properties) == {"dealname", "amount"}
    types = {r.type for r in got.associations["companies"].results}
    assert types == {"deal_to_company", "deal_to_company_unlabeled"}
    assert [r.id for r in got.associations["line items"].results] == [line.id]
    assert got.associations["contacts"].results[0].id == contact.id

    updated = api.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "closedwon"}})
    assert updated.properties["hs_is_closed_won"] == "true" and updated.properties["closedate"]
    assert updated.updated_at >= got.updated_at
    default_props = api.crm.deals.basic_api.get_by_id(deal.id).properties
    assert set(default_props) == {"amount", "closedate", "createdate", "dealname", "dealstage",
                                  "hs_lastmodifieddate", "hs_object_id", "pipeline"}


def test_validation_and_not_found_errors(hs):
    api = hs.client()
    with pytest.raises(DealsApiException) as exc:
        api.crm.deals.basic_api.create({"properties": {"dealname": "x", "no_such_prop": "1"}})
    body = json.loads(exc.value.body)
    assert exc.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "x"}})
    with pytest.raises(DealsApiException) as exc:
        api.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "75312003"}})  # other pipeline
    assert "INVALID_OPTION" in json.loads(exc.value.body)["message"]
    with pytest.raises(DealsApiException) as exc:
        api.crm.deals.basic_api.get_by_id("424242")
    body = json.loads(exc.value.body)
    assert exc.value.status == 404 and body["category"] == "OBJECT_NOT_FOUND" and body["correlationId"]
    api.crm.deals.basic_api.archive(deal.id)
    with pytest.raises(DealsApiException):
        api.crm.deals.basic_api.get_by_id(deal.id)


def test_search_filters_sorts_and_paging(hs):
    api = hs.client()
    inputs = [{"properties": {"dealname": f"Deal {i:02d}", "amount": str(100 + i),
                              "dealstage": "closedwon" if i % 2 else "qualifiedtobuy"}} for i in range(25)]
    api.crm.deals.batch_api.create({"inputs": inputs})
    request = {"filterGroups": [{"filters": [{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon"]},
                                             {"propertyName": "amount", "operator": "GTE", "value": "105"}]}],
               "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
               "properties": ["dealname", "amount"], "limit": 5}
    seen, after = [], None
    while True:
        page = api.crm.deals.search_api.do_search({**request, **({"after": after} if after else {})})
        assert page.total == 10
        seen.extend(r.properties["amount"] for r in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [str(a) for a in range(123, 104, -2)]
    two_groups = api.crm.deals.search_api.do_search({"filterGroups": [
        {"filters": [{"propertyName": "dealname", "operator": "EQ", "value": "deal 00"}]},
        {"filters": [{"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "01"}]}]})
    assert two_groups.total == 2
    with pytest.raises(DealsApiException) as exc:
        api.crm.deals.search_api.do_search({"limit": 201})
    assert exc.value.status == 400


def test_batch_read_update_limits_and_partial_errors(hs):
    api = hs.client()
    created = api.crm.deals.batch_api.create({"inputs": [{"properties": {"dealname": f"B{i}"}} for i in range(100)]})
    ids = sorted(r.id for r in created.results)
    assert len(ids) == 100
    read = api.crm.deals.batch_api.read({"inputs": [{"id": i} for i in ids], "properties": ["dealname"],
                                         "propertiesWithHistory": []})
    assert len(read.results) == 100
    updated = api.crm.deals.batch_api.update({"inputs": [{"id": i, "properties": {"amount": "5"}} for i in ids]})
    assert updated.status == "COMPLETE" and len(updated.results) == 100
    with pytest.raises(DealsApiException) as exc:
        api.crm.deals.batch_api.update({"inputs": [{"id": i, "properties": {"amount": "5"}}
                                                   for i in [*ids, "999999"]]})
    assert exc.value.status == 400 and "limit is 100" in json.loads(exc.value.body)["message"]
    partial = api.crm.deals.batch_api.update({"inputs": [{"id": ids[0], "properties": {"amount": "7"}},
                                                         {"id": "999999", "properties": {"amount": "7"}}]})
    assert partial.num_errors == 1 and partial.errors[0].context["ids"] == ["999999"]
    assert api.crm.deals.basic_api.get_by_id(ids[0]).properties["amount"] == "7"
    with pytest.raises(DealsApiException) as exc:  # invalid value: the whole batch is refused
        api.crm.deals.batch_api.update({"inputs": [{"id": ids[1], "properties": {"amount": "lots"}}]})
    assert exc.value.status == 400


def test_associations_v4(hs):
    api = hs.client()
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "A"}})
    company = api.crm.companies.basic_api.create({"properties": {"name": "C"}})
    contact = api.crm.contacts.basic_api.create({"properties": {"email": "c@x.com"}})
    items = [api.crm.line_items.basic_api.create({"properties": {"name": f"L{i}", "price": "1", "quantity": "1"}})
             for i in range(3)]
    pair = api.crm.associations.v4.basic_api.create("deals", deal.id, "companies", company.id,
                                                    [{**ASSOC, "associationTypeId": 5}])
    assert pair.labels == ["Primary"]
    api.crm.associations.v4.basic_api.create_default("deals", deal.id, "contacts", contact.id)
    for item in items:
        api.crm.associations.v4.basic_api.create("deals", deal.id, "line_items", item.id,
                                                 [{**ASSOC, "associationTypeId": 19}])
    lines = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "line_items", limit=2)
    assert len(lines.results) == 2 and lines.paging.next.after
    assert lines.results[0].association_types[0].type_id == 19
    back = api.crm.associations.v4.basic_api.get_page("line_items", items[0].id, "deals")
    assert back.results[0].to_object_id == deal.id and back.results[0].association_types[0].type_id == 20
    companies = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "companies")
    assert {t.type_id for t in companies.results[0].association_types} == {5, 341}
    contacts = api.crm.associations.v4.basic_api.get_page("contacts", contact.id, "deals")
    assert contacts.results[0].association_types[0].type_id == 4


def test_properties_groups_and_custom_values(hs):
    api = hs.client()
    names = {p.name for p in api.crm.properties.core_api.get_all("deals").results}
    assert {"dealname", "dealstage", "amount", "closedate"} <= names
    api.crm.properties.groups_api.create("deals", {"name": "dealbooks", "label": "dealbooks invoice"})
    with pytest.raises(PropertiesApiException) as exc:
        api.crm.properties.groups_api.create("deals", {"name": "dealbooks", "label": "again"})
    assert exc.value.status == 409
    created = api.crm.properties.core_api.create("deals", {
        "name": "dealbooks_invoice_number", "label": "Invoice number", "type": "string", "fieldType": "text",
        "groupName": "dealbooks"})
    assert created.hubspot_defined is False
    assert api.crm.properties.core_api.get_by_name("deals", "dealbooks_invoice_number").group_name == "dealbooks"
    with pytest.raises(PropertiesApiException) as exc:
        api.crm.properties.core_api.create("deals", {"name": "x_bad", "label": "X", "type": "string",
                                                     "fieldType": "text", "groupName": "missing_group"})
    assert exc.value.status == 400
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "P", "dealbooks_invoice_number": "1001"}})
    got = api.crm.deals.basic_api.get_by_id(deal.id, properties=["dealbooks_invoice_number"])
    assert got.properties["dealbooks_invoice_number"] == "1001"


def test_pipelines_have_closed_won_stages(hs):
    api = hs.client()
    pipelines = api.crm.pipelines.pipelines_api.get_all("deals").results
    default = next(p for p in pipelines if p.id == "default")
    won = [s.id for s in default.stages if s.metadata["isClosed"] == "true" and s.metadata["probability"] == "1.0"]
    assert won == ["closedwon"]
    renewals = api.crm.pipelines.pipelines_api.get_by_id("deals", "75312001")
    assert any(s.metadata["probability"] == "1.0" for s in renewals.stages)


def test_notes_on_deal_timeline(hs):
    api = hs.client()
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "N"}})
    note = api.crm.objects.notes.basic_api.create({
        "properties": {"hs_note_body": "<p>Invoice 1001</p>", "hs_timestamp": "2024-05-01T10:00:00Z"},
        "associations": [_assoc(deal.id, 214)]})
    linked = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "notes")
    assert [r.to_object_id for r in linked.results] == [note.id]
    body = api.crm.objects.notes.basic_api.get_by_id(note.id, properties=["hs_note_body"]).properties
    assert body["hs_note_body"] == "<p>Invoice 1001</p>"
    from hubspot.crm.objects.notes import ApiException as NotesApiException
    with pytest.raises(NotesApiException) as exc:  # hs_timestamp is required
        api.crm.objects.notes.basic_api.create({"properties": {"hs_note_body": "x"}})
    assert exc.value.status == 400
