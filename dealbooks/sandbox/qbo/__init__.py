"""QuickBooks Online emulator (Accounting API v3 + Intuit OAuth 2.0), served under ``/qbo``.

The real, unmodified ``python-quickbooks`` and ``intuitlib`` work against it with only the base URL
changed. See ``control.py`` for the ``/_sandbox/qbo/`` routes and ``API_FACTS.md`` for the behaviour.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp

from dealbooks.sandbox.faults import FaultMiddleware
from dealbooks.sandbox.qbo import control, errors
from dealbooks.sandbox.qbo.app import AccountingApi
from dealbooks.sandbox.qbo.oauth import OAuth
from dealbooks.sandbox.qbo.seed import seed_company
from dealbooks.sandbox.qbo.store import Store
from dealbooks.sandbox.qbo.throttle import Stats, StatsMiddleware, ThrottleMiddleware
from dealbooks.sandbox.qbo.webhooks import WebhookEmitter
from dealbooks.sandbox.server import SandboxContext
from dealbooks.sandbox.state import SandboxState

NAME = "qbo"
MOUNT = "/qbo"


@dataclass
class Runtime:
    """The emulator's objects for one sandbox (shared by the API app and the control routes)."""

    ctx: SandboxContext
    store: Store
    oauth: OAuth
    emitter: WebhookEmitter
    stats: Stats
    throttle: ThrottleMiddleware | None = None


_RUNTIMES: weakref.WeakKeyDictionary[SandboxState, Runtime] = weakref.WeakKeyDictionary()


def runtime(ctx: SandboxContext) -> Runtime:
    """The runtime of ``ctx`` (created on first use)."""
    rt = _RUNTIMES.get(ctx.state)
    if rt is None or rt.ctx is not ctx:
        store = Store(ctx.state)
        rt = Runtime(ctx, store, OAuth(ctx, store), WebhookEmitter(store, ctx.dispatcher), Stats())
        _RUNTIMES[ctx.state] = rt
    return rt


def build(ctx: SandboxContext) -> ASGIApp:
    """The ASGI app: statistics → throttling → fault injection → routes."""
    rt = runtime(ctx)
    api = AccountingApi(ctx, rt.store, rt.oauth, rt.emitter)
    faulty = FaultMiddleware(api.app(), ctx.state, NAME,
                             throttle_response=lambda: errors.throttle_response(ctx.state.now(), retry_after=1),
                             error_response=lambda: errors.system_error_response(ctx.state.now()),
                             only_paths=("/v3/",))
    rt.throttle = ThrottleMiddleware(faulty, rt.store)
    return StatsMiddleware(rt.throttle, rt.stats)


def control_routes(ctx: SandboxContext) -> list[Route]:
    return control.routes(runtime(ctx))


def seed(ctx: SandboxContext) -> None:
    """Create the demo company and its first OAuth authorization on an empty state (idempotent)."""
    rt = runtime(ctx)
    with ctx.state.lock:
        root = rt.store.root
        if root.get("seed_realm") and rt.store.company(root["seed_realm"]) is not None:
            return
        company = rt.store.add_company(name="Sandbox Company US", country="US",
                                       timezone="America/Los_Angeles", currency="USD")
        root["seed_realm"] = company.realm_id
        seed_company(company, demo_customers=ctx.state.options.seed_demo_data)
        tokens = rt.oauth.new_chain(company.realm_id)
        root["seed_chain"] = rt.store.root["oauth"]["refresh"][tokens["refresh_token"]]["chain"]
        ctx.state.mark_dirty()


def config(ctx: SandboxContext) -> dict[str, Any]:
    """This emulator's part of the start-up JSON line.

    ``refresh_token`` is the current token of the seeded authorization (after a rotation, the new one),
    as if freshly copied from the OAuth playground.
    """
    rt = runtime(ctx)
    with ctx.state.lock:
        root = rt.store.root
        base = ctx.base_url
        return {
            "discovery_url": f"{base}/qbo/.well-known/openid_configuration",
            "api_base": f"{base}/qbo/v3",
            "client_id": rt.oauth.client_id,
            "client_secret": rt.oauth.client_secret,
            "refresh_token": rt.oauth.current_refresh_token(root["seed_chain"]),
            "realm_id": root["seed_realm"],
            "webhook_verifier_token": ctx.state.secret("qbo_webhook_verifier"),
            "minorversion": 75,
            "environment": f"{base}/qbo/.well-known/openid_configuration",
        }
