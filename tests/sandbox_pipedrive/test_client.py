"""PipedriveClient against the emulator: call counts, field reuse, rate limits, errors, no token leaks."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pd_helpers import api_client, control, data

from dealbooks.clients.pipedrive import PipedriveClient
from dealbooks.domain.deal import DealInvoiceFields
from dealbooks.exceptions import CrmAuthError, CrmError, CrmNotFound, CrmRateLimited


def client_for(sb: Any, **kwargs: Any) -> PipedriveClient:
    config = sb.config["pipedrive"]
    kwargs.setdefault("company_domain", config["company_domain"])
    return PipedriveClient(config["base_url"], config["api_token"], **kwargs)


def won_deal(api: httpx.Client, title: str = "Won") -> int:
    org = data(api.post("/api/v2/organizations", json={"name": "Initech", "address": {"value": "4120 Freidrich Ln"}}))
    deal = data(api.post("/api/v2/deals", json={"title": title, "org_id": org["id"]}))
    product = next(p for p in data(api.get("/api/v2/products")) if p["code"] == "LIC-PRO")
    data(api.post(f"/api/v2/deals/{deal['id']}/products",
                  json={"product_id": product["id"], "item_price": 99.99, "quantity": 3, "tax": 20,
                        "tax_method": "exclusive"}), 201)
    data(api.patch(f"/api/v2/deals/{deal['id']}", json={"status": "won"}))
    return int(deal["id"])


def test_get_deal_maps_everything_in_few_calls(pd: Any, api: httpx.Client) -> None:
    deal_id = won_deal(api)
    control(pd, "POST", "/pipedrive/stats")
    with client_for(pd) as client:
        deal = client.get_deal(str(deal_id))
    stats = control(pd, "GET", "/pipedrive/stats")
    assert stats["total"] <= 6, stats
    assert deal.organization is not None and deal.organization.address is not None
    assert deal.organization.address.street == "4120 Freidrich Ln", "unparsed address text is kept"
    assert deal.person is None
    (line,) = deal.lines
    assert (line.sku, line.quantity, line.unit_price, line.tax_percent) == ("LIC-PRO", 3, Decimal("99.99"), 20)
    assert deal.value == Decimal("359.96")  # 3 × 99.99 + 20 % exclusive tax, as Pipedrive sums it
    assert deal.owner_name == "Sandbox Admin"
    assert deal.url == f"https://dealbooks-sandbox.pipedrive.com/deal/{deal_id}"


def test_the_product_catalogue_is_read_once_per_client(pd: Any, api: httpx.Client) -> None:
    first, second = won_deal(api, "First"), won_deal(api, "Second")
    control(pd, "POST", "/pipedrive/stats")
    with client_for(pd) as client:
        deals = [client.get_deal(str(first)), client.get_deal(str(second))]
    endpoints = control(pd, "GET", "/pipedrive/stats")["endpoints"]
    catalogue = {k: v for k, v in endpoints.items() if "/api/v2/products" in k and "/deals/" not in k}
    assert sum(v["count"] if isinstance(v, dict) else v for v in catalogue.values()) == 1, endpoints
    assert [d.lines[0].sku for d in deals] == ["LIC-PRO", "LIC-PRO"]


def test_deal_url_looks_up_company_domain(pd: Any) -> None:
    with client_for(pd, company_domain="") as client:
        assert client.deal_url("5") == "https://dealbooks-sandbox.pipedrive.com/deal/5"


def test_deleted_deal_is_not_found(pd: Any, api: httpx.Client) -> None:
    deal_id = won_deal(api)
    data(api.delete(f"/api/v2/deals/{deal_id}"))
    with client_for(pd) as client, pytest.raises(CrmNotFound):
        client.get_deal(str(deal_id))
    with client_for(pd) as client, pytest.raises(CrmNotFound):
        client.get_deal("not-a-number")


def test_list_won_deals_uses_one_call_per_page(pd: Any, api: httpx.Client) -> None:
    ids = [won_deal(api, f"W{i}") for i in range(5)]
    control(pd, "POST", "/pipedrive/stats")
    with client_for(pd, page_limit=2) as client:
        listed = [d.id for d in client.list_won_deals()]
    assert sorted(listed) == sorted(str(i) for i in ids)
    assert control(pd, "GET", "/pipedrive/stats")["endpoints"] == {"GET /api/v2/deals": 3}


def test_invoice_fields_are_reused_by_a_second_client(pd: Any) -> None:
    with client_for(pd) as first:
        keys = first.ensure_invoice_fields()
    control(pd, "POST", "/pipedrive/stats")
    with client_for(pd) as second:
        assert second.ensure_invoice_fields() == keys
        assert second.ensure_invoice_fields() == keys
    assert control(pd, "GET", "/pipedrive/stats")["endpoints"] == {"GET /v1/dealFields": 1}


def test_write_invoice_fields_stays_within_the_burst_limit(pd_throttled: Any) -> None:
    with api_client(pd_throttled) as api:
        ids = [data(api.post("/api/v2/deals", json={"title": f"B{i}"}))["id"] for i in range(8)]
    with client_for(pd_throttled) as client:
        keys = client.ensure_invoice_fields()
        control(pd_throttled, "POST", "/pipedrive/limits", {"burst_limit": 5})
        control(pd_throttled, "POST", "/pipedrive/stats")
        result = client.write_invoice_fields({str(i): DealInvoiceFields(invoice_id=f"Q{i}", status="open")
                                              for i in ids})
    assert result == {str(i): None for i in ids}
    stats = control(pd_throttled, "GET", "/pipedrive/stats")
    # The client waits out x-ratelimit-reset when a window is used up, so a 429 is rare (only a
    # window opened before the limit changed can cause one) and is retried after Retry-After.
    assert stats["throttled"] <= 1
    assert stats["endpoints"] == {"PATCH /api/v2/deals/{id}": len(ids) + stats["throttled"]}
    with api_client(pd_throttled) as api:
        assert data(api.get(f"/api/v2/deals/{ids[-1]}"))["custom_fields"][keys["invoice_id"]] == f"Q{ids[-1]}"


def test_persistent_429_raises_rate_limited(pd: Any) -> None:
    control(pd, "POST", "/faults/pipedrive", {"throttle_next": 10})
    with client_for(pd, max_retries=2, sleep=lambda _: None) as client, pytest.raises(CrmRateLimited) as info:
        client.get_deal("1")
    assert info.value.retryable and info.value.status == 429


def test_server_errors_are_retried_then_retryable(pd: Any) -> None:
    control(pd, "POST", "/faults/pipedrive", {"error_rate": 1.0})
    control(pd, "POST", "/pipedrive/stats")
    with client_for(pd, max_retries=2, sleep=lambda _: None) as client, pytest.raises(CrmError) as info:
        client.get_deal("1")
    assert info.value.retryable and info.value.status == 503
    control(pd, "POST", "/faults/pipedrive", {"error_rate": 0.0})


def test_bad_token_is_an_auth_error_and_never_leaks(pd: Any, caplog: pytest.LogCaptureFixture) -> None:
    config = pd.config["pipedrive"]
    bad_token = "definitely-wrong-token-123"
    caplog.set_level(logging.DEBUG)
    with PipedriveClient(config["base_url"], bad_token) as client, pytest.raises(CrmAuthError) as info:
        client.get_deal("1")
    assert "api_token" in str(info.value) and bad_token not in str(info.value)
    assert bad_token not in caplog.text
    with PipedriveClient(config["base_url"], config["api_token"]) as client:
        client.get_deal("1")
    assert config["api_token"] not in caplog.text


def test_unreachable_pipedrive_is_retryable_and_names_no_token(pd: Any) -> None:
    token = pd.config["pipedrive"]["api_token"]
    with PipedriveClient("http://127.0.0.1:9", token, max_retries=1, sleep=lambda _: None) as client:
        with pytest.raises(CrmError) as info:
            client.get_deal("1")
    assert info.value.retryable and token not in str(info.value)
