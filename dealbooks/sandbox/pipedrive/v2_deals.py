"""Pipedrive API v2 deal routes: list (status, updated_since, cursor paging), get, create, PATCH,
delete, and the deal's products (``/api/v2/deals/{id}/products``).

A deal moving to won gets ``won_time``, ``close_time`` and (once) ``first_won_time``; a deal with
products gets its value from their sums, as Pipedrive does. Every change is delivered to the
matching webhooks with ``previous`` holding only the changed fields.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from dealbooks.sandbox.pipedrive.events import diff_previous, emit
from dealbooks.sandbox.pipedrive.gate import Runtime, endpoint, json_body
from dealbooks.sandbox.pipedrive.paging import int_list, listed, one, page, require_ref, sort_params
from dealbooks.sandbox.pipedrive.store import (DEAL_STATUSES, DEAL_WRITABLE, ApiError, Store, parse_time,
                                               product_sum)
from dealbooks.sandbox.webhooks import WebhookDispatcher


def routes(runtime: Runtime, dispatcher: WebhookDispatcher) -> list[Route]:
    """The v2 deal and deal-product routes, each wrapped by ``gate.endpoint``."""
    state = runtime.state

    def apply_deal(store: Store, deal: dict[str, Any], body: dict[str, Any]) -> None:
        now = store.now()
        for key in body:
            if key not in DEAL_WRITABLE and key != "custom_fields":
                raise ApiError(400, f"Invalid field(s) in the payload: {key}")
        if "title" in body and not str(body["title"] or "").strip():
            raise ApiError(400, "Title must be given")
        for ref, kind in (("person_id", "persons"), ("org_id", "organizations"), ("owner_id", "users")):
            if ref in body:
                body[ref] = require_ref(store, kind, body[ref], ref)
        if "stage_id" in body:
            stage = store.get("stages", body["stage_id"], "Stage")
            if deal.get("stage_id") != stage["id"]:
                deal["stage_change_time"] = now
            body["stage_id"] = stage["id"]
            body["pipeline_id"] = stage["pipeline_id"]
        elif "pipeline_id" in body:
            pipeline = store.get("pipelines", body["pipeline_id"], "Pipeline")
            stages = sorted((s for s in store.table("stages").values() if s["pipeline_id"] == pipeline["id"]),
                            key=lambda s: s["order_nr"])
            if not stages:
                raise ApiError(400, "Pipeline has no stages")
            body["stage_id"] = stages[0]["id"]
            body["pipeline_id"] = pipeline["id"]
        if "status" in body and body["status"] not in ("open", "won", "lost"):
            raise ApiError(400, "status must be one of: open, won, lost")
        if "value" in body:
            try:
                body["value"] = float(body["value"] or 0)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "value must be a number") from exc
        if "custom_fields" in body:
            custom = dict(deal.get("custom_fields") or {})
            custom.update(store.coerce_custom(body.pop("custom_fields")))
            deal["custom_fields"] = {k: v for k, v in custom.items() if v is not None}
        old_status = deal.get("status")
        deal.update({k: v for k, v in body.items() if k in DEAL_WRITABLE})
        new_status = deal.get("status")
        if new_status != old_status:
            if new_status == "won":
                deal["won_time"] = body.get("won_time") or now
                deal["close_time"] = deal["won_time"]
                deal["first_won_time"] = deal.get("first_won_time") or deal["won_time"]
                deal["lost_time"] = None
            elif new_status == "lost":
                deal["lost_time"] = body.get("lost_time") or now
                deal["close_time"] = deal["lost_time"]
                deal["won_time"] = None
            else:
                deal["won_time"] = deal["lost_time"] = deal["close_time"] = None
        deal["update_time"] = now

    async def list_deals(request: Request, store: Store) -> dict[str, Any]:
        q = request.query_params
        statuses = [s for s in (q.get("status") or "").split(",") if s]
        if any(s not in DEAL_STATUSES for s in statuses):
            raise ApiError(400, f"status must be one of: {', '.join(DEAL_STATUSES)}")
        try:
            since = parse_time(q["updated_since"]) if q.get("updated_since") else None
            until = parse_time(q["updated_until"]) if q.get("updated_until") else None
        except ValueError as exc:
            raise ApiError(400, "updated_since/updated_until must be RFC 3339 times") from exc
        ids = int_list(q.get("ids"), "ids")
        sort_by, direction = sort_params(request, ("id", "update_time", "add_time"))
        filters = {k: int(q[k]) for k in ("owner_id", "person_id", "org_id", "pipeline_id", "stage_id")
                   if q.get(k, "").isdigit()}
        with state.lock:
            out = []
            for deal in store.table("deals").values():
                status = "deleted" if deal.get("is_deleted") else deal["status"]
                if statuses and status not in statuses or not statuses and status == "deleted":
                    continue
                updated = parse_time(deal["update_time"])
                if since and updated < since or until and updated >= until:
                    continue
                if ids is not None and deal["id"] not in ids:
                    continue
                if any(deal.get(k) != v for k, v in filters.items()):
                    continue
                out.append(deal)
            chunk, cursor = page(request, out, sort_by, direction)
            return listed([store.deal_v2(d) for d in chunk], cursor)

    async def get_deal(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            return one(store.deal_v2(store.get("deals", request.path_params["id"], "Deal")))

    async def create_deal(request: Request, store: Store) -> tuple[int, dict[str, Any]]:
        body = await json_body(request)
        if not str(body.get("title") or "").strip():
            raise ApiError(400, "Title must be given")
        with state.lock:
            now = store.now()
            pipelines = sorted(store.table("pipelines").values(), key=lambda p: p["id"])
            deal: dict[str, Any] = {
                "id": 0, "title": "", "creator_user_id": store.default_user_id, "owner_id": store.default_user_id,
                "person_id": None, "org_id": None, "pipeline_id": pipelines[0]["id"] if pipelines else None,
                "stage_id": None, "value": 0, "currency": store.company.get("default_currency", "USD"),
                "status": "open", "add_time": now, "update_time": now, "stage_change_time": None,
                "won_time": None, "first_won_time": None, "lost_time": None, "close_time": None,
                "lost_reason": None, "expected_close_date": None, "probability": None, "visible_to": 3,
                "label_ids": [], "is_deleted": False, "origin": "API", "custom_fields": {},
            }
            if "stage_id" not in body and "pipeline_id" not in body and deal["pipeline_id"] is not None:
                body["pipeline_id"] = deal["pipeline_id"]
            apply_deal(store, deal, body)
            deal["id"] = store.next_id("deal")
            deal["add_time"] = body.get("add_time") or now
            store.table("deals")[str(deal["id"])] = deal
            state.mark_dirty()
            data = store.deal_v2(deal)
            emit(store, dispatcher, "create", "deal", deal["id"], data, None)
            return 200, one(data)

    async def patch_deal(request: Request, store: Store) -> dict[str, Any]:
        body = await json_body(request)
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            if deal.get("is_deleted"):
                raise ApiError(404, "Deal not found")
            before = store.deal_v2(deal)
            apply_deal(store, deal, body)
            state.mark_dirty()
            data = store.deal_v2(deal)
            emit(store, dispatcher, "change", "deal", deal["id"], data, diff_previous(before, data))
            return one(data)

    async def delete_deal(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            if deal.get("is_deleted"):
                raise ApiError(404, "Deal not found")
            before = store.deal_v2(deal)
            deal["is_deleted"] = True
            deal["update_time"] = store.now()
            state.mark_dirty()
            # (?) v2 delete events: data is null and previous holds the deleted object.
            emit(store, dispatcher, "delete", "deal", deal["id"], None, before)
            return one({"id": deal["id"]})

    # -- deal products --------------------------------------------------------------------------
    def deal_product_fields(store: Store, item: dict[str, Any], body: dict[str, Any], creating: bool) -> None:
        if creating:
            product = store.get("products", require_ref(store, "products", body.get("product_id"), "product_id"),
                                "Product")
            item["product_id"] = product["id"]
            item["name"] = product["name"]
            for required in ("item_price", "quantity"):
                if required not in body:
                    raise ApiError(400, f"{required} is required")
        for key in ("item_price", "quantity", "discount", "tax"):
            if key in body:
                try:
                    item[key] = float(body[key])
                except (TypeError, ValueError) as exc:
                    raise ApiError(400, f"{key} must be a number") from exc
        if "discount_type" in body:
            if body["discount_type"] not in ("percentage", "amount"):
                raise ApiError(400, "discount_type must be percentage or amount")
            item["discount_type"] = body["discount_type"]
        if "tax_method" in body:
            if body["tax_method"] not in ("exclusive", "inclusive", "none"):
                raise ApiError(400, "tax_method must be exclusive, inclusive or none")
            item["tax_method"] = body["tax_method"]
        for key in ("comment", "is_enabled", "product_variation_id", "billing_frequency"):
            if key in body:
                item[key] = body[key]
        item["sum"] = product_sum(item["item_price"], item["quantity"], item.get("discount", 0),
                                  item.get("discount_type", "percentage"), item.get("tax", 0),
                                  item.get("tax_method", "none"))

    async def list_deal_products(request: Request, store: Store) -> dict[str, Any]:
        sort_by, direction = sort_params(request, ("id", "add_time", "update_time", "order_nr"))
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            items = [p for p in store.table("deal_products").values() if p["deal_id"] == deal["id"]]
            chunk, cursor = page(request, items, sort_by, direction)
            return listed([store.plain_v2(p) for p in chunk], cursor)

    async def add_deal_product(request: Request, store: Store) -> tuple[int, dict[str, Any]]:
        body = await json_body(request)
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            before = store.deal_v2(deal)
            now = store.now()
            order = 1 + sum(1 for p in store.table("deal_products").values() if p["deal_id"] == deal["id"])
            item: dict[str, Any] = {"id": 0, "deal_id": deal["id"], "discount": 0.0, "discount_type": "percentage",
                                    "tax": 0.0, "tax_method": "none", "is_enabled": True, "comment": None,
                                    "currency": deal.get("currency"), "order_nr": order,
                                    "product_variation_id": None, "billing_frequency": "one-time",
                                    "add_time": now, "update_time": now}
            deal_product_fields(store, item, body, creating=True)
            item["id"] = store.next_id("deal_product")
            store.table("deal_products")[str(item["id"])] = item
            store.recompute_deal_value(deal)
            deal["update_time"] = now
            state.mark_dirty()
            emit(store, dispatcher, "change", "deal", deal["id"], store.deal_v2(deal),
                 diff_previous(before, store.deal_v2(deal)))
            return 201, one(store.plain_v2(item))

    async def patch_deal_product(request: Request, store: Store) -> dict[str, Any]:
        body = await json_body(request)
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            item = store.get("deal_products", request.path_params["item_id"], "Product attachment")
            if item["deal_id"] != deal["id"]:
                raise ApiError(404, "Product attachment not found")
            before = store.deal_v2(deal)
            deal_product_fields(store, item, body, creating=False)
            item["update_time"] = deal["update_time"] = store.now()
            store.recompute_deal_value(deal)
            state.mark_dirty()
            emit(store, dispatcher, "change", "deal", deal["id"], store.deal_v2(deal),
                 diff_previous(before, store.deal_v2(deal)))
            return one(store.plain_v2(item))

    async def delete_deal_product(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            item = store.get("deal_products", request.path_params["item_id"], "Product attachment")
            if item["deal_id"] != deal["id"]:
                raise ApiError(404, "Product attachment not found")
            del store.table("deal_products")[str(item["id"])]
            store.recompute_deal_value(deal)
            deal["update_time"] = store.now()
            state.mark_dirty()
            return one({"id": item["id"]})

    deals = "/api/v2/deals"
    dp = deals + "/{id}/products"
    return [
        Route(deals, endpoint(runtime, deals, list_deals), methods=["GET"]),
        Route(deals, endpoint(runtime, deals, create_deal), methods=["POST"]),
        Route(deals + "/{id:int}", endpoint(runtime, deals + "/{id}", get_deal), methods=["GET"]),
        Route(deals + "/{id:int}", endpoint(runtime, deals + "/{id}", patch_deal), methods=["PATCH"]),
        Route(deals + "/{id:int}", endpoint(runtime, deals + "/{id}", delete_deal), methods=["DELETE"]),
        Route(deals + "/{id:int}/products", endpoint(runtime, dp, list_deal_products), methods=["GET"]),
        Route(deals + "/{id:int}/products", endpoint(runtime, dp, add_deal_product), methods=["POST"]),
        Route(deals + "/{id:int}/products/{item_id:int}", endpoint(runtime, dp + "/{item_id}", patch_deal_product),
              methods=["PATCH"]),
        Route(deals + "/{id:int}/products/{item_id:int}", endpoint(runtime, dp + "/{item_id}", delete_deal_product),
              methods=["DELETE"]),
    ]
