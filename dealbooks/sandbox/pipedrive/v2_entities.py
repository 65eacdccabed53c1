"""Pipedrive API v2 routes for persons (``emails``/``phones`` arrays), organizations (``address``),
products (``code``, ``prices``), pipelines and stages.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from dealbooks.sandbox.pipedrive.events import diff_previous, emit
from dealbooks.sandbox.pipedrive.gate import Runtime, endpoint, json_body
from dealbooks.sandbox.pipedrive.paging import int_list, listed, one, page, require_ref, sort_params
from dealbooks.sandbox.pipedrive.store import ApiError, Store
from dealbooks.sandbox.webhooks import WebhookDispatcher


def routes(runtime: Runtime, dispatcher: WebhookDispatcher) -> list[Route]:
    """The v2 person, organization, product, pipeline and stage routes."""
    state = runtime.state

    def contacts(value: Any, label: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if isinstance(value, str):
            value = [{"value": value, "primary": True, "label": "work"}]
        if not isinstance(value, list) or not all(isinstance(e, dict) and "value" in e for e in value):
            raise ApiError(400, f"{label} must be an array of objects with value, primary and label")
        out = [{"value": str(e["value"]), "primary": bool(e.get("primary")), "label": e.get("label", "work")}
               for e in value]
        if out and not any(e["primary"] for e in out):
            out[0]["primary"] = True
        return out

    def apply_person(store: Store, person: dict[str, Any], body: dict[str, Any]) -> None:
        for key in body:
            if key not in ("name", "owner_id", "org_id", "emails", "phones", "visible_to", "label_ids",
                           "custom_fields", "first_name", "last_name"):
                raise ApiError(400, f"Invalid field(s) in the payload: {key}")
        if "name" in body and not str(body["name"] or "").strip():
            raise ApiError(400, "Name must be given")
        if "org_id" in body:
            body["org_id"] = require_ref(store, "organizations", body["org_id"], "org_id")
        if "emails" in body:
            body["emails"] = contacts(body["emails"], "emails")
        if "phones" in body:
            body["phones"] = contacts(body["phones"], "phones")
        person.update(body)
        person["update_time"] = store.now()

    def apply_org(store: Store, org: dict[str, Any], body: dict[str, Any]) -> None:
        for key in body:
            if key not in ("name", "owner_id", "address", "visible_to", "label_ids", "custom_fields"):
                raise ApiError(400, f"Invalid field(s) in the payload: {key}")
        if "name" in body and not str(body["name"] or "").strip():
            raise ApiError(400, "Name must be given")
        if "address" in body:
            address = body["address"]
            if isinstance(address, str):
                address = {"value": address}
            if address is not None and not isinstance(address, dict):
                raise ApiError(400, "address must be an object")
            body["address"] = address
        org.update(body)
        org["update_time"] = store.now()

    def apply_product(store: Store, product: dict[str, Any], body: dict[str, Any]) -> None:
        for key in body:
            if key not in ("name", "code", "description", "unit", "tax", "prices", "is_linkable", "visible_to",
                           "owner_id", "category", "billing_frequency", "custom_fields"):
                raise ApiError(400, f"Invalid field(s) in the payload: {key}")
        if "prices" in body:
            prices = body["prices"]
            if not isinstance(prices, list) or not all(isinstance(p, dict) and "currency" in p for p in prices):
                raise ApiError(400, "prices must be an array of objects with price and currency")
            body["prices"] = [{"product_id": product["id"], "price": float(p.get("price", 0)),
                               "currency": p["currency"], "cost": float(p.get("cost", 0)),
                               "direct_cost": float(p.get("direct_cost", 0)), "notes": p.get("notes", "")}
                              for p in prices]
        product.update(body)
        product["update_time"] = store.now()

    def crud(kind: str, entity: str, label: str, apply: Any, defaults: dict[str, Any]) -> list[Route]:
        async def list_all(request: Request, store: Store) -> dict[str, Any]:
            sort_by, direction = sort_params(request, ("id", "update_time", "add_time"))
            ids = int_list(request.query_params.get("ids"), "ids")
            with state.lock:
                items = [r for r in store.table(kind).values() if not r.get("is_deleted")
                         and (ids is None or r["id"] in ids)]
                chunk, cursor = page(request, items, sort_by, direction)
                return listed([store.plain_v2(r) for r in chunk], cursor)

        async def get_one(request: Request, store: Store) -> dict[str, Any]:
            with state.lock:
                record = store.get(kind, request.path_params["id"], label)
                if record.get("is_deleted"):
                    raise ApiError(404, f"{label} not found")
                return one(store.plain_v2(record))

        async def create(request: Request, store: Store) -> tuple[int, dict[str, Any]]:
            body = await json_body(request)
            if not str(body.get("name") or "").strip():
                raise ApiError(400, "Name must be given")
            with state.lock:
                now = store.now()
                record = {"id": store.next_id(entity), "owner_id": store.default_user_id, "add_time": now,
                          "update_time": now, "is_deleted": False, "custom_fields": {}, "visible_to": 3,
                          **{k: (list(v) if isinstance(v, list) else v) for k, v in defaults.items()}}
                apply(store, record, body)
                store.table(kind)[str(record["id"])] = record
                state.mark_dirty()
                emit(store, dispatcher, "create", entity, record["id"], store.plain_v2(record), None)
                return 200, one(store.plain_v2(record))

        async def patch(request: Request, store: Store) -> dict[str, Any]:
            body = await json_body(request)
            with state.lock:
                record = store.get(kind, request.path_params["id"], label)
                before = store.plain_v2(record)
                apply(store, record, body)
                state.mark_dirty()
                emit(store, dispatcher, "change", entity, record["id"], store.plain_v2(record),
                     diff_previous(before, record))
                return one(store.plain_v2(record))

        base = f"/api/v2/{kind}"
        return [
            Route(base, endpoint(runtime, base, list_all), methods=["GET"]),
            Route(base, endpoint(runtime, base, create), methods=["POST"]),
            Route(base + "/{id:int}", endpoint(runtime, base + "/{id}", get_one), methods=["GET"]),
            Route(base + "/{id:int}", endpoint(runtime, base + "/{id}", patch), methods=["PATCH"]),
        ]

    async def list_pipelines(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            chunk, cursor = page(request, list(store.table("pipelines").values()))
            return listed([store.plain_v2(p) for p in chunk], cursor)

    async def list_stages(request: Request, store: Store) -> dict[str, Any]:
        pipeline_id = request.query_params.get("pipeline_id")
        with state.lock:
            stages = [s for s in store.table("stages").values()
                      if not pipeline_id or str(s["pipeline_id"]) == pipeline_id]
            chunk, cursor = page(request, stages)
            return listed([store.plain_v2(s) for s in chunk], cursor)

    async def get_stage(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            return one(store.plain_v2(store.get("stages", request.path_params["id"], "Stage")))

    return [
        *crud("persons", "person", "Person", apply_person, {"emails": [], "phones": [], "org_id": None}),
        *crud("organizations", "organization", "Organization", apply_org, {"address": None}),
        *crud("products", "product", "Product", apply_product,
              {"code": None, "description": None, "unit": None, "tax": 0, "prices": [], "is_linkable": True,
               "category": None, "billing_frequency": "one-time"}),
        Route("/api/v2/pipelines", endpoint(runtime, "/api/v2/pipelines", list_pipelines), methods=["GET"]),
        Route("/api/v2/stages", endpoint(runtime, "/api/v2/stages", list_stages), methods=["GET"]),
        Route("/api/v2/stages/{id:int}", endpoint(runtime, "/api/v2/stages/{id}", get_stage), methods=["GET"]),
    ]
