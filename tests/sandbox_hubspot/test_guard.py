"""Auth, rate limits, statistics and persistence of the HubSpot emulator."""

from __future__ import annotations

import json

import httpx
import pytest
from hubspot.crm.deals import ApiException as DealsApiException

from dealbooks.clients.hubspot import HubSpotClient
from dealbooks.exceptions import CrmAuthError, CrmRateLimited


def test_auth_failure_in_hubspot_shape(hs):
    with pytest.raises(DealsApiException) as exc:
        hs.client(token="pat-na1-wrong").crm.deals.basic_api.get_page()
    body = json.loads(exc.value.body)
    assert exc.value.status == 401
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION" and body["correlationId"]
    missing = httpx.get(hs.config["hubspot"]["base_url"] + "/crm/v3/objects/deals")
    assert missing.status_code == 401 and missing.json()["category"] == "INVALID_AUTHENTICATION"
    client = HubSpotClient("pat-na1-wrong", base_url=hs.config["hubspot"]["base_url"], portal_id="1")
    with pytest.raises(CrmAuthError) as err:
        client.get_deal("1")
    assert "pat-na1-wrong" not in str(err.value)


def test_rate_limit_429_with_headers(hs_throttled):
    cfg = hs_throttled.config["hubspot"]
    httpx.post(hs_throttled.url + "/_sandbox/hubspot/settings", json={"rate_limit_per_10s": 3})
    headers = {"Authorization": f"Bearer {cfg['access_token']}"}
    answers = [httpx.get(cfg["base_url"] + "/crm/v3/pipelines/deals", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    limited = answers[3]
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert limited.json()["errorType"] == "RATE_LIMIT" and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    # POSTs raise ApiException(429) in hubspot-api-client; our client sleeps Retry-After, then gives up.
    with pytest.raises(DealsApiException) as exc:
        hs_throttled.client().crm.deals.search_api.do_search({"limit": 1})
    assert exc.value.status == 429
    sleeps: list[float] = []
    client = HubSpotClient(cfg["access_token"], base_url=cfg["base_url"], portal_id="1", max_retries=2,
                           sleep=sleeps.append)
    with pytest.raises(CrmRateLimited):
        client.add_note("1", "<p>x</p>")
    assert len(sleeps) == 2 and all(1 <= s <= 10 for s in sleeps)


def test_injected_429_storm_is_ridden_out(hs):
    cfg = hs.config["hubspot"]
    sleeps: list[float] = []
    client = HubSpotClient(cfg["access_token"], base_url=cfg["base_url"], portal_id="1", sleep=sleeps.append)
    assert "closedwon" in client.won_stage_ids()
    assert list(client.list_won_deals()) == []  # caches pipelines and deal properties (GETs)
    httpx.post(hs.url + "/_sandbox/faults/hubspot", json={"throttle_next": 2})
    assert list(client.list_won_deals()) == []  # the search POST is retried by our client
    assert sleeps == [1.0, 1.0]
    stats = httpx.get(hs.url + "/_sandbox/hubspot/stats").json()
    assert stats["by_status"]["429"] == 2


def test_stats_count_and_reset(hs):
    api = hs.client()
    httpx.post(hs.url + "/_sandbox/hubspot/stats")
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "S"}})
    api.crm.deals.basic_api.get_by_id(deal.id)
    api.crm.deals.basic_api.get_by_id(deal.id)
    stats = httpx.get(hs.url + "/_sandbox/hubspot/stats").json()
    assert stats["by_endpoint"] == {"POST /crm/v3/objects/deals": 1, "GET /crm/v3/objects/deals/{id}": 2}
    assert stats["total"] == 3
    httpx.post(hs.url + "/_sandbox/hubspot/stats")
    assert httpx.get(hs.url + "/_sandbox/hubspot/stats").json()["total"] == 0


def test_state_persists_across_restart(make_hs, tmp_path):
    state_file = tmp_path / "sandbox.json"
    first = make_hs(state_file)
    cfg = first.config["hubspot"]
    api = first.client()
    api.crm.properties.groups_api.create("deals", {"name": "dealbooks", "label": "dealbooks"})
    deal = api.crm.deals.basic_api.create({"properties": {"dealname": "Persisted", "dealstage": "closedwon"}})
    httpx.post(first.url + "/_sandbox/hubspot/webhooks", json={"target_url": "http://127.0.0.1:9/hook"})
    first.stop()
    second = make_hs(state_file)
    assert second.config["hubspot"]["access_token"] == cfg["access_token"]
    assert second.config["hubspot"]["client_secret"] == cfg["client_secret"]
    api2 = second.client()
    assert api2.crm.deals.basic_api.get_by_id(deal.id).properties["dealname"] == "Persisted"
    assert "dealbooks" in {g.name for g in api2.crm.properties.groups_api.get_all("deals").results}
    products = api2.crm.products.basic_api.get_page(properties=["hs_sku"]).results
    assert sorted(p.properties["hs_sku"] for p in products) == ["CONSULT-HR", "LIC-PRO"]  # seed is idempotent
    assert len(httpx.get(second.url + "/_sandbox/hubspot/webhooks").json()["results"]) == 2
    new = api2.crm.deals.basic_api.create({"properties": {"dealname": "After"}})
    assert int(new.id) > int(deal.id)
