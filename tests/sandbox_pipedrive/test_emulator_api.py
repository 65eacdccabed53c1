"""The Pipedrive emulator's API shapes, driven over plain HTTP like Pipedrive's own API."""

from __future__ import annotations

import re
from typing import Any

import httpx
from pd_helpers import control, data


def make_deal(api: httpx.Client, title: str = "Deal", **extra: Any) -> dict[str, Any]:
    org = data(api.post("/api/v2/organizations", json={"name": "Acme", "address": {"value": "1 Main St, Springfield"}}))
    person = data(api.post("/api/v2/persons", json={
        "name": "Jane Doe", "org_id": org["id"],
        "emails": [{"value": "jane@work.example", "primary": False, "label": "work"},
                   {"value": "jane@home.example", "primary": True, "label": "home"}],
        "phones": [{"value": "+1 555 0101", "primary": True, "label": "work"}]}))
    return data(api.post("/api/v2/deals", json={"title": title, "org_id": org["id"], "person_id": person["id"], **extra}))


def test_seed_has_pipeline_stages_and_products_with_codes(api: httpx.Client) -> None:
    pipelines = data(api.get("/api/v2/pipelines"))
    stages = data(api.get("/api/v2/stages", params={"pipeline_id": pipelines[0]["id"]}))
    products = data(api.get("/api/v2/products"))
    assert len(stages) >= 3 and all(s["pipeline_id"] == pipelines[0]["id"] for s in stages)
    codes = {p["code"]: p for p in products}
    assert {"CONSULT-HR", "LIC-PRO"} <= set(codes)
    assert codes["LIC-PRO"]["prices"][0]["currency"] == "USD"
    me = data(api.get("/v1/users/me"))
    assert me["company_domain"]


