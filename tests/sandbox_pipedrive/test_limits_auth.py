"""API-token auth, the burst and daily limits, fault-injected 429s, and persistence across restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pd_helpers import RETRY_DELAYS, api_client, control, data

from dealbooks.sandbox.server import Sandbox
from dealbooks.sandbox.state import SandboxOptions


def test_token_in_header_or_query_else_401(pd: Any) -> None:
    config = pd.config["pipedrive"]
    base = config["base_url"]
    assert httpx.get(f"{base}/api/v2/deals", headers={"x-api-token": config["api_token"]}).status_code == 200
    assert httpx.get(f"{base}/api/v2/deals", params={"api_token": config["api_token"]}).status_code == 200
    for response in (httpx.get(f"{base}/api/v2/deals"),
                     httpx.get(f"{base}/v1/notes", headers={"x-api-token": "wrong"}),
                     httpx.get(f"{base}/api/v2/deals", params={"api_token": config["api_token"] + "x"})):
        assert response.status_code == 401
        body = response.json()
        assert body["success"] is False and body["errorCode"] == 401 and body["error"] == "unauthorized access"


def test_burst_limit_answers_429_with_headers(pd_throttled: Any) -> None:
    control(pd_throttled, "POST", "/pipedrive/limits", {"burst_limit": 5})
    with api_client(pd_throttled) as api:
        responses = [api.get("/api/v2/deals") for _ in range(7)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    first, last_ok, refused = responses[0], responses[4], responses[5]
    assert first.headers["x-ratelimit-limit"] == "5" and first.headers["x-ratelimit-remaining"] == "4"
    assert last_ok.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["x-ratelimit-reset"]) <= 2 and refused.headers["retry-after"]
    assert refused.json()["errorCode"] == 429 and refused.json()["success"] is False
    assert "x-daily-requests-left" in first.headers
    assert control(pd_throttled, "GET", "/pipedrive/stats")["throttled"] == 2


def test_limits_off_when_throttle_disabled(pd_throttled: Any) -> None:
    control(pd_throttled, "POST", "/pipedrive/limits", {"burst_limit": 2})
    control(pd_throttled, "POST", "/faults/pipedrive", {"throttle_enabled": False})
    with api_client(pd_throttled) as api:
        assert all(api.get("/api/v2/deals").status_code == 200 for _ in range(6))


def test_daily_budget(pd_throttled: Any) -> None:
    control(pd_throttled, "POST", "/pipedrive/limits", {"daily_limit": 3, "reset_daily": True})
    with api_client(pd_throttled) as api:
        statuses = [api.get("/api/v2/deals").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        control(pd_throttled, "POST", "/clock", {"advance_days": 1})
        ok = api.get("/api/v2/deals")
    assert ok.status_code == 200 and ok.headers["x-daily-requests-left"] == "2"


def test_fault_injected_429_storm_has_pipedrive_shape(pd: Any, api: httpx.Client) -> None:
    control(pd, "POST", "/faults/pipedrive", {"throttle_next": 1})
    refused = api.get("/api/v2/deals")
    assert refused.status_code == 429 and refused.json()["errorCode"] == 429
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert api.get("/api/v2/deals").status_code == 200


def test_state_survives_restart(tmp_path: Path) -> None:
    options = SandboxOptions(state_file=tmp_path / "sandbox.json", throttle=False, webhook_retry_delays=RETRY_DELAYS)
    with Sandbox(options=options) as first:
        token = first.config["pipedrive"]["api_token"]
        with api_client(first) as api:
            field = data(api.post("/v1/dealFields", json={"name": "Invoice number", "field_type": "varchar"}))
            deal = data(api.post("/api/v2/deals", json={"title": "Persistent ✓"}))
            data(api.patch(f"/api/v2/deals/{deal['id']}", json={"status": "won",
                                                                "custom_fields": {field["key"]: "INV-1"}}))
            data(api.post("/v1/notes", json={"content": "kept", "deal_id": deal["id"]}), 201)
            hook = data(api.post("/v1/webhooks", json={"subscription_url": "http://127.0.0.1:9/x", "event_action": "*",
                                                       "event_object": "deal", "version": "2.0"}), 201)
    with Sandbox(options=SandboxOptions(state_file=tmp_path / "sandbox.json", throttle=False)) as second:
        assert second.config["pipedrive"]["api_token"] == token
        with api_client(second) as api:
            again = data(api.get(f"/api/v2/deals/{deal['id']}"))
            assert again["title"] == "Persistent ✓" and again["status"] == "won"
            assert again["custom_fields"][field["key"]] == "INV-1"
            assert [n["content"] for n in data(api.get("/v1/notes", params={"deal_id": deal["id"]}))] == ["kept"]
            assert [h["id"] for h in data(api.get("/v1/webhooks"))] == [hook["id"]]
            products = data(api.get("/api/v2/products"))
            assert sorted(p["code"] for p in products) == ["CONSULT-HR", "LIC-PRO"], "seed is idempotent"
            assert data(api.post("/api/v2/deals", json={"title": "next"}))["id"] == deal["id"] + 1


def test_limits_off_report_a_full_window(pd: Any, api: httpx.Client) -> None:
    control(pd, "POST", "/pipedrive/limits", {"burst_limit": 3})
    responses = [api.get("/api/v2/deals") for _ in range(5)]
    assert all(r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "3" for r in responses)
