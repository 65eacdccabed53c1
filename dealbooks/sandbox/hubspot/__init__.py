"""HubSpot emulator: CRM v3 objects, search, batch, associations v4, properties, pipelines, webhooks.

Served under ``/hubspot`` so that ``hubspot.HubSpot(access_token=..., host=".../hubspot")`` works
unmodified. Control routes under ``/_sandbox/hubspot``:

- ``GET /stats`` request counts by endpoint (``POST`` resets them);
- ``GET|POST|DELETE /webhooks`` list / register (``{"target_url", "subscriptions": [{"subscriptionType",
  "propertyName"}]}``) / remove webhook subscriptions;
- ``GET|POST /settings`` rate limits (``rate_limit_per_10s``, ``daily_limit``, ``search_per_second``).

Module contract: see ``dealbooks.sandbox.server``.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from dealbooks.sandbox.faults import FaultMiddleware
from dealbooks.sandbox.hubspot import schema
from dealbooks.sandbox.hubspot.api import build_app
from dealbooks.sandbox.hubspot.guard import StatsMiddleware, access_token, runtime, throttle_response
from dealbooks.sandbox.hubspot.store import SETTINGS_DEFAULTS, Store, ensure_layout
from dealbooks.sandbox.hubspot.webhooks import control_routes_handlers

NAME = "hubspot"
MOUNT = "/hubspot"
PORTAL_ID = 24681357
APP_ID = 3141592


def build(ctx: Any) -> ASGIApp:
    """The emulator app: routes, wrapped in fault injection, wrapped in request statistics."""
    faulty = FaultMiddleware(build_app(ctx), ctx.state, NAME, throttle_response=throttle_response)
    return StatsMiddleware(faulty, ctx.state)


def control_routes(ctx: Any) -> list[Route]:
    state = ctx.state

    async def stats(request: Request) -> Response:
        rt = runtime(state)
        document = rt.stats_document()
        if request.method == "POST":
            rt.reset_stats()
        return JSONResponse(document)

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            unknown = set(body) - set(SETTINGS_DEFAULTS)
            if unknown:
                return JSONResponse({"error": f"unknown settings {sorted(unknown)}"}, status_code=400)
            with state.lock:
                ensure_layout(state)["settings"].update({k: int(v) for k, v in body.items()})
                state.mark_dirty()
        with state.lock:
            return JSONResponse(dict(ensure_layout(state)["settings"]))

    handlers = control_routes_handlers(ctx)
    return [
        Route("/stats", stats, methods=["GET", "POST"]),
        Route("/settings", settings, methods=["GET", "POST"]),
        Route("/webhooks", handlers["webhooks"], methods=["GET", "POST", "DELETE"]),
    ]


def seed(ctx: Any) -> None:
    """Credentials, portal/app ids, deal pipelines and the two catalogue products (idempotent)."""
    state = ctx.state
    access_token(state)
    state.secret("hubspot.client_secret")
    with state.lock:
        data = ensure_layout(state)
        if not data["portal_id"]:
            data["portal_id"] = PORTAL_ID
            data["app_id"] = APP_ID
        data.setdefault("seeded_at", Store(state).now_iso())
        if not data["pipelines"].get("deals"):
            data["pipelines"]["deals"] = copy.deepcopy(schema.SEED_PIPELINES)
        store = Store(state)
        existing = {r["properties"].get("hs_sku") for r in data["objects"]["products"].values()}
        for product in schema.SEED_PRODUCTS:
            if product["hs_sku"] not in existing:
                store.create("products", dict(product))
        state.mark_dirty()


def config(ctx: Any) -> dict[str, Any]:
    state = ctx.state
    with state.lock:
        data = ensure_layout(state)
        portal_id, app_id = data["portal_id"], data["app_id"]
    return {
        "base_url": f"{ctx.base_url}{MOUNT}",
        "access_token": access_token(state),
        "client_secret": state.secret("hubspot.client_secret"),
        "portal_id": portal_id,
        "app_id": app_id,
        "stats_url": f"{ctx.base_url}/_sandbox/{NAME}/stats",
        "webhooks_url": f"{ctx.base_url}/_sandbox/{NAME}/webhooks",
    }
