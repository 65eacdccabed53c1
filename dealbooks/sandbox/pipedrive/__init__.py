"""Pipedrive emulator, served under ``/pipedrive`` (API v2 and the v1 endpoints dealbooks uses).

Paths mirror ``https://api.pipedrive.com``: ``/pipedrive/api/v2/deals``, ``/pipedrive/v1/notes`` ...
Records live in ``state.data["pipedrive"]`` (see ``store``); requests pass ``gate`` (API token,
burst and daily limits, stats); changes are delivered to registered webhooks in the v2 format
(``events``); seed data and the ``/_sandbox/pipedrive`` control routes are in ``control``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dealbooks.sandbox.faults import FaultMiddleware
from dealbooks.sandbox.pipedrive import control, v1, v2_deals, v2_entities
from dealbooks.sandbox.pipedrive.gate import error_body, runtime_for, throttle_response

if TYPE_CHECKING:
    from dealbooks.sandbox.server import SandboxContext

NAME = "pipedrive"
MOUNT = "/pipedrive"


def build(ctx: SandboxContext) -> Any:
    """The emulator's ASGI app, wrapped in fault injection with Pipedrive's 429 shape."""
    runtime = runtime_for(ctx.state)

    async def unknown(request: Request) -> JSONResponse:
        return JSONResponse(error_body(f"Unknown method {request.method} /{request.path_params['path']}", 404),
                            status_code=404)

    routes = [*v2_deals.routes(runtime, ctx.dispatcher), *v2_entities.routes(runtime, ctx.dispatcher),
              *v1.routes(runtime, ctx.dispatcher),
              Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    return FaultMiddleware(Starlette(routes=routes), ctx.state, NAME, throttle_response=throttle_response)


def control_routes(ctx: SandboxContext) -> list[Route]:
    """``/_sandbox/pipedrive/stats``, ``/limits``, ``/webhooks``."""
    return control.control_routes(ctx.state)


def seed(ctx: SandboxContext) -> None:
    """API token, company domain, pipeline and stages, products (CONSULT-HR, LIC-PRO), a demo deal."""
    control.seed(ctx.state)


def config(ctx: SandboxContext) -> dict[str, Any]:
    """``base_url``, ``api_token``, ``company_domain`` and a suggested webhook basic-auth pair."""
    return control.config(ctx.state, ctx.base_url)