def test_v2_deal_shape_and_persons_organizations(api: httpx.Client) -> None:
    deal = make_deal(api, "Shape", value=100, currency="EUR")
    assert isinstance(deal["person_id"], int) and isinstance(deal["org_id"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", deal["add_time"])
    assert deal["status"] == "open" and deal["currency"] == "EUR" and deal["custom_fields"] == {}
    assert deal["stage_id"] and deal["pipeline_id"]
    person = data(api.get(f"/api/v2/persons/{deal['person_id']}"))
    assert [e["value"] for e in person["emails"]] == ["jane@work.example", "jane@home.example"]
    assert next(e for e in person["emails"] if e["primary"])["value"] == "jane@home.example"
    org = data(api.get(f"/api/v2/organizations/{deal['org_id']}"))
    assert org["address"]["value"] == "1 Main St, Springfield"


def test_v1_deal_read_has_objects_with_value(api: httpx.Client) -> None:
    deal = make_deal(api, "V1 shape")
    body = api.get(f"/v1/deals/{deal['id']}").json()
    v1 = body["data"]
    assert body["success"] is True
    assert v1["person_id"]["value"] == deal["person_id"] and v1["person_id"]["name"] == "Jane Doe"
    assert v1["person_id"]["email"][0]["value"] == "jane@work.example"
    assert v1["org_id"]["value"] == deal["org_id"] and v1["org_id"]["name"] == "Acme"
    assert v1["user_id"]["value"] == deal["owner_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v1["add_time"])
    assert v1["person_name"] == "Jane Doe" and v1["org_name"] == "Acme"
    assert str(deal["person_id"]) in body["related_objects"]["person"]


def test_custom_field_hash_keys_v2_custom_fields_and_v1_top_level(api: httpx.Client) -> None:
    field = data(api.post("/v1/dealFields", json={"name": "Invoice number", "field_type": "varchar"}))
    amount = data(api.post("/v1/dealFields", json={"name": "Amount billed", "field_type": "double"}))
    assert re.fullmatch(r"[0-9a-f]{40}", field["key"]) and field["key"] != amount["key"]
    assert field["edit_flag"] is True
    listed = data(api.get("/v1/dealFields"))
    assert {f["key"] for f in listed} >= {"title", "value", field["key"], amount["key"]}

    deal = make_deal(api)
    patched = data(api.patch(f"/api/v2/deals/{deal['id']}",
                             json={"custom_fields": {field["key"]: "INV-7", amount["key"]: 12.5}}))
    assert patched["custom_fields"] == {field["key"]: "INV-7", amount["key"]: 12.5}
    v1 = api.get(f"/v1/deals/{deal['id']}").json()["data"]
    assert v1[field["key"]] == "INV-7" and v1[amount["key"]] == 12.5

    bad = api.patch(f"/api/v2/deals/{deal['id']}", json={"custom_fields": {amount["key"]: "twelve"}})
    assert bad.status_code == 400 and bad.json()["success"] is False
    unknown = api.patch(f"/api/v2/deals/{deal['id']}", json={"custom_fields": {"0" * 40: "x"}})
    assert unknown.status_code == 400 and "Invalid field" in unknown.json()["error"]


def test_custom_field_keys_differ_between_accounts(pd: Any) -> None:
    from dealbooks.sandbox.pipedrive.store import Store
    from dealbooks.sandbox.state import SandboxState

    other = SandboxState()
    other.data["pipedrive"] = {"company": {"field_salt": "another-account"}}
    assert Store(pd.state).field_key(50, "Invoice number") != Store(other).field_key(50, "Invoice number")


def test_deal_products_sum_discounts_and_deal_value(api: httpx.Client) -> None:
    deal = make_deal(api)
    products = {p["code"]: p for p in data(api.get("/api/v2/products"))}
    line = data(api.post(f"/api/v2/deals/{deal['id']}/products", json={
        "product_id": products["CONSULT-HR"]["id"], "item_price": 150, "quantity": 10, "discount": 10,
        "discount_type": "percentage"}), 201)
    data(api.post(f"/api/v2/deals/{deal['id']}/products", json={
        "product_id": products["LIC-PRO"]["id"], "item_price": 1200, "quantity": 1, "discount": 200,
        "discount_type": "amount"}), 201)
    assert line["sum"] == 1350 and line["name"] == products["CONSULT-HR"]["name"]
    items = data(api.get(f"/api/v2/deals/{deal['id']}/products"))
    assert [i["quantity"] for i in items] == [10, 1]
    assert data(api.get(f"/api/v2/deals/{deal['id']}"))["value"] == 2350
    data(api.patch(f"/api/v2/deals/{deal['id']}/products/{line['id']}", json={"quantity": 20}))
    assert data(api.get(f"/api/v2/deals/{deal['id']}"))["value"] == 3700


def test_deal_list_filters_status_updated_since_and_cursor_paging(pd: Any, api: httpx.Client) -> None:
    ids = [make_deal(api, f"D{i}")["id"] for i in range(5)]
    for deal_id in ids[:3]:
        data(api.patch(f"/api/v2/deals/{deal_id}", json={"status": "won"}))
    control(pd, "POST", "/clock", {"advance_seconds": 600})
    since = control(pd, "GET", "/clock")["now"]
    control(pd, "POST", "/clock", {"advance_seconds": 1})
    data(api.patch(f"/api/v2/deals/{ids[3]}", json={"status": "won"}))

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"status": "won", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/api/v2/deals", params=params).json()
        seen += [d["id"] for d in body["data"]]
        pages += 1
        cursor = body["additional_data"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids[:4]) and pages == 2

    recent = data(api.get("/api/v2/deals", params={"status": "won", "updated_since": since}))
    assert [d["id"] for d in recent] == [ids[3]]
    won = data(api.get(f"/api/v2/deals/{ids[0]}"))
    assert won["won_time"] and won["close_time"] == won["won_time"]
    assert api.get("/api/v2/deals", params={"limit": 501}).status_code == 400
    assert api.get("/api/v2/deals", params={"cursor": "garbage"}).status_code == 400


def test_deleted_deal_only_listed_with_status_deleted(api: httpx.Client) -> None:
    deal = make_deal(api, "Doomed")
    data(api.delete(f"/api/v2/deals/{deal['id']}"))
    assert deal["id"] not in [d["id"] for d in data(api.get("/api/v2/deals"))]
    assert [d["id"] for d in data(api.get("/api/v2/deals", params={"status": "deleted"}))] == [deal["id"]]
    assert api.get(f"/v1/deals/{deal['id']}").json()["data"]["status"] == "deleted"


def test_notes_v1(api: httpx.Client) -> None:
    deal = make_deal(api)
    first = data(api.post("/v1/notes", json={"content": "<p>one</p>", "deal_id": deal["id"]}), 201)
    data(api.post("/v1/notes", json={"content": "<p>two</p>", "deal_id": deal["id"]}), 201)
    assert first["deal_id"] == deal["id"] and first["deal"]["title"] == deal["title"]
    body = api.get("/v1/notes", params={"deal_id": deal["id"], "limit": 1}).json()
    assert [n["content"] for n in body["data"]] == ["<p>one</p>"]
    assert body["additional_data"]["pagination"]["more_items_in_collection"] is True
    assert api.post("/v1/notes", json={"content": "x", "deal_id": 424242}).status_code == 400
    assert api.post("/v1/notes", json={"content": "", "deal_id": deal["id"]}).status_code == 400


def test_errors_use_pipedrive_shape(api: httpx.Client) -> None:
    missing = api.get("/api/v2/deals/424242")
    assert missing.status_code == 404
    assert missing.json() == {"success": False, "error": "Deal not found", "error_info": missing.json()["error_info"],
                              "data": None, "additional_data": None}
    assert api.post("/api/v2/deals", json={"title": ""}).status_code == 400
    assert api.post("/api/v2/deals", json={"title": "x", "bogus": 1}).status_code == 400
    assert api.get("/api/v2/nothing-here").status_code == 404


def test_stats_count_calls_per_endpoint_and_reset(pd: Any, api: httpx.Client) -> None:
    control(pd, "POST", "/pipedrive/stats")
    api.get("/api/v2/deals")
    api.get("/api/v2/deals/1")
    api.get("/api/v2/deals/424242")
    stats = control(pd, "GET", "/pipedrive/stats")
    assert stats["endpoints"] == {"GET /api/v2/deals": 1, "GET /api/v2/deals/{id}": 2}
    assert stats["statuses"] == {"200": 2, "404": 1} and stats["total"] == 3
    assert control(pd, "POST", "/pipedrive/stats")["total"] == 0
