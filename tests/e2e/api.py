"""Talking to a real Prefect server (REST) and the sandbox from an end-to-end test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def wait_for(check: Callable[[], T], what: str, timeout: float = 60, every: float = 0.5,
             diagnose: Callable[[], str] = lambda: "") -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` (and a diagnosis) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{diagnose()}")
        time.sleep(every)


@dataclass
class PrefectApi:
    url: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.post(f"{self.url}{path}", json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Deployments by name."""
        return {d["name"]: d for d in self.post("/deployments/filter", {"limit": 200})}

    def flow_runs(self, deployment: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"limit": 200, "sort": "EXPECTED_START_TIME_ASC"}
        if deployment:
            body["deployments"] = {"id": {"any_": [self.deployments()[deployment]["id"]]}}
        return self.post("/flow_runs/filter", body)

    def run_deployment(self, name: str, parameters: dict[str, Any]) -> str:
        run = self.post(f"/deployments/{self.deployments()[name]['id']}/create_flow_run", {"parameters": parameters})
        return str(run["id"])

    def wait_run(self, run_id: str, timeout: float = 90) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = self.get(f"/flow_runs/{run_id}")
            return run if run["state_type"] in TERMINAL else None

        run = wait_for(done, f"flow run {run_id}", timeout)
        assert run["state_type"] == "COMPLETED", f"flow run {run['name']} ended {run['state_name']}"
        return run

    def artifacts(self, key: str) -> list[dict[str, Any]]:
        return self.post("/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC",
                                               "limit": 10, "offset": 0})


@dataclass
class SandboxApi:
    config: dict[str, Any]

    @property
    def url(self) -> str:
        return self.config["qbo"]["api_base"].rsplit("/qbo/", 1)[0]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_sandbox/{path}", timeout=30, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def register_webhooks(self, receiver: str, services: tuple[str, ...] = ("pipedrive", "hubspot", "qbo")) -> None:
        """Subscribe the receiver the way each service is configured: Pipedrive through its API, the others
        through the sandbox's stand-in for the app settings page."""
        if "pipedrive" in services:
            pipedrive = self.config["pipedrive"]
            response = httpx.post(
                f"{pipedrive['base_url']}/v1/webhooks", headers={"x-api-token": pipedrive["api_token"]},
                json={"subscription_url": f"{receiver}/webhooks/pipedrive", "event_action": "change",
                      "event_object": "deal", "version": "2.0", "http_auth_user": pipedrive["webhook_username"],
                      "http_auth_password": pipedrive["webhook_password"]}, timeout=30)
            assert response.status_code == 201, response.text
        if "hubspot" in services:
            self.control("POST", "hubspot/webhooks", json={"target_url": f"{receiver}/webhooks/hubspot"})
        if "qbo" in services:
            self.control("POST", "qbo/webhooks", json={"url": f"{receiver}/webhooks/quickbooks"})

    def slack_messages(self) -> list[dict[str, Any]]:
        return self.control("GET", "slack/messages")["messages"]

    def mail(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/mail/messages", timeout=30).json()["messages"]


def qbo_client(api: str) -> Any:
    """A QboClient from the block ``dealbooks setup`` saved on the e2e Prefect server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from dealbooks.blocks import QuickBooksCredentials

    with temporary_settings({PREFECT_API_URL: api}):
        return QuickBooksCredentials.load("dealbooks-qbo").get_client()


def with_api(api: str, fn: Any, *args: Any) -> Any:
    """Call ``fn`` with the Prefect API URL pointed at the e2e server (e.g. a QboClient method)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        return fn(*args)
