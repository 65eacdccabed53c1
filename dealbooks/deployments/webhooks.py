"""`dealbooks webhooks serve`: the receiver for Pipedrive, HubSpot and QuickBooks webhooks.

Each delivery is authenticated first (Pipedrive: HTTP basic auth; HubSpot: v3 signature within 5
minutes; QuickBooks: ``intuit-signature``), recorded in the ledger inbox (deduplicated by the
sender's event id), and — for a deal moved to won or an invoice/payment change — handed to the
dispatcher, which starts a flow run. The answer comes back in well under a second: no CRM or QBO
call is made here. Unauthenticated deliveries create nothing and get 401.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dealbooks.clients import hubspot_webhooks, pipedrive_webhooks, qbo_webhooks
from dealbooks.deployments.dispatch import Dispatcher
from dealbooks.exceptions import DealbooksError, WebhookAuthError, WebhookPayloadError
from dealbooks.flows.context import RunContext
from dealbooks.ledger import Ledger

log = logging.getLogger("dealbooks.webhooks")
MAX_BODY = 1_000_000  # bytes; real deliveries are a few KB
SECRETS_TTL = 60.0  # seconds before blocks are re-read (a rotated secret takes effect within a minute)


@dataclass
class Secrets:
    """Verification secrets, read from the blocks and refreshed every ``SECRETS_TTL`` seconds."""

    ctx: RunContext
    loaded_at: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)

    def get(self) -> dict[str, Any]:
        if time.monotonic() - self.loaded_at > SECRETS_TTL:
            self.values = self._load()
            self.loaded_at = time.monotonic()
        return self.values

    def _load(self) -> dict[str, Any]:
        from dealbooks.flows.context import load_block

        values: dict[str, Any] = {}
        pipedrive = load_block("pipedrive", self.ctx.blocks, required=False)
        if pipedrive is not None and pipedrive.webhook_password is not None:
            values["pipedrive"] = (pipedrive.webhook_username, pipedrive.webhook_password.get_secret_value())
        hubspot = load_block("hubspot", self.ctx.blocks, required=False)
        if hubspot is not None and hubspot.client_secret is not None:
            stages = list(hubspot.closed_won_stages)
            if not stages:
                stages = list(hubspot.get_client().won_stage_ids())
            values["hubspot"] = (hubspot.client_secret.get_secret_value(), stages)
        qbo = load_block("qbo", self.ctx.blocks, required=False)
        if qbo is not None and qbo.webhook_verifier_token is not None:
            values["quickbooks"] = (qbo.webhook_verifier_token.get_secret_value(), str(qbo.realm_id))
        return values


class WebhookReceiver:
    """The ASGI app; ``app`` is served by uvicorn (``dealbooks webhooks serve``)."""

    def __init__(self, dispatcher: Dispatcher, ctx: RunContext | None = None, ledger: Ledger | None = None,
                 public_url: str | None = None) -> None:
        self.ctx = ctx or RunContext()
        self.ledger = ledger or self.ctx.ledger
        self.dispatcher = dispatcher
        self.secrets = Secrets(self.ctx)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.app = Starlette(routes=[
            Route("/webhooks/pipedrive", self.pipedrive, methods=["POST"]),
            Route("/webhooks/hubspot", self.hubspot, methods=["POST"]),
            Route("/webhooks/quickbooks", self.quickbooks, methods=["POST"]),
            Route("/healthz", self.health, methods=["GET"]),
        ])

    async def health(self, _: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def pipedrive(self, request: Request) -> JSONResponse:
        return await self._handle(request, "pipedrive", self._pipedrive)

    async def hubspot(self, request: Request) -> JSONResponse:
        return await self._handle(request, "hubspot", self._hubspot)

    async def quickbooks(self, request: Request) -> JSONResponse:
        return await self._handle(request, "quickbooks", self._quickbooks)

    async def _handle(self, request: Request, source: str, work: Any) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        uri = self._uri(request)
        try:
            result = await anyio.to_thread.run_sync(work, dict(request.headers), body, uri)
        except WebhookAuthError as exc:
            log.warning("%s webhook refused: %s", source, exc.message)
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        except WebhookPayloadError as exc:
            log.warning("%s webhook payload refused: %s", source, exc.message)
            return JSONResponse({"error": exc.message}, status_code=400)
        except DealbooksError as exc:
            log.error("%s webhook could not be handled: %s", source, exc.message)
            return JSONResponse({"error": exc.message}, status_code=503)
        return JSONResponse(result)

    def _uri(self, request: Request) -> str:
        """The full URI the sender signed (behind a proxy, ``--public-url`` gives the outside one)."""
        if self.public_url:
            query = f"?{request.url.query}" if request.url.query else ""
            return f"{self.public_url}{request.url.path}{query}"
        return str(request.url)

    # -- per sender -------------------------------------------------------------------------------
    def _pipedrive(self, headers: dict[str, str], body: bytes, _uri: str) -> dict[str, Any]:
        secret = self.secrets.get().get("pipedrive")
        if secret is None:
            raise WebhookAuthError("Pipedrive webhooks are not configured (PipedriveCredentials.webhook_password).")
        event = pipedrive_webhooks.verify_and_parse(headers, body, *secret)
        if not self.ledger.inbox.record("pipedrive", event.event_id, _compact(event.data), subject=f"pipedrive:{event.entity_id}"):
            return self._redeliver("pipedrive", event.event_id)
        if not event.is_won_transition:
            self.ledger.inbox.mark("pipedrive", event.event_id, "ignored", f"{event.entity} {event.action}")
            return {"received": 1, "dispatched": 0}
        return self._dispatch_deal("pipedrive", event.event_id, event.entity_id)

    def _hubspot(self, headers: dict[str, str], body: bytes, uri: str) -> dict[str, Any]:
        secret = self.secrets.get().get("hubspot")
        if secret is None:
            raise WebhookAuthError("HubSpot webhooks are not configured (HubSpotCredentials.client_secret).")
        client_secret, won_stages = secret
        events = hubspot_webhooks.verify_and_parse(client_secret, "POST", uri, body, headers)
        dispatched = duplicates = 0
        for event in events:
            event_id = str(event.event_id)
            if not self.ledger.inbox.record("hubspot", event_id, event.raw, subject=f"hubspot:{event.object_id}"):
                duplicates += 1
                dispatched += self._redeliver("hubspot", event_id)["dispatched"]
                continue
            if event.is_won_transition(won_stages):
                dispatched += self._dispatch_deal("hubspot", event_id, event.object_id)["dispatched"]
            else:
                self.ledger.inbox.mark("hubspot", event_id, "ignored", event.subscription_type)
        return {"received": len(events), "dispatched": dispatched, "duplicates": duplicates}

    def _quickbooks(self, headers: dict[str, str], body: bytes, _uri: str) -> dict[str, Any]:
        secret = self.secrets.get().get("quickbooks")
        if secret is None:
            raise WebhookAuthError("QuickBooks webhooks are not configured (QuickBooksCredentials.webhook_verifier_token).")
        token, realm_id = secret
        qbo_webhooks.verify_signature(token, body, headers.get(qbo_webhooks.SIGNATURE_HEADER))
        changes = [c for c in qbo_webhooks.parse_changes(body) if c.realm_id == realm_id]
        new = [c for c in changes if self.ledger.inbox.record("quickbooks", c.event_id, c.__dict__,
                                                              subject=f"{c.entity}:{c.entity_id}")]
        relevant = [c for c in new if c.entity in ("Invoice", "Payment")]
        if not relevant:
            for change in new:
                self.ledger.inbox.mark("quickbooks", change.event_id, "ignored", change.entity)
            return {"received": len(changes), "dispatched": 0}
        key = "qbo-sync:" + ",".join(sorted(c.event_id for c in relevant))[:400]
        try:
            run = self.dispatcher.quickbooks_changed(realm_id, [f"{c.entity}:{c.entity_id}" for c in relevant], key)
        except Exception as exc:
            for change in relevant:
                self.ledger.inbox.mark("quickbooks", change.event_id, "failed", f"{type(exc).__name__}: {exc}")
            raise DealbooksError(f"could not start the status sync: {type(exc).__name__}") from exc
        for change in new:
            self.ledger.inbox.mark("quickbooks", change.event_id, "dispatched" if change in relevant else "ignored", run)
        return {"received": len(changes), "dispatched": 1}

    # -- dispatch ------------------------------------------------------------------------------------
    def _dispatch_deal(self, crm: str, event_id: str, deal_id: str) -> dict[str, Any]:
        try:
            run = self.dispatcher.deal_won(crm, deal_id, idempotency_key=f"{crm}:{event_id}")
        except Exception as exc:  # the sender retries; poll-won-deals catches it otherwise
            self.ledger.inbox.mark(crm, event_id, "failed", f"{type(exc).__name__}: {exc}")
            raise DealbooksError(f"could not start invoicing for {crm} deal {deal_id}: {type(exc).__name__}") from exc
        self.ledger.inbox.mark(crm, event_id, "dispatched", run)
        return {"received": 1, "dispatched": 1, "flow_run": run}

    def _redeliver(self, source: str, event_id: str) -> dict[str, Any]:
        """A repeated delivery: dispatch again only if the first one never got through (failed, or
        the receiver stopped between recording and dispatching); the idempotency key keeps a race
        between two deliveries to one flow run."""
        row = self.ledger.inbox.get(source, event_id)
        if row is None or row.status not in ("failed", "received") or not row.subject.startswith(f"{source}:"):
            return {"received": 1, "dispatched": 0, "duplicate": True}
        return self._dispatch_deal(source, event_id, row.subject.split(":", 1)[1])


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a deal payload worth keeping in the inbox (ids and status, not every field)."""
    keep = ("id", "status", "stage_id", "pipeline_id", "owner_id", "title", "update_time", "won_time")
    return {k: data.get(k) for k in keep if k in data}
