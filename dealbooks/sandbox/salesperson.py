"""A salesperson's actions in the CRM sandboxes, through their public APIs only.

The demo, the benchmarks and the tests create and win deals the way a person would in
Pipedrive's or HubSpot's UI: organisation/company, person/contact, deal, products, then won.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

HUBSPOT_DEAL_TO_COMPANY_PRIMARY = 5
HUBSPOT_DEAL_TO_CONTACT = 3
HUBSPOT_LINE_ITEM_TO_DEAL = 20


@dataclass(frozen=True)
class ProductSpec:
    name: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""
    discount_percent: Decimal = Decimal("0")


class PipedriveSalesperson:
    """Creates and wins deals through the Pipedrive sandbox's v2 API."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.http = httpx.Client(base_url=config["base_url"], headers={"x-api-token": config["api_token"]}, timeout=10)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"Pipedrive sandbox {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()["data"]

    def product_id(self, spec: ProductSpec, currency: str) -> int:
        if spec.sku:
            for product in self.call("GET", "/api/v2/products", params={"limit": 500}):
                if product.get("code") == spec.sku:
                    return int(product["id"])
        created = self.call("POST", "/api/v2/products", json={
            "name": spec.name, "code": spec.sku or None, "prices": [{"price": float(spec.unit_price), "currency": currency}]})
        return int(created["id"])

    def create_deal(self, title: str, *, org_name: str | None = "Acme Corp", person_name: str | None = "Jane Doe",
                    email: str | None = "jane@example.com", products: list[ProductSpec] | None = None,
                    currency: str = "USD", address: dict[str, str] | None = None) -> str:
        org_id = person_id = None
        if org_name is not None:
            body: dict[str, Any] = {"name": org_name}
            if address:
                parts = [address.get(k, "") for k in ("street", "city", "region", "postal_code", "country")]
                body["address"] = {"value": ", ".join(p for p in parts if p), "route": address.get("street", ""),
                                   "locality": address.get("city", ""), "admin_area_level_1": address.get("region", ""),
                                   "postal_code": address.get("postal_code", ""), "country": address.get("country", "")}
            org_id = self.call("POST", "/api/v2/organizations", json=body)["id"]
        if person_name is not None:
            body = {"name": person_name, "org_id": org_id}
            if email:
                body["emails"] = [{"value": email, "primary": True, "label": "work"}]
            person_id = self.call("POST", "/api/v2/persons", json=body)["id"]
        deal = self.call("POST", "/api/v2/deals", json={"title": title, "org_id": org_id, "person_id": person_id,
                                                        "currency": currency})
        for spec in products or []:
            self.call("POST", f"/api/v2/deals/{deal['id']}/products", json={
                "product_id": self.product_id(spec, currency), "item_price": float(spec.unit_price),
                "quantity": float(spec.quantity), "discount": float(spec.discount_percent),
                "discount_type": "percentage"})
        return str(deal["id"])

    def mark_won(self, deal_id: str) -> None:
        self.call("PATCH", f"/api/v2/deals/{deal_id}", json={"status": "won"})


class HubSpotSalesperson:
    """Creates and wins deals through the HubSpot sandbox's CRM v3 API (hubspot-api-client)."""

    def __init__(self, config: dict[str, Any]) -> None:
        import hubspot

        self.api = hubspot.HubSpot(access_token=config["access_token"], host=config["base_url"])
        self._products: dict[str, str] | None = None

    def product_ids(self) -> dict[str, str]:
        if self._products is None:
            page = self.api.crm.products.basic_api.get_page(limit=100, properties=["hs_sku"])
            self._products = {p.properties.get("hs_sku"): p.id for p in page.results if p.properties.get("hs_sku")}
        return self._products

    def create_deal(self, title: str, *, org_name: str | None = "Acme Corp", person_name: str | None = "Jane Doe",
                    email: str | None = "jane@example.com", products: list[ProductSpec] | None = None,
                    currency: str = "USD", address: dict[str, str] | None = None) -> str:
        associations = []
        if org_name is not None:
            props = {"name": org_name}
            if address:
                props.update({"address": address.get("street", ""), "city": address.get("city", ""),
                              "state": address.get("region", ""), "zip": address.get("postal_code", ""),
                              "country": address.get("country", "")})
            company = self.api.crm.companies.basic_api.create({"properties": props})
            associations.append(_assoc(company.id, HUBSPOT_DEAL_TO_COMPANY_PRIMARY))
        if person_name is not None:
            first, _, last = person_name.partition(" ")
            contact_props = {"firstname": first, "lastname": last}
            if email:
                contact_props["email"] = email
            contact = self.api.crm.contacts.basic_api.create({"properties": contact_props})
            associations.append(_assoc(contact.id, HUBSPOT_DEAL_TO_CONTACT))
        products = products or []
        amount = sum((p.quantity * p.unit_price * (1 - p.discount_percent / 100) for p in products), start=Decimal(0))
        deal = self.api.crm.deals.basic_api.create({
            "properties": {"dealname": title, "amount": str(amount), "deal_currency_code": currency,
                           "pipeline": "default", "dealstage": "qualifiedtobuy"},
            "associations": associations})
        for position, spec in enumerate(products):
            props = {"name": spec.name, "quantity": str(spec.quantity), "price": str(spec.unit_price),
                     "hs_line_item_currency_code": currency, "hs_position_on_quote": str(position)}
            if spec.sku:
                props["hs_sku"] = spec.sku
                product_id = self.product_ids().get(spec.sku)
                if product_id:
                    props["hs_product_id"] = product_id
            if spec.discount_percent:
                props["hs_discount_percentage"] = str(spec.discount_percent)
            self.api.crm.line_items.basic_api.create({"properties": props,
                                                       "associations": [_assoc(deal.id, HUBSPOT_LINE_ITEM_TO_DEAL)]})
        return str(deal.id)

    def mark_won(self, deal_id: str) -> None:
        self.api.crm.deals.basic_api.update(deal_id, {"properties": {"dealstage": "closedwon"}})


def _assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}


def salesperson(crm: str, config: dict[str, Any]) -> PipedriveSalesperson | HubSpotSalesperson:
    """The salesperson for ``crm`` on a sandbox whose startup config is ``config``."""
    return PipedriveSalesperson(config["pipedrive"]) if crm == "pipedrive" else HubSpotSalesperson(config["hubspot"])
