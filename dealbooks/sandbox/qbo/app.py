"""HTTP routes of the QBO emulator: ``/qbo/v3/company/{realm}/...`` plus OAuth and the InvoiceLink page."""

from __future__ import annotations

import html
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from dealbooks.sandbox.qbo import batch, cdc, errors, invoices, query, service
from dealbooks.sandbox.qbo.errors import QboFault
from dealbooks.sandbox.qbo.oauth import OAuth
from dealbooks.sandbox.qbo.pdf import invoice_pdf
from dealbooks.sandbox.qbo.store import Company, Store
from dealbooks.sandbox.qbo.webhooks import Event, WebhookEmitter
from dealbooks.sandbox.server import SandboxContext

REQUEST_ID_MAX = 50
BATCH_REQUEST_ID_MAX = 36
REQUEST_RETENTION = 48 * 3600


class AccountingApi:
    """The Accounting API handlers; state is touched only under ``state.lock``."""

    def __init__(self, ctx: SandboxContext, store: Store, oauth: OAuth, emitter: WebhookEmitter) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.store = store
        self.oauth = oauth
        self.emitter = emitter

    def app(self) -> Starlette:
        return Starlette(routes=[
            *self.oauth.routes(),
            Route("/v3/company/{realm}/{rest:path}", self.handle, methods=["GET", "POST"]),
            Route("/comm/invoice", self.invoice_page),
        ])

    def decorator(self, company: Company, include_link: bool) -> Any:
        def decorate(entity: str, rec: dict[str, Any]) -> dict[str, Any]:
            if include_link and entity == "Invoice":
                return invoices.with_invoice_link(company, rec, self.ctx.base_url)
            return rec
        return decorate

    async def handle(self, request: Request) -> Response:
        realm = request.path_params["realm"]
        token_realm, problem = self.oauth.check_access(request.headers.get("authorization"))
        now = self.state.now()
        if problem:
            return errors.auth_fault_response(401, "3200", "AuthenticationFailed", problem, now)
        company = self.store.company(realm)
        if token_realm != realm or company is None:
            return errors.auth_fault_response(403, "3100", "AuthorizationFailed",
                                              "The access token is not authorized for this company", now)
        parts = [p for p in request.path_params["rest"].split("/") if p]
        params = request.query_params
        events: list[Event] = []
        try:
            if request.method == "GET":
                response = self._get(company, parts, params)
            else:
                response = await self._post(company, parts, params, request, events)
        except QboFault as fault:
            return errors.fault_response(fault, self._local_now(company))
        if events:
            self.emitter.emit(company.realm_id, events)
        return response

    def _local_now(self, company: Company) -> Any:
        from zoneinfo import ZoneInfo
        return self.state.now().astimezone(ZoneInfo(company.zone))

    def _ok(self, company: Company, body: dict[str, Any]) -> Response:
        body["time"] = errors.qbo_time(self._local_now(company))
        return errors.json_response(body)

    def _get(self, company: Company, parts: list[str], params: Any) -> Response:
        include_link = "invoicelink" in params.get("include", "").lower()
        decorate = self.decorator(company, include_link)
        if not parts:
            raise errors.unsupported("Operation Could not find resource")
        head = parts[0].lower()
        with self.state.lock:
            if head == "query" and len(parts) == 1:
                return self._ok(company, {"QueryResponse": query.execute(company, params.get("query", ""), decorate)})
            if head == "cdc" and len(parts) == 1:
                result = cdc.changes(company, params.get("entities", ""), params.get("changedSince", ""), decorate)
                return self._ok(company, {"CDCResponse": [result]})
            entity = service.entity_of(head)
            if entity == "Preferences" and len(parts) == 1:
                return self._ok(company, {entity: service.read(company, entity, "1")})
            if len(parts) == 2:
                return self._ok(company, {entity: decorate(entity, service.read(company, entity, parts[1]))})
            if len(parts) == 3 and parts[2].lower() == "pdf" and entity == "Invoice":
                rec = dict(service.read(company, entity, parts[1]))
                name = company.settings["company_name"]
            else:
                raise errors.unsupported(f"Operation GET {'/'.join(parts)} is not supported.")
        return Response(invoice_pdf(name, rec), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="invoice-{rec["Id"]}.pdf"'})

    async def _post(self, company: Company, parts: list[str], params: Any, request: Request,
                    events: list[Event]) -> Response:
        raw = await request.body()
        if not parts:
            raise errors.unsupported("Operation Could not find resource")
        head = parts[0].lower()
        decorate = self.decorator(company, "invoicelink" in params.get("include", "").lower())
        if head == "query" and len(parts) == 1:
            with self.state.lock:
                text = raw.decode("utf-8", "replace") or params.get("query", "")
                return self._ok(company, {"QueryResponse": query.execute(company, text, decorate)})
        request_id = params.get("requestid")
        limit = BATCH_REQUEST_ID_MAX if head == "batch" else REQUEST_ID_MAX
        if request_id is not None and len(request_id) > limit:
            raise errors.too_long("requestid", limit, len(request_id))
        with self.state.lock:
            if request_id:
                cached = company.doc["requests"].get(request_id)
                if cached is not None and cached["at"] >= self.state.now().timestamp() - REQUEST_RETENTION:
                    return Response(cached["body"], status_code=200, media_type="application/json")
            response = self._mutate(company, parts, params, raw, events, decorate)
            if request_id and response.status_code == 200:
                self._remember(company, request_id, bytes(response.body).decode())
        return response

    def _mutate(self, company: Company, parts: list[str], params: Any, raw: bytes, events: list[Event],
                decorate: Any) -> Response:
        head = parts[0].lower()
        if len(parts) == 3 and parts[2].lower() == "send" and service.entity_of(head) == "Invoice":
            rec = service.send(company, parts[1], params.get("sendTo"), events)
            return self._ok(company, {"Invoice": decorate("Invoice", rec)})
        body = _json(raw)
        if head == "batch" and len(parts) == 1:
            return self._ok(company, {"BatchItemResponse": batch.run(company, body, events, decorate)})
        if len(parts) != 1:
            raise errors.unsupported(f"Operation POST {'/'.join(parts)} is not supported.")
        entity = service.entity_of(head)
        operation = (params.get("operation") or "").lower()
        if operation == "delete":
            return self._ok(company, {entity: service.delete(company, entity, body, events)})
        if operation == "void" or (operation == "update" and params.get("include", "").lower() == "void"):
            if entity == "Invoice" and operation != "void":
                raise errors.unsupported("Use operation=void to void an invoice.")
            return self._ok(company, {entity: decorate(entity, service.void(company, entity, body, events))})
        if operation not in ("", "update", "create"):
            raise errors.unsupported(f"Operation {operation} is not supported.")
        return self._ok(company, {entity: decorate(entity, service.save(company, entity, body, events))})

    def _remember(self, company: Company, request_id: str, body: str) -> None:
        requests = company.doc["requests"]
        now = time.time()
        requests[request_id] = {"body": body, "at": self.state.now().timestamp(), "wall": now}
        if len(requests) % 1000 == 0:
            floor = self.state.now().timestamp() - REQUEST_RETENTION
            for key in [k for k, v in requests.items() if v["at"] < floor]:
                del requests[key]
        self.state.mark_dirty()

    async def invoice_page(self, request: Request) -> Response:
        """The customer-facing page an ``InvoiceLink`` points to."""
        params = request.query_params
        with self.state.lock:
            company = self.store.company(params.get("realm", ""))
            rec = company.get("Invoice", params.get("id", "")) if company else None
            valid = rec is not None and company is not None and \
                invoices.link_token(company, rec["Id"]) == params.get("token")
            if not valid or company is None or rec is None:
                return HTMLResponse("<h1>This invoice is no longer available</h1>", status_code=404)
            name = company.settings["company_name"]
            rec = dict(rec)
        currency = rec.get("CurrencyRef", {}).get("value", "")
        return HTMLResponse(
            f"<html><body><h1>{html.escape(name)}</h1><h2>Invoice {html.escape(str(rec.get('DocNumber', '')))}</h2>"
            f"<p>Balance due: {float(rec.get('Balance', 0)):,.2f} {html.escape(currency)}; "
            f"due {html.escape(str(rec.get('DueDate', '')))}</p></body></html>")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise errors.invalid_property(f"Request body is not valid JSON: {exc}") from exc
