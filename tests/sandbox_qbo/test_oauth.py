"""Intuit OAuth 2.0 conformance, driven through intuitlib (unmodified)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException
from quickbooks.objects.customer import Customer

from tests.sandbox_qbo.conftest import auth_client, control, qb_client, raw

REFERENCE_DISCOVERY_KEYS = {"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                            "revocation_endpoint", "jwks_uri", "response_types_supported",
                            "token_endpoint_auth_methods_supported", "scopes_supported"}


def test_discovery_document_has_the_reference_keys(qsb):
    doc = requests.get(qsb.config["qbo"]["discovery_url"], timeout=10).json()
    assert REFERENCE_DISCOVERY_KEYS <= set(doc)
    assert doc["token_endpoint"].endswith("/qbo/oauth2/v1/tokens/bearer")
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]


def test_refresh_rotates_and_the_previous_token_fails_invalid_grant(qsb):
    cfg = qsb.config["qbo"]
    client = auth_client(qsb)
    client.refresh(refresh_token=cfg["refresh_token"])
    assert client.access_token and client.refresh_token != cfg["refresh_token"]
    assert client.expires_in == 3600 and client.x_refresh_token_expires_in > 86400 * 100
    stale = auth_client(qsb)
    with pytest.raises(AuthClientError) as info:
        stale.refresh(refresh_token=cfg["refresh_token"])
    assert info.value.status_code == 400
    assert info.value.response.json() == {"error": "invalid_grant"}
    client.refresh()  # the rotated one works
    assert qsb.config["qbo"]["refresh_token"] == client.refresh_token


def test_wrong_client_secret_fails(qsb):
    client = auth_client(qsb, client_secret="not-the-secret")
    with pytest.raises(AuthClientError) as info:
        client.refresh(refresh_token=qsb.config["qbo"]["refresh_token"])
    assert info.value.status_code == 401
    assert info.value.response.json()["error"] == "invalid_client"


def test_authorization_code_grant(qsb):
    client = auth_client(qsb)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="xyz")
    redirect = requests.get(url, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    params = parse_qs(urlparse(redirect.headers["location"]).query)
    assert params["state"] == ["xyz"] and params["realmId"] == [qsb.config["qbo"]["realm_id"]]
    client.get_bearer_token(params["code"][0], realm_id=params["realmId"][0])
    assert client.access_token and client.refresh_token
    with pytest.raises(AuthClientError):  # codes are single-use
        auth_client(qsb).get_bearer_token(params["code"][0])


def test_revoke_disconnects_the_authorization(qsb):
    client = auth_client(qsb)
    client.refresh(refresh_token=qsb.config["qbo"]["refresh_token"])
    assert client.revoke(token=client.refresh_token) is True
    with pytest.raises(AuthClientError):
        auth_client(qsb).refresh(refresh_token=client.refresh_token)


def test_access_token_expires_with_the_sandbox_clock(qsb):
    qb = qb_client(qsb)
    assert Customer.all(qb=qb)
    control(qsb, "clock", {"advance_seconds": 3601})
    with pytest.raises(AuthorizationException) as info:
        Customer.all(qb=qb)
    assert info.value.error_code == 401
    body = raw(qsb, qb, "GET", "customer/1").json()
    assert body["fault"]["error"][0]["code"] == "3200"  # lower-case keys, as captured
    assert "Token expired" in body["fault"]["error"][0]["detail"]


def test_expire_tokens_fault_expires_tokens_issued_so_far(qsb):
    qb = qb_client(qsb)
    control(qsb, "faults/qbo", {"expire_tokens": True})
    with pytest.raises(AuthorizationException):
        Customer.all(qb=qb)
    fresh = qb_client(qsb)  # refreshes: new tokens work again
    assert Customer.all(qb=fresh)


def test_token_for_another_realm_is_403_with_lowercase_fault(qsb):
    qb = qb_client(qsb)
    other = control(qsb, "qbo/companies", {"name": "Other Co"})
    response = raw(qsb, qb, "GET", "customer/1").url.replace(qb.company_id, other["realm_id"])
    reply = requests.get(response, headers={"Authorization": f"Bearer {qb.session.access_token}",
                                            "Accept": "application/json"}, timeout=10)
    assert reply.status_code == 403
    assert reply.json()["fault"]["error"][0]["code"] == "3100"
    assert Customer.all(qb=qb_client(qsb, other["refresh_token"], other["realm_id"]))


def test_access_token_ttl_option():
    from tests.sandbox_qbo.conftest import qbo_sandbox
    with qbo_sandbox(access_token_ttl=120) as sb:
        client = auth_client(sb)
        client.refresh(refresh_token=sb.config["qbo"]["refresh_token"])
        assert client.expires_in == 120
