"""HTTP routes of the HubSpot emulator, mirroring api.hubapi.com paths under ``/hubspot``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dealbooks.sandbox.hubspot import meta, schema, search
from dealbooks.sandbox.hubspot.guard import check_auth, rate_limit
from dealbooks.sandbox.hubspot.store import Store
from dealbooks.sandbox.hubspot.values import HubSpotApiError, bad_request, iso_ms
from dealbooks.sandbox.hubspot.webhooks import deliver

BATCH_LIMIT = 100
Handler = Callable[[Request, Store], Any]


def _list_param(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("Invalid input JSON: the body could not be parsed.") from None


def build_app(ctx: Any) -> Starlette:
    """The routed app (auth, rate limits and JSON errors included; fault middleware added outside)."""
    state = ctx.state

    def endpoint(handler: Callable[[Request, Store, Any], Any], *, is_search: bool = False,
                 status: int = 200) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            headers: dict[str, str] = {}
            try:
                check_auth(state, request.headers.get("authorization"))
                headers = rate_limit(state, is_search)
                body = await _json(request) if request.method in ("POST", "PATCH", "PUT") else None
                with state.lock:
                    store = Store(state)
                    result = handler(request, store, body)
                deliver(ctx, store.events)
            except HubSpotApiError as exc:
                return JSONResponse(exc.body(), status_code=exc.status, headers={**headers, **exc.headers})
            if isinstance(result, Response):
                result.headers.update(headers)
                return result
            code, payload = result if isinstance(result, tuple) else (status, result)
            return JSONResponse(payload, status_code=code, headers=headers)

        return run

    def kind(request: Request, store: Store, key: str = "object_type") -> str:
        return store.object_type(request.path_params[key])

    # -- objects ---------------------------------------------------------------------------------
    def list_or_create(request: Request, store: Store, body: Any) -> Any:
        object_type = kind(request, store)
        if request.method == "POST":
            record = store.create(object_type, body.get("properties") or {}, body.get("associations"))
            return 201, store.public(object_type, record, list(record["properties"]))
        link = str(request.url.replace(query=""))
        return search.list_page(store, object_type, int(request.query_params.get("limit", 10)),
                                request.query_params.get("after"), _list_param(request, "properties"),
                                _list_param(request, "associations"), link)

    def one(request: Request, store: Store, body: Any) -> Any:
        object_type = kind(request, store)
        object_id = request.path_params["object_id"]
        if request.method == "DELETE":
            store.archive(object_type, object_id)
            return Response(status_code=204)
        if request.method == "PATCH":
            record = store.update(object_type, object_id, body.get("properties") or {})
            return store.public(object_type, record, list(record["properties"]))
        archived = request.query_params.get("archived", "false").lower() == "true"
        record = store.get(object_type, object_id, archived=archived)
        return store.public(object_type, record, _list_param(request, "properties"),
                            _list_param(request, "associations"))

    def do_search(request: Request, store: Store, body: Any) -> Any:
        return search.search(store, kind(request, store), body or {})

    def batch(request: Request, store: Store, body: Any) -> Any:
        object_type = kind(request, store)
        action = request.path_params["action"]
        inputs = (body or {}).get("inputs")
        if not isinstance(inputs, list):
            raise bad_request("inputs is required and must be a list.")
        if len(inputs) > BATCH_LIMIT:
            raise bad_request(f"Too many inputs: {len(inputs)} were sent, the batch limit is {BATCH_LIMIT}.")
        started = iso_ms(datetime.now(timezone.utc))
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        if action in ("read", "update"):
            ids = [str(item.get("id", "")) for item in inputs]
            if action == "update" and len(set(ids)) != len(ids):
                raise bad_request("Duplicate IDs found in batch input: each id may appear once.")
            present = [item for item in inputs if store.find(object_type, str(item.get("id", "")))]
            missing = [str(item.get("id", "")) for item in inputs if item not in present]
            if action == "read":
                names = body.get("properties") or None
                results = [store.public(object_type, store.get(object_type, str(i["id"])), names) for i in present]
            else:
                validated = [(str(i["id"]), store.validate_update(object_type, str(i["id"]),
                                                                  i.get("properties") or {})) for i in present]
                for object_id, clean in validated:
                    record = store.update(object_type, object_id, {}, validated=clean)
                    results.append(store.public(object_type, record, list(record["properties"])))
        elif action == "create":
            for item in inputs:  # all or nothing: every input is checked before anything is created
                store._validate(object_type, item.get("properties") or {}, None)
                for association in item.get("associations") or []:
                    store._association_input(object_type, association)
            for item in inputs:
                record = store.create(object_type, item.get("properties") or {}, item.get("associations"))
                results.append(store.public(object_type, record, list(record["properties"])))
        else:
            raise HubSpotApiError(404, "OBJECT_NOT_FOUND", f"Unknown batch action {action}.")
        document: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                    "completedAt": iso_ms(datetime.now(timezone.utc))}
        if not missing:
            return (201 if action == "create" else 200), document
        document["numErrors"] = 1
        document["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {schema.SINGULAR[object_type].upper()} objects, they may be "
                       "deleted or not exist. Check that ids are valid.",
            "context": {"ids": missing}, "errors": [], "links": {}}]
        return 207, document

    # -- associations v4 -------------------------------------------------------------------------
    def assoc_pair(request: Request, store: Store, body: Any) -> Any:
        from_type, to_type = kind(request, store), kind(request, store, "to_type")
        from_id, to_id = request.path_params["object_id"], request.path_params["to_id"]
        if request.method == "DELETE":
            store.get(from_type, from_id)
            store.dissociate(from_type, from_id, to_type, to_id)
            return Response(status_code=204)
        specs = body if isinstance(body, list) else []
        if not specs:
            raise bad_request("The body must be a list of {associationCategory, associationTypeId}.")
        type_ids = store.associate(from_type, from_id, to_type, to_id,
                                   [int(s.get("associationTypeId", 0)) for s in specs])
        labels = [schema.ASSOCIATION_TYPES[t].label for t in type_ids if schema.ASSOCIATION_TYPES[t].label]
        return 201, {"fromObjectTypeId": schema.OBJECT_TYPES[from_type], "fromObjectId": int(from_id),
                     "toObjectTypeId": schema.OBJECT_TYPES[to_type], "toObjectId": int(to_id),
                     "labels": labels}

    def assoc_default(request: Request, store: Store, body: Any) -> Any:
        from_type, to_type = kind(request, store), kind(request, store, "to_type")
        from_id, to_id = request.path_params["object_id"], request.path_params["to_id"]
        default = schema.default_association_type(from_type, to_type)
        if default is None:
            raise bad_request(f"No default association between {from_type} and {to_type}.")
        store.associate(from_type, from_id, to_type, to_id, [default.type_id])
        now = iso_ms(datetime.now(timezone.utc))
        return {"status": "COMPLETE", "startedAt": now, "completedAt": now, "results": [
            {"from": {"id": from_id}, "to": {"id": to_id},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": default.type_id}}]}

    def assoc_list(request: Request, store: Store, body: Any) -> Any:
        from_type, to_type = kind(request, store), kind(request, store, "to_type")
        from_id = request.path_params["object_id"]
        store.get(from_type, from_id)
        limit = min(int(request.query_params.get("limit", 500)), 500)
        after = int(request.query_params.get("after") or 0)
        pairs = store.associations_of(from_type, from_id, to_type)
        results = [{"toObjectId": int(to_id), "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": t, "label": schema.ASSOCIATION_TYPES[t].label}
            for t in ids]} for to_id, ids in pairs[after:after + limit]]
        out: dict[str, Any] = {"results": results}
        if after + limit < len(pairs):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return out

    # -- properties and pipelines -----------------------------------------------------------------
    def properties(request: Request, store: Store, body: Any) -> Any:
        object_type = kind(request, store)
        if request.method == "POST":
            return 201, meta.create_property(store, object_type, body or {})
        return {"results": meta.list_properties(store, object_type)}

    def property_one(request: Request, store: Store, body: Any) -> Any:
        object_type, name = kind(request, store), request.path_params["name"]
        if request.method == "PATCH":
            return meta.update_property(store, object_type, name, body or {})
        return meta.get_property(store, object_type, name)

    def groups(request: Request, store: Store, body: Any) -> Any:
        object_type = kind(request, store)
        if request.method == "POST":
            return 201, meta.create_group(store, object_type, body or {})
        return {"results": meta.list_groups(store, object_type)}

    def group_one(request: Request, store: Store, body: Any) -> Any:
        return meta.get_group(store, kind(request, store), request.path_params["name"])

    def pipelines(request: Request, store: Store, body: Any) -> Any:
        return {"results": meta.list_pipelines(store, kind(request, store))}

    def pipeline_one(request: Request, store: Store, body: Any) -> Any:
        return meta.get_pipeline(store, kind(request, store), request.path_params["pipeline_id"])

    def pipeline_stages(request: Request, store: Store, body: Any) -> Any:
        pipeline = meta.get_pipeline(store, kind(request, store), request.path_params["pipeline_id"])
        return {"results": pipeline["stages"]}

    def account(request: Request, store: Store, body: Any) -> Any:
        return {"portalId": store.data["portal_id"], "accountType": "STANDARD", "timeZone": "US/Eastern",
                "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18000000, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}

    objects = "/crm/v3/objects/{object_type}"
    v4 = "/crm/v4/objects/{object_type}/{object_id}/associations"
    props = "/crm/v3/properties/{object_type}"
    routes = [
        Route(f"{objects}/search", endpoint(do_search, is_search=True), methods=["POST"]),
        Route(f"{objects}/batch/{{action}}", endpoint(batch), methods=["POST"]),
        Route(objects, endpoint(list_or_create), methods=["GET", "POST"]),
        Route(f"{objects}/{{object_id}}", endpoint(one), methods=["GET", "PATCH", "DELETE"]),
        Route(f"{v4}/default/{{to_type}}/{{to_id}}", endpoint(assoc_default), methods=["PUT"]),
        Route(f"{v4}/{{to_type}}/{{to_id}}", endpoint(assoc_pair), methods=["PUT", "DELETE"]),
        Route(f"{v4}/{{to_type}}", endpoint(assoc_list), methods=["GET"]),
        Route(f"{props}/groups", endpoint(groups), methods=["GET", "POST"]),
        Route(f"{props}/groups/{{name}}", endpoint(group_one), methods=["GET"]),
        Route(props, endpoint(properties), methods=["GET", "POST"]),
        Route(f"{props}/{{name}}", endpoint(property_one), methods=["GET", "PATCH"]),
        Route("/account-info/v3/details", endpoint(account), methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}", endpoint(pipelines), methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}/{pipeline_id}", endpoint(pipeline_one), methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}/{pipeline_id}/stages", endpoint(pipeline_stages),
              methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        error = HubSpotApiError(404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.url.path}")
        return JSONResponse(error.body(), status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        error = HubSpotApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
        return JSONResponse(error.body(), status_code=405)

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
