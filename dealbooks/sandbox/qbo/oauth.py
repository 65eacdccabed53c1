"""Intuit OAuth 2.0 as the emulator serves it: discovery, authorize, token, revoke, userinfo, jwks.

Refresh tokens rotate (by default on every refresh; ``settings.refresh_rotation_seconds`` sets the real
~24 h rhythm) and the previous one then fails with 400 ``invalid_grant``; access tokens live
``state.options.access_token_ttl`` seconds of sandbox time; ``faults["qbo"].expire_tokens`` expires
every access token issued so far (it is a one-shot switch: it resets itself once applied).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from dealbooks.sandbox.qbo.store import Store
from dealbooks.sandbox.server import SandboxContext

REFRESH_TTL = 8_726_400  # 101 days, rolling
CODE_TTL = 300
ACCESS_PRUNE_AT = 5000


class OAuth:
    """Token issuing and checking over ``state.data["qbo"]["oauth"]``."""

    def __init__(self, ctx: SandboxContext, store: Store) -> None:
        self.ctx = ctx
        self.store = store
        self.state = ctx.state

    @property
    def tables(self) -> dict[str, Any]:
        return self.store.root["oauth"]

    @property
    def client_id(self) -> str:
        return "AB" + self.state.secret("qbo_client_id", 24).replace("-", "x").replace("_", "y")

    @property
    def client_secret(self) -> str:
        return self.state.secret("qbo_client_secret", 30)

    def _now(self) -> float:
        return self.state.now().timestamp()

    def apply_expiry_fault(self) -> None:
        """Honour ``expire_tokens``: every access token issued so far becomes expired."""
        faults = self.state.faults["qbo"]
        if faults.expire_tokens:
            with self.state.lock:
                for entry in self.tables["access"].values():
                    entry["expires"] = 0
                faults.expire_tokens = False
                self.state.mark_dirty()

    # -- issuing --------------------------------------------------------------------------------
    def new_chain(self, realm_id: str) -> dict[str, Any]:
        """A fresh authorization (as after the consent screen): new refresh + access tokens."""
        chain = secrets.token_hex(8)
        self.tables["chains"][chain] = {"realm": realm_id, "current": None}
        return self._issue(chain, rotate=True)

    def _issue(self, chain: str, *, rotate: bool) -> dict[str, Any]:
        self.apply_expiry_fault()
        now = self._now()
        info = self.tables["chains"][chain]
        if rotate or info["current"] is None:
            old = info["current"]
            if old is not None:
                self.tables["refresh"][old]["status"] = "rotated"
            token = "RT1-" + secrets.token_urlsafe(36)
            self.tables["refresh"][token] = {"realm": info["realm"], "chain": chain, "status": "active",
                                             "issued": now}
            info["current"] = token
        refresh = info["current"]
        self.tables["refresh"][refresh]["expires"] = now + REFRESH_TTL
        ttl = int(self.state.options.access_token_ttl)
        access = "eyJlbmMi." + secrets.token_urlsafe(48)
        self._prune_access(now)
        self.tables["access"][access] = {"realm": info["realm"], "chain": chain, "expires": now + ttl, "issued": now}
        self.state.mark_dirty()
        return {"token_type": "bearer", "expires_in": ttl, "refresh_token": refresh,
                "x_refresh_token_expires_in": REFRESH_TTL, "access_token": access}

    def _prune_access(self, now: float) -> None:
        access = self.tables["access"]
        if len(access) > ACCESS_PRUNE_AT:
            for token in [t for t, e in access.items() if e["expires"] < now]:
                del access[token]

    def current_refresh_token(self, chain: str) -> str:
        return self.tables["chains"][chain]["current"]

    # -- checking -------------------------------------------------------------------------------
    def check_access(self, header: str | None) -> tuple[str | None, str]:
        """Validate ``Authorization: Bearer``; returns (realm, problem) — problem "" when valid."""
        self.apply_expiry_fault()
        if not header or not header.lower().startswith("bearer "):
            return None, "Authorization header missing or not a Bearer token"
        token = header[7:].strip()
        entry = self.tables["access"].get(token)
        if entry is None:
            return None, "Malformed bearer token: token is unknown or revoked"
        if entry["expires"] <= self._now():
            return None, "Token expired: the access token has expired"
        return entry["realm"], ""

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        client_id = form.get("client_id", "")
        secret = form.get("client_secret", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(secret, self.client_secret)

    # -- routes ---------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/openid_configuration", self.discovery),
            Route("/connect/oauth2", self.authorize),
            Route("/oauth2/v1/tokens/bearer", self.token, methods=["POST"]),
            Route("/oauth2/v1/tokens/revoke", self.revoke, methods=["POST"]),
            Route("/v1/openid_connect/userinfo", self.userinfo),
            Route("/op/v1/jwks", self.jwks),
        ]

    async def discovery(self, request: Request) -> Response:
        base = f"{self.ctx.base_url}/qbo"
        return JSONResponse({
            "issuer": f"{base}/op/v1", "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke", "jwks_uri": f"{base}/op/v1/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"]})

    async def authorize(self, request: Request) -> Response:
        """Auto-consent: redirect to ``redirect_uri`` with ``code``, ``state`` and ``realmId``."""
        params = request.query_params
        if params.get("client_id") != self.client_id or not params.get("redirect_uri"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        with self.state.lock:
            realm = params.get("realm_id") or self.store.root.get("seed_realm")
            if self.store.company(str(realm)) is None:
                return JSONResponse({"error": "invalid_request", "error_description": "unknown realm"}, 400)
            code = "AB11" + secrets.token_urlsafe(24)
            self.tables["codes"][code] = {"realm": realm, "redirect_uri": params["redirect_uri"],
                                          "expires": self._now() + CODE_TTL}
            self.state.mark_dirty()
        query = urlencode({"code": code, "state": params.get("state", ""), "realmId": realm})
        sep = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(f"{params['redirect_uri']}{sep}{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        if not self._client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = form.get("grant_type")
        with self.state.lock:
            if grant == "authorization_code":
                entry = self.tables["codes"].pop(form.get("code", ""), None)
                if entry is None or entry["expires"] < self._now() or entry["redirect_uri"] != form.get("redirect_uri"):
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
                return JSONResponse(self.new_chain(entry["realm"]))
            if grant == "refresh_token":
                entry = self.tables["refresh"].get(form.get("refresh_token", ""))
                if entry is None or entry["status"] != "active" or entry.get("expires", 0) < self._now():
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
                every = float(self.store.root.get("settings", {}).get("refresh_rotation_seconds", 0))
                rotate = every <= 0 or self._now() - entry["issued"] >= every
                return JSONResponse(self._issue(entry["chain"], rotate=rotate))
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    async def revoke(self, request: Request) -> Response:
        """Revoke a refresh or access token: the whole authorization (chain) is disconnected."""
        try:
            body = await request.json()
        except ValueError:
            body = {}
        if not self._client_ok(request, {}):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = str((body or {}).get("token", ""))
        with self.state.lock:
            entry = self.tables["refresh"].get(token) or self.tables["access"].get(token)
            if entry is None:
                return JSONResponse({"error": "invalid_token"}, status_code=400)
            chain = entry["chain"]
            for value in self.tables["refresh"].values():
                if value["chain"] == chain:
                    value["status"] = "revoked"
            for key in [k for k, v in self.tables["access"].items() if v["chain"] == chain]:
                del self.tables["access"][key]
            self.state.mark_dirty()
        return Response(status_code=200)

    async def userinfo(self, request: Request) -> Response:
        realm, problem = self.check_access(request.headers.get("authorization"))
        if problem:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"sub": f"sandbox-user-{realm}", "email": "owner@sandbox.example",
                             "emailVerified": True, "givenName": "Sandbox", "familyName": "Owner"})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": []})
