"""Seed data and ``/_sandbox/pipedrive/...`` control routes of the Pipedrive emulator.

Control routes (no auth; the sandbox's control plane):

- ``GET /_sandbox/pipedrive/stats`` — requests per endpoint template and per status;
  ``POST`` resets the counters (benchmarks count API calls with it).
- ``GET/POST /_sandbox/pipedrive/limits`` — ``{"burst_limit": 80, "daily_limit": 100000}``;
  POST changes them (``"reset_daily": true`` also zeroes today's usage).
- ``GET /_sandbox/pipedrive/webhooks`` — registered webhooks with their ban state.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dealbooks.sandbox.pipedrive.gate import TOKEN_SECRET, runtime_for
from dealbooks.sandbox.pipedrive.store import ApiError, Store, product_sum
from dealbooks.sandbox.pipedrive.v1 import standard_fields
from dealbooks.sandbox.state import SandboxState

COMPANY_DOMAIN = "dealbooks-sandbox"
WEBHOOK_USER = "dealbooks"

PIPELINE_STAGES = (("Qualified", 10), ("Contact made", 20), ("Proposal made", 50), ("Negotiations started", 80))

# The QBO sandbox seeds Items with these SKUs, so a won deal with these products invoices cleanly.
SEED_PRODUCTS = (
    ("Consulting (hourly)", "CONSULT-HR", "Senior consultant, per hour", "hour", 150.0),
    ("Pro license (annual)", "LIC-PRO", "dealbooks Pro, one seat for one year", "seat", 1200.0),
)


def api_token(state: SandboxState) -> str:
    return state.secret(TOKEN_SECRET)


def seed(state: SandboxState) -> None:
    """Idempotent: company, admin user, a pipeline with stages, products, deal fields, demo records."""
    store = Store(state)
    api_token(state)
    state.secret("pipedrive_webhook_password")
    with state.lock:
        root = store.root
        if root.get("seeded"):
            return
        now = store.now()
        root["company"] = {"id": 7_700_001, "name": "dealbooks sandbox", "domain": COMPANY_DOMAIN,
                           "default_currency": "USD", "admin_user_id": 1,
                           "field_salt": state.secret("pipedrive_field_salt", 12)}
        store.table("users")["1"] = {"id": 1, "name": "Sandbox Admin", "email": "admin@dealbooks-sandbox.example",
                                     "default_currency": "USD", "timezone_name": "UTC", "locale": "en_US",
                                     "active_flag": True, "is_admin": 1, "role_id": 1, "created": now}
        store.next_id("user")
        pipeline_id = store.next_id("pipeline")
        store.table("pipelines")[str(pipeline_id)] = {"id": pipeline_id, "name": "Sales pipeline", "order_nr": 1,
                                                      "is_deleted": False, "is_deal_probability_enabled": True,
                                                      "add_time": now, "update_time": now}
        for order, (name, probability) in enumerate(PIPELINE_STAGES, start=1):
            stage_id = store.next_id("stage")
            store.table("stages")[str(stage_id)] = {"id": stage_id, "order_nr": order, "name": name,
                                                    "is_deleted": False, "deal_probability": probability,
                                                    "pipeline_id": pipeline_id, "is_deal_rot_enabled": False,
                                                    "days_to_rotten": None, "add_time": now, "update_time": now}
        for name, code, description, unit, price in SEED_PRODUCTS:
            product_id = store.next_id("product")
            store.table("products")[str(product_id)] = {
                "id": product_id, "name": name, "code": code, "description": description, "unit": unit, "tax": 0,
                "category": None, "is_linkable": True, "is_deleted": False, "visible_to": 3, "owner_id": 1,
                "billing_frequency": "one-time", "add_time": now, "update_time": now, "custom_fields": {},
                "prices": [{"product_id": product_id, "price": price, "currency": "USD", "cost": 0,
                            "direct_cost": 0, "notes": ""}]}
        standard_fields(store)
        if state.options.seed_demo_data:
            _seed_demo(store, now, pipeline_id)
        root["seeded"] = True
        state.mark_dirty()


def _seed_demo(store: Store, now: str, pipeline_id: int) -> None:
    """One open demo deal (organization, person, products) that a demo can move to won."""
    org_id = store.next_id("organization")
    store.table("organizations")[str(org_id)] = {
        "id": org_id, "name": "Globex Corporation", "owner_id": 1, "add_time": now, "update_time": now,
        "is_deleted": False, "visible_to": 3, "label_ids": [], "custom_fields": {},
        "address": {"value": "742 Evergreen Terrace, Springfield, OR 97403, USA", "street_number": "742",
                    "route": "Evergreen Terrace", "locality": "Springfield", "admin_area_level_1": "OR",
                    "postal_code": "97403", "country": "USA",
                    "formatted_address": "742 Evergreen Terrace, Springfield, OR 97403, USA"}}
    person_id = store.next_id("person")
    store.table("persons")[str(person_id)] = {
        "id": person_id, "name": "Hank Scorpio", "first_name": "Hank", "last_name": "Scorpio", "owner_id": 1,
        "org_id": org_id, "add_time": now, "update_time": now, "is_deleted": False, "visible_to": 3,
        "label_ids": [], "custom_fields": {},
        "emails": [{"value": "hank@globex.example", "primary": True, "label": "work"}],
        "phones": [{"value": "+1 555 0100", "primary": True, "label": "work"}]}
    stage = min((s for s in store.table("stages").values() if s["pipeline_id"] == pipeline_id),
                key=lambda s: s["order_nr"])
    deal_id = store.next_id("deal")
    deal = {"id": deal_id, "title": "Globex onboarding", "creator_user_id": 1, "owner_id": 1,
            "person_id": person_id, "org_id": org_id, "pipeline_id": pipeline_id, "stage_id": stage["id"],
            "value": 0, "currency": "USD", "status": "open", "add_time": now, "update_time": now,
            "stage_change_time": None, "won_time": None, "first_won_time": None, "lost_time": None,
            "close_time": None, "lost_reason": None, "expected_close_date": None, "probability": None,
            "visible_to": 3, "label_ids": [], "is_deleted": False, "origin": "API", "custom_fields": {}}
    store.table("deals")[str(deal_id)] = deal
    for order, (product, quantity) in enumerate(zip(sorted(store.table("products").values(), key=lambda p: p["id"]),
                                                    (10, 2)), start=1):
        item_id = store.next_id("deal_product")
        price = product["prices"][0]["price"]
        store.table("deal_products")[str(item_id)] = {
            "id": item_id, "deal_id": deal_id, "product_id": product["id"], "name": product["name"],
            "item_price": price, "quantity": quantity, "discount": 0.0, "discount_type": "percentage",
            "tax": 0.0, "tax_method": "none", "is_enabled": True, "comment": None, "currency": "USD",
            "order_nr": order, "product_variation_id": None, "billing_frequency": "one-time",
            "add_time": now, "update_time": now,
            "sum": product_sum(price, quantity, 0, "percentage", 0, "none")}
    store.recompute_deal_value(deal)


def config(state: SandboxState, base_url: str) -> dict[str, Any]:
    store = Store(state)
    with state.lock:
        domain = store.company.get("domain", COMPANY_DOMAIN)
    return {"base_url": f"{base_url}/pipedrive", "api_token": api_token(state), "company_domain": domain,
            "webhook_username": WEBHOOK_USER, "webhook_password": state.secret("pipedrive_webhook_password")}


def control_routes(state: SandboxState) -> list[Route]:
    runtime = runtime_for(state)

    async def stats(request: Request) -> JSONResponse:
        if request.method == "POST":
            return JSONResponse(runtime.reset_stats())
        return JSONResponse(runtime.snapshot())

    async def limits(request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "body must be a JSON object")
                return JSONResponse(runtime.set_limits(body))
            except ApiError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except ValueError as exc:
                return JSONResponse({"error": f"bad limits: {exc}"}, status_code=400)
        return JSONResponse(runtime.limits())

    async def webhooks(_: Request) -> JSONResponse:
        store = Store(state)
        with state.lock:
            hooks = sorted(store.table("webhooks").values(), key=lambda h: h["id"])
            return JSONResponse([{"id": h["id"], "subscription_url": h["subscription_url"],
                                  "event_action": h["event_action"], "event_object": h["event_object"],
                                  "banned_until": h.get("banned_until"),
                                  "last_delivery_time": h.get("last_delivery_time")} for h in hooks])

    return [
        Route("/stats", stats, methods=["GET", "POST"]),
        Route("/limits", limits, methods=["GET", "POST"]),
        Route("/webhooks", webhooks, methods=["GET"]),
    ]
