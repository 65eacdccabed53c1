"""HubSpot side of the CRM contract suite: acts on the sandbox only through hubspot-api-client."""

from __future__ import annotations

from typing import Any

import hubspot

from dealbooks.clients.hubspot import HubSpotClient
from dealbooks.clients.hubspot_mapping import invoice_property_specs
from dealbooks.sandbox.salesperson import HubSpotSalesperson


class HubSpotTestEnv:
    """``CrmTestEnv`` for HubSpot: a salesperson's actions through the public API."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.api = hubspot.HubSpot(access_token=config["access_token"], host=config["base_url"])
        self.client = HubSpotClient(config["access_token"], base_url=config["base_url"],
                                    portal_id=str(config.get("portal_id", "")))
        self.seller = HubSpotSalesperson(config)

    def create_deal(self, title: str, **kwargs: Any) -> str:
        return self.seller.create_deal(title, **kwargs)

    def mark_won(self, deal_id: str) -> None:
        self.seller.mark_won(deal_id)

    def read_invoice_fields(self, deal_id: str) -> dict[str, Any]:
        specs = invoice_property_specs()
        record = self.api.crm.deals.basic_api.get_by_id(deal_id, properties=[s["name"] for s in specs.values()])
        props = record.properties or {}
        return {field: props[spec["name"]] for field, spec in specs.items() if props.get(spec["name"])}

    def notes(self, deal_id: str) -> list[str]:
        page = self.api.crm.associations.v4.basic_api.get_page("deals", deal_id, "notes", limit=500)
        note_ids = [str(r.to_object_id) for r in page.results]
        if not note_ids:
            return []
        response = self.api.crm.objects.notes.batch_api.read(
            {"inputs": [{"id": i} for i in note_ids], "properties": ["hs_note_body", "hs_timestamp"],
             "propertiesWithHistory": []})
        records = sorted(response.results, key=lambda r: (r.properties.get("hs_timestamp") or "", int(r.id)))
        return [r.properties.get("hs_note_body") or "" for r in records]


def make_env(sandbox: Any) -> HubSpotTestEnv:
    """The HubSpot env on a running sandbox (``sandbox.config["hubspot"]``)."""
    return HubSpotTestEnv(sandbox.config["hubspot"])
