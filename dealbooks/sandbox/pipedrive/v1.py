"""Pipedrive API v1 routes the emulator serves: deal read (v1 shape), notes, deal fields, webhooks, users.

v1 lists page with ``start``/``limit`` and answer ``additional_data.pagination`` with
``start``, ``limit``, ``more_items_in_collection`` and ``next_start``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from dealbooks.sandbox.pipedrive.events import emit
from dealbooks.sandbox.pipedrive.gate import Runtime, endpoint, json_body
from dealbooks.sandbox.pipedrive.store import FIELD_TYPES, STANDARD_DEAL_FIELDS, ApiError, Store, v1_time
from dealbooks.sandbox.webhooks import WebhookDispatcher

WEBHOOK_ACTIONS = ("create", "change", "delete", "*")
WEBHOOK_OBJECTS = ("activity", "deal", "lead", "note", "organization", "person", "product", "project",
                   "user", "*")
MAX_WEBHOOKS = 40


def v1_page(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Offset paging of a v1 list; returns the items and ``additional_data``."""
    try:
        start = int(request.query_params.get("start", 0))
        limit = int(request.query_params.get("limit", 100))
    except ValueError as exc:
        raise ApiError(400, "start and limit must be integers") from exc
    if start < 0 or not 1 <= limit <= 500:
        raise ApiError(400, "start must be >= 0 and limit between 1 and 500")
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return chunk, {"pagination": pagination}


def field_v1(field: dict[str, Any]) -> dict[str, Any]:
    out = dict(field)
    out["add_time"] = v1_time(field.get("add_time"))
    out["update_time"] = v1_time(field.get("update_time"))
    return out


def webhook_v1(hook: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in hook.items() if k not in ("banned_until", "ban_checked_after")}
    out["add_time"] = v1_time(hook.get("add_time"))
    out["last_delivery_time"] = v1_time(hook.get("last_delivery_time"))
    # (?) Whether Pipedrive echoes http_auth_password on reads is not confirmed; masking it is the
    # safe choice (the secret never lands in a client's logs through a webhook listing).
    if out.get("http_auth_password"):
        out["http_auth_password"] = "******"
    out["is_active"] = 0 if hook.get("banned_until") else hook.get("is_active", 1)
    return out


