"""The Pipedrive side of the CRM contract suite: acts on the sandbox only through Pipedrive's API.

``address`` keys (shared with the HubSpot env): ``street``, ``city``, ``region``, ``postal_code``,
``country`` — the ``dealbooks.domain.deal.Address`` field names.
"""

from __future__ import annotations

from typing import Any

import httpx

from dealbooks.clients.pipedrive import PipedriveClient
from dealbooks.domain.deal import INVOICE_FIELD_LABELS
from dealbooks.sandbox.salesperson import PipedriveSalesperson


class PipedriveTestEnv:
    """``CrmTestEnv`` for the Pipedrive emulator: plain HTTP for setup, ``PipedriveClient`` under test."""

    def __init__(self, sandbox: Any) -> None:
        config = sandbox.config["pipedrive"]
        self.sandbox = sandbox
        self.base_url = config["base_url"]
        self.http = httpx.Client(base_url=self.base_url, headers={"x-api-token": config["api_token"]}, timeout=10)
        self.seller = PipedriveSalesperson(config)
        self.client = PipedriveClient(base_url=self.base_url, api_token=config["api_token"],
                                      company_domain=config.get("company_domain", ""))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()["data"]

    def create_deal(self, title: str, **kwargs: Any) -> str:
        return self.seller.create_deal(title, **kwargs)

    def mark_won(self, deal_id: str) -> None:
        self.seller.mark_won(deal_id)

    def read_invoice_fields(self, deal_id: str) -> dict[str, Any]:
        names = {label: name for name, label in INVOICE_FIELD_LABELS.items()}
        keys = {f["key"]: names[f["name"]] for f in self._call("GET", "/v1/dealFields", params={"limit": 500})
                if f.get("edit_flag") and f.get("name") in names}
        custom = self._call("GET", f"/api/v2/deals/{deal_id}")["custom_fields"]
        return {keys[k]: v for k, v in custom.items() if k in keys and v is not None}

    def notes(self, deal_id: str) -> list[str]:
        notes = self._call("GET", "/v1/notes", params={"deal_id": deal_id, "sort": "add_time ASC", "limit": 500})
        return [n["content"] for n in notes]

    def close(self) -> None:
        self.http.close()
        self.client.close()


def make_env(sandbox: Any) -> PipedriveTestEnv:
    """A ``CrmTestEnv`` on ``sandbox`` (a started ``dealbooks.sandbox.server.Sandbox``)."""
    return PipedriveTestEnv(sandbox)
