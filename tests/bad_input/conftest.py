"""Fixtures for the bad-input corpus: the real receiver app on the configured product, and the secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def shared(prefect_api: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One configured sandbox for a whole corpus module (the webhook cases create nothing in it)."""
    import uuid

    from dealbooks.sandbox.server import Sandbox
    from dealbooks.sandbox.state import SandboxOptions
    from tests.conftest import Configured, save_sandbox_blocks

    url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'ledger.db'}"
    with Sandbox(options=SandboxOptions(throttle=False)) as sb:
        yield Configured(sb, save_sandbox_blocks(sb.config, uuid.uuid4().hex[:8]), url)


@pytest.fixture(scope="module")
def module_receiver(shared: Any) -> Iterator[tuple[Any, Any]]:
    from starlette.testclient import TestClient

    from bench.deliveries import CollectingDispatcher
    from dealbooks.deployments.webhooks import WebhookReceiver

    dispatcher = CollectingDispatcher()
    app = WebhookReceiver(dispatcher, shared.context()).app
    with TestClient(app) as client:
        yield client, dispatcher


@pytest.fixture
def receiver(module_receiver: tuple[Any, Any]) -> tuple[Any, Any]:
    """(starlette TestClient on the real ``WebhookReceiver`` app, its recording dispatcher, emptied)."""
    client, dispatcher = module_receiver
    dispatcher.deals.clear()
    dispatcher.syncs.clear()
    return client, dispatcher


@pytest.fixture(scope="module")
def qbo(shared: Any) -> Any:
    """One QBO client for the module (what the tests read back from the sandbox)."""
    return shared.context().qbo


def secret_values(configured: Any) -> dict[str, str]:
    """Every secret of the sandbox config and the saved blocks (the rotated refresh token included)."""
    from dealbooks.flows.context import load_block

    cfg = configured.sandbox.config
    values = {
        "qbo.client_secret": cfg["qbo"]["client_secret"], "qbo.refresh_token": cfg["qbo"]["refresh_token"],
        "qbo.webhook_verifier_token": cfg["qbo"]["webhook_verifier_token"],
        "pipedrive.api_token": cfg["pipedrive"]["api_token"], "hubspot.access_token": cfg["hubspot"]["access_token"],
        "hubspot.client_secret": cfg["hubspot"]["client_secret"], "slack.token": cfg["slack"]["token"],
        "pipedrive.webhook_password": load_block("pipedrive", configured.blocks).webhook_password.get_secret_value(),
        "qbo.refresh_token.current": load_block("qbo", configured.blocks).refresh_token.get_secret_value(),
    }
    return {k: v for k, v in values.items() if v and len(v) >= 8}


def assert_no_secrets(configured: Any, *texts: str) -> None:
    """None of the secret values appears in any of ``texts``."""
    for name, value in secret_values(configured).items():
        for text in texts:
            assert value not in text, f"secret {name} leaked"
