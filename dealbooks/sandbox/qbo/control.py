"""Control routes under ``/_sandbox/qbo/`` (not part of the QBO API): company switches, webhooks,
bulk data for benchmarks, request statistics, throttle limits, extra companies, the e-mail outbox."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dealbooks.sandbox.qbo import bulk, prefs, seed
from dealbooks.sandbox.qbo.errors import QboFault
from dealbooks.sandbox.qbo.store import Company
from dealbooks.sandbox.qbo.throttle import DEFAULT_LIMITS, limits

if TYPE_CHECKING:
    from dealbooks.sandbox.qbo import Runtime

SETTING_KEYS = ("custom_txn_numbers", "multicurrency", "home_currency", "online_payments", "country", "timezone",
                "exchange_rates", "default_terms", "company_name")


async def _body(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query_params)
    raw = await request.body()
    if not raw:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def routes(rt: Runtime) -> list[Route]:
    """The control routes, bound to one emulator runtime."""
    state = rt.ctx.state

    def company_of(body: dict[str, Any]) -> Company:
        realm = str(body.get("realm_id") or rt.store.root.get("seed_realm", ""))
        company = rt.store.company(realm)
        if company is None:
            raise KeyError(f"unknown realm {realm!r}")
        return company

    async def preferences(request: Request) -> JSONResponse:
        body = await _body(request)
        with state.lock:
            company = company_of(body)
            if request.method == "POST":
                unknown = [k for k in body if k not in SETTING_KEYS and k != "realm_id"]
                if unknown:
                    return JSONResponse({"error": f"unknown settings {unknown}", "allowed": SETTING_KEYS}, 400)
                prefs.change_settings(company, body)
            return JSONResponse(dict(company.settings, realm_id=company.realm_id))

    async def webhooks(request: Request) -> JSONResponse:
        body = await _body(request)
        with state.lock:
            if request.method == "DELETE":
                rt.emitter.unregister()
            elif request.method == "POST":
                if not body.get("url"):
                    return JSONResponse({"error": "url is required"}, 400)
                rt.emitter.register(str(body["url"]),
                                    str(body.get("verifier_token") or state.secret("qbo_webhook_verifier")),
                                    str(body.get("format", "legacy")), body.get("entities"))
            endpoint = rt.emitter.endpoint
            shown = dict(endpoint, verifier_token="***") if endpoint else None
        return JSONResponse({"webhook": shown})

    async def bulk_invoices(request: Request) -> JSONResponse:
        body = await _body(request)
        started = time.perf_counter()
        with state.lock:
            result = bulk.seed_invoices(company_of(body), body)
        return JSONResponse(dict(result, seconds=round(time.perf_counter() - started, 3)))

    async def bulk_mutate(request: Request) -> JSONResponse:
        body = await _body(request)
        started = time.perf_counter()
        with state.lock:
            company = company_of(body)
            result, events = bulk.mutate(company, body)
        if body.get("notify"):
            result["webhook_deliveries"] = rt.emitter.emit(company.realm_id, events)
        return JSONResponse(dict(result, seconds=round(time.perf_counter() - started, 3)))

    async def stats(request: Request) -> JSONResponse:
        if request.method == "POST":
            rt.stats.reset()
        return JSONResponse(rt.stats.snapshot())

    async def throttle(request: Request) -> JSONResponse:
        body = await _body(request)
        with state.lock:
            cfg = limits(rt.store)
            if request.method == "POST":
                for key in DEFAULT_LIMITS:
                    if key in body:
                        cfg[key] = type(DEFAULT_LIMITS[key])(body[key])
                if body.get("defaults"):
                    cfg.update(DEFAULT_LIMITS)
                state.mark_dirty()
            if (body.get("reset") or request.method == "POST") and rt.throttle is not None:
                rt.throttle.reset()
            return JSONResponse(dict(cfg, enabled=state.faults["qbo"].throttle_enabled))

    async def companies(request: Request) -> JSONResponse:
        body = await _body(request)
        with state.lock:
            if request.method == "POST":
                company = rt.store.add_company(name=str(body.get("name", "Sandbox Company")),
                                               country=str(body.get("country", "US")),
                                               timezone=str(body.get("timezone", "America/Los_Angeles")),
                                               currency=str(body.get("currency", "USD")))
                seed.seed_company(company, demo_customers=bool(body.get("demo_customers", True)))
                tokens = rt.oauth.new_chain(company.realm_id)
                return JSONResponse({"realm_id": company.realm_id, "refresh_token": tokens["refresh_token"]})
            return JSONResponse({"realms": [dict(rt.store.company(r).settings, realm_id=r)  # type: ignore[union-attr]
                                            for r in rt.store.realms()]})

    async def oauth(request: Request) -> JSONResponse:
        body = await _body(request)
        with state.lock:
            settings = rt.store.root.setdefault("settings", {})
            if request.method == "POST":
                if "refresh_rotation_seconds" in body:
                    settings["refresh_rotation_seconds"] = float(body["refresh_rotation_seconds"])
                if body.get("authorize"):
                    realm = company_of(body).realm_id
                    tokens = rt.oauth.new_chain(realm)
                    return JSONResponse({"realm_id": realm, "refresh_token": tokens["refresh_token"]})
                state.mark_dirty()
            return JSONResponse({"refresh_rotation_seconds": settings.get("refresh_rotation_seconds", 0),
                                 "access_token_ttl": state.options.access_token_ttl,
                                 "active_access_tokens": len(rt.store.root["oauth"]["access"])})

    async def outbox(request: Request) -> JSONResponse:
        body = await _body(request)
        with state.lock:
            return JSONResponse({"sent": list(company_of(body).doc.get("outbox", []))})

    def guard(handler: Any) -> Any:
        async def wrapped(request: Request) -> JSONResponse:
            try:
                return await handler(request)
            except QboFault as fault:
                return JSONResponse({"error": fault.detail, "code": fault.code}, 400)
            except (KeyError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return wrapped

    return [
        Route("/preferences", guard(preferences), methods=["GET", "POST"]),
        Route("/webhooks", guard(webhooks), methods=["GET", "POST", "DELETE"]),
        Route("/bulk/invoices", guard(bulk_invoices), methods=["POST"]),
        Route("/bulk/mutate", guard(bulk_mutate), methods=["POST"]),
        Route("/stats", guard(stats), methods=["GET", "POST"]),
        Route("/throttle", guard(throttle), methods=["GET", "POST"]),
        Route("/companies", guard(companies), methods=["GET", "POST"]),
        Route("/oauth", guard(oauth), methods=["GET", "POST"]),
        Route("/outbox", guard(outbox), methods=["GET"]),
    ]
