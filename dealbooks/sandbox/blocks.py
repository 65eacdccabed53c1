"""Blocks that point dealbooks at a sandbox: what the demo, the tests and users' dry runs save."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block

from dealbooks.blocks import (
    EmailServerCredentials,
    HubSpotCredentials,
    InvoiceSettings,
    PipedriveCredentials,
    QuickBooksCredentials,
    SlackWorkspace,
)


def sandbox_blocks(config: dict[str, Any], *, webhook_password: str | None = None,
                   settings: dict[str, Any] | None = None) -> dict[str, Block]:
    """One block per kind ("qbo", "pipedrive", ...) for the sandbox's startup ``config`` document."""
    q, p, h, s, m = (config[k] for k in ("qbo", "pipedrive", "hubspot", "slack", "smtp"))
    return {
        "qbo": QuickBooksCredentials(client_id=q["client_id"], client_secret=q["client_secret"], realm_id=q["realm_id"],
                                     refresh_token=q["refresh_token"], environment=q["discovery_url"],
                                     api_base=q["api_base"], webhook_verifier_token=q["webhook_verifier_token"]),
        "pipedrive": PipedriveCredentials(api_token=p["api_token"], base_url=p["base_url"],
                                          company_domain=p.get("company_domain", ""),
                                          webhook_username=p.get("webhook_username", "dealbooks"),
                                          webhook_password=webhook_password or p.get("webhook_password")),
        "hubspot": HubSpotCredentials(access_token=h["access_token"], client_secret=h["client_secret"],
                                      base_url=h["base_url"], portal_id=str(h.get("portal_id", ""))),
        "slack": SlackWorkspace(token=s["token"], base_url=s["base_url"]),
        "smtp": EmailServerCredentials(smtp_server=m["host"], smtp_port=m["port"], smtp_type="INSECURE",
                                       username=m.get("username"), password=m.get("password") or ""),
        "settings": InvoiceSettings(**(settings or {})),
    }


def save_sandbox_blocks(config: dict[str, Any], names: dict[str, str], **options: Any) -> dict[str, str]:
    """Save ``sandbox_blocks`` under ``names`` (kind → block name); returns the names."""
    for kind, block in sandbox_blocks(config, **options).items():
        block.save(names[kind], overwrite=True)
    return names