def routes(runtime: Runtime, dispatcher: WebhookDispatcher) -> list[Route]:
    """The v1 routes, each wrapped by ``gate.endpoint``."""
    state = runtime.state

    async def get_deal(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            deal = store.get("deals", request.path_params["id"], "Deal")
            return {"success": True, "data": store.deal_v1(deal),
                    "additional_data": {"dropbox_email": store.deal_v1(deal)["cc_email"]},
                    "related_objects": store.related_objects_v1(deal)}

    # -- notes ----------------------------------------------------------------------------------
    async def list_notes(request: Request, store: Store) -> dict[str, Any]:
        q = request.query_params
        sort = (q.get("sort") or "add_time ASC").split()
        if sort[0] not in ("id", "add_time", "update_time") or len(sort) > 1 and sort[1].upper() not in ("ASC", "DESC"):
            raise ApiError(400, "sort must be one of id, add_time, update_time with ASC or DESC")
        with state.lock:
            notes = [n for n in store.table("notes").values() if n.get("active_flag")]
            for key in ("deal_id", "person_id", "org_id", "user_id"):
                if q.get(key):
                    notes = [n for n in notes if str(n.get(key)) == q[key]]
            notes.sort(key=lambda n: (n.get(sort[0]) or "", n["id"]),
                       reverse=len(sort) > 1 and sort[1].upper() == "DESC")
            chunk, additional = v1_page(request, notes)
            return {"success": True, "data": [store.note_v1(n) for n in chunk], "additional_data": additional}

    async def get_note(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            note = store.get("notes", request.path_params["id"], "Note")
            if not note.get("active_flag"):
                raise ApiError(404, "Note not found")
            return {"success": True, "data": store.note_v1(note)}

    async def add_note(request: Request, store: Store) -> tuple[int, dict[str, Any]]:
        body = await json_body(request)
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ApiError(400, "Content must be given")
        targets = {k: body.get(k) for k in ("deal_id", "person_id", "org_id", "lead_id") if body.get(k) is not None}
        if not targets:
            raise ApiError(400, "One of deal_id, person_id, org_id or lead_id must be given")
        with state.lock:
            for key, kind, label in (("deal_id", "deals", "Deal"), ("person_id", "persons", "Person"),
                                     ("org_id", "organizations", "Organization")):
                if key in targets:
                    record = store.table(kind).get(str(targets[key]))
                    if record is None or record.get("is_deleted"):
                        raise ApiError(400, f"{label} with id {targets[key]} does not exist")
                    targets[key] = record["id"]
            now = store.now()
            note = {"id": store.next_id("note"), "user_id": store.default_user_id, "content": content,
                    "deal_id": targets.get("deal_id"), "person_id": targets.get("person_id"),
                    "org_id": targets.get("org_id"), "lead_id": targets.get("lead_id"), "add_time": now,
                    "update_time": now, "active_flag": True,
                    "pinned_to_deal_flag": bool(body.get("pinned_to_deal_flag", False)),
                    "pinned_to_person_flag": False, "pinned_to_organization_flag": False,
                    "last_update_user_id": None}
            store.table("notes")[str(note["id"])] = note
            state.mark_dirty()
            emit(store, dispatcher, "create", "note", note["id"], dict(note), None)
            return 201, {"success": True, "data": store.note_v1(note)}

    async def delete_note(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            note = store.get("notes", request.path_params["id"], "Note")
            note["active_flag"] = False
            state.mark_dirty()
            return {"success": True, "data": True}

    # -- deal fields ----------------------------------------------------------------------------
    async def list_fields(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            fields = [f for f in store.table("deal_fields").values() if f.get("active_flag")]
            fields.sort(key=lambda f: f["id"])
            chunk, additional = v1_page(request, fields)
            return {"success": True, "data": [field_v1(f) for f in chunk], "additional_data": additional}

    async def get_field(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            field = store.get("deal_fields", request.path_params["id"], "Field")
            return {"success": True, "data": field_v1(field)}

    async def add_field(request: Request, store: Store) -> dict[str, Any]:
        body = await json_body(request)
        name = body.get("name")
        field_type = body.get("field_type")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "Field name must be given")
        if field_type not in FIELD_TYPES:
            raise ApiError(400, f"field_type must be one of: {', '.join(FIELD_TYPES)}")
        with state.lock:
            field_id = store.next_id("deal_field")
            now = store.now()
            field = _field(field_id, store.field_key(field_id, name), name.strip(), field_type, now, custom=True)
            if field_type in ("enum", "set"):
                options = body.get("options") or []
                field["options"] = [{"id": i + 1, "label": o["label"] if isinstance(o, dict) else str(o)}
                                    for i, o in enumerate(options)]
            store.table("deal_fields")[str(field_id)] = field
            state.mark_dirty()
            return {"success": True, "data": field_v1(field)}

    async def delete_field(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            field = store.get("deal_fields", request.path_params["id"], "Field")
            if not field.get("edit_flag"):
                raise ApiError(400, "System fields cannot be deleted")
            field["active_flag"] = False
            state.mark_dirty()
            return {"success": True, "data": {"id": field["id"]}}

    # -- webhooks -------------------------------------------------------------------------------
    async def list_webhooks(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            hooks = sorted(store.table("webhooks").values(), key=lambda h: h["id"])
            return {"status": "ok", "success": True, "data": [webhook_v1(h) for h in hooks]}

    async def add_webhook(request: Request, store: Store) -> tuple[int, dict[str, Any]]:
        body = await json_body(request)
        url = body.get("subscription_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError(400, "subscription_url must be a full http(s) URL")
        if body.get("event_action") not in WEBHOOK_ACTIONS:
            raise ApiError(400, f"event_action must be one of: {', '.join(WEBHOOK_ACTIONS)}")
        if body.get("event_object") not in WEBHOOK_OBJECTS:
            raise ApiError(400, f"event_object must be one of: {', '.join(WEBHOOK_OBJECTS)}")
        version = str(body.get("version") or "1.0")
        if version != "2.0":
            raise ApiError(400, "The sandbox delivers webhooks v2 only: pass version \"2.0\"")
        with state.lock:
            if len(store.table("webhooks")) >= MAX_WEBHOOKS:
                raise ApiError(400, f"The maximum of {MAX_WEBHOOKS} webhooks per user is reached")
            hook = {"id": store.next_id("webhook"), "company_id": store.company.get("id"),
                    "owner_id": store.default_user_id, "user_id": int(body.get("user_id") or store.default_user_id),
                    "event_action": body["event_action"], "event_object": body["event_object"],
                    "subscription_url": url, "is_active": 1, "add_time": store.now(), "remove_time": None,
                    "type": "general", "http_auth_user": body.get("http_auth_user") or None,
                    "http_auth_password": body.get("http_auth_password") or None, "additional_data": [],
                    "remove_reason": None, "last_delivery_time": None, "last_http_status": None,
                    "admin_id": store.default_user_id, "version": version, "name": body.get("name")}
            store.table("webhooks")[str(hook["id"])] = hook
            state.mark_dirty()
            return 201, {"status": "ok", "success": True, "data": webhook_v1(hook)}

    async def delete_webhook(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            hook = store.get("webhooks", request.path_params["id"], "Webhook")
            del store.table("webhooks")[str(hook["id"])]
            state.mark_dirty()
            return {"status": "ok", "success": True}

    # -- users ----------------------------------------------------------------------------------
    async def me(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            user = dict(store.get("users", store.default_user_id, "User"))
            user.update(company_id=store.company.get("id"), company_name=store.company.get("name"),
                        company_domain=store.company.get("domain"), is_you=True)
            return {"success": True, "data": user}

    async def list_users(request: Request, store: Store) -> dict[str, Any]:
        with state.lock:
            users = sorted(store.table("users").values(), key=lambda u: u["id"])
            return {"success": True, "data": [dict(u) for u in users]}

    def r(path: str, handler: Any, method: str, template: str | None = None) -> Route:
        return Route(path, endpoint(runtime, template or path, handler), methods=[method])

    return [
        r("/v1/deals/{id:int}", get_deal, "GET", "/v1/deals/{id}"),
        r("/v1/notes", list_notes, "GET"),
        r("/v1/notes", add_note, "POST"),
        r("/v1/notes/{id:int}", get_note, "GET", "/v1/notes/{id}"),
        r("/v1/notes/{id:int}", delete_note, "DELETE", "/v1/notes/{id}"),
        r("/v1/dealFields", list_fields, "GET"),
        r("/v1/dealFields", add_field, "POST"),
        r("/v1/dealFields/{id:int}", get_field, "GET", "/v1/dealFields/{id}"),
        r("/v1/dealFields/{id:int}", delete_field, "DELETE", "/v1/dealFields/{id}"),
        r("/v1/webhooks", list_webhooks, "GET"),
        r("/v1/webhooks", add_webhook, "POST"),
        r("/v1/webhooks/{id:int}", delete_webhook, "DELETE", "/v1/webhooks/{id}"),
        r("/v1/users/me", me, "GET"),
        r("/v1/users", list_users, "GET"),
    ]


def _field(field_id: int, key: str, name: str, field_type: str, now: str, *, custom: bool) -> dict[str, Any]:
    return {"id": field_id, "key": key, "name": name, "order_nr": field_id, "field_type": field_type,
            "add_time": now, "update_time": now, "last_updated_by_user_id": None, "active_flag": True,
            "edit_flag": custom, "index_visible_flag": True, "details_visible_flag": True,
            "add_visible_flag": custom, "important_flag": False, "bulk_edit_allowed": True,
            "searchable_flag": False, "filtering_allowed": True, "sortable_flag": True,
            "mandatory_flag": False}


def standard_fields(store: Store) -> None:
    """Create the built-in deal fields (called by ``seed``); their keys are the plain names."""
    now = store.now()
    for key, name, field_type in STANDARD_DEAL_FIELDS:
        if any(f["key"] == key for f in store.table("deal_fields").values()):
            continue
        field_id = store.next_id("deal_field")
        store.table("deal_fields")[str(field_id)] = _field(field_id, key, name, field_type, now, custom=False)
