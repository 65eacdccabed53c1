"""Where the QBO emulator keeps its records: ``state.data["qbo"]``, one document per company (realm).

Layout (plain JSON, persisted by the shared state)::

    {"realms": {realm_id: {"settings": {...}, "entities": {"Invoice": {"12": {...}}, ...},
                           "deleted": {"Invoice": {"5": "<LastUpdatedTime>"}},
                           "changes": {"Invoice": {"12": <epoch>}}, "seq": {"Invoice": 12},
                           "doc_seq": 1001, "requests": {requestid: {...}}, "outbox": [...],
                           "webhook": {...}}},
     "oauth": {...}, "seed_realm": "..."}

Records are stored exactly as the API returns them. Indexes that are cheap to rebuild (names, the
query cache) live on ``Company`` objects only.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from dealbooks.sandbox.qbo import util
from dealbooks.sandbox.state import SandboxState

#: DisplayName is unique across these three name lists (6240 otherwise).
PERSON_ENTITIES = ("Customer", "Vendor", "Employee")
#: Entities whose ``Name`` is unique within the entity.
NAMED_ENTITIES = ("Item", "Account", "Term", "TaxCode", "TaxRate")
#: Entities whose changes are announced by webhooks.
WEBHOOK_ENTITIES = ("Invoice", "Payment", "Customer")


class Company:
    """One QBO company (realm): its records, settings and the derived indexes."""

    def __init__(self, state: SandboxState, realm_id: str, doc: dict[str, Any]) -> None:
        self.state = state
        self.realm_id = realm_id
        self.doc = doc
        self._names: dict[str, dict[str, tuple[str, str]]] | None = None
        self.versions: dict[str, int] = {}
        self.query_cache: dict[tuple[Any, ...], tuple[int, list[str]]] = {}

    # -- settings -------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        return self.doc["settings"]

    @property
    def zone(self) -> str:
        return self.settings["timezone"]

    @property
    def us(self) -> bool:
        return self.settings["country"] == "US"

    @property
    def home_currency(self) -> str:
        return self.settings["home_currency"]

    @property
    def multicurrency(self) -> bool:
        return bool(self.settings["multicurrency"])

    @property
    def custom_txn_numbers(self) -> bool:
        return bool(self.settings["custom_txn_numbers"])

    @property
    def online_payments(self) -> bool:
        return bool(self.settings["online_payments"])

    # -- time -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.state.now()

    def stamp(self) -> str:
        return util.stamp(self.state.now(), self.zone)

    def today(self) -> str:
        return util.today(self.state.now(), self.zone).isoformat()

    # -- records --------------------------------------------------------------------------------
    def table(self, entity: str) -> dict[str, dict[str, Any]]:
        return self.doc["entities"].setdefault(entity, {})

    def get(self, entity: str, record_id: Any) -> dict[str, Any] | None:
        return self.doc["entities"].get(entity, {}).get(str(record_id))

    def is_deleted(self, entity: str, record_id: Any) -> bool:
        return str(record_id) in self.doc["deleted"].get(entity, {})

    def next_id(self, entity: str) -> str:
        seq = self.doc["seq"]
        seq[entity] = seq.get(entity, 0) + 1
        return str(seq[entity])

    def next_doc_number(self) -> str:
        self.doc["doc_seq"] += 1
        return str(self.doc["doc_seq"])

    def put(self, entity: str, record: dict[str, Any]) -> None:
        """Store (insert or replace) a record and note the change for CDC and the query cache."""
        self.table(entity)[record["Id"]] = record
        self.touch(entity, record["Id"], util.epoch_of(record["MetaData"]["LastUpdatedTime"]))

    def remove(self, entity: str, record_id: str, stamp: str) -> None:
        """Delete a record; it stays visible to CDC as ``status: Deleted``."""
        self.table(entity).pop(record_id, None)
        self.doc["deleted"].setdefault(entity, {})[record_id] = stamp
        self.touch(entity, record_id, util.epoch_of(stamp))

    def touch(self, entity: str, record_id: str, epoch: float) -> None:
        self.doc["changes"].setdefault(entity, {})[record_id] = epoch
        self.versions[entity] = self.versions.get(entity, 0) + 1
        self.state.mark_dirty()

    def version(self, entity: str) -> int:
        return self.versions.get(entity, 0)

    # -- names ----------------------------------------------------------------------------------
    def _name_index(self) -> dict[str, dict[str, tuple[str, str]]]:
        if self._names is None:
            index: dict[str, dict[str, tuple[str, str]]] = {"person": {}}
            for entity in PERSON_ENTITIES:
                for rid, rec in self.table(entity).items():
                    index["person"][name_key(rec.get("DisplayName"))] = (entity, rid)
            for entity in NAMED_ENTITIES:
                index[entity] = {name_key(rec.get("Name")): (entity, rid)
                                 for rid, rec in self.table(entity).items()}
            self._names = index
        return self._names

    def name_owner(self, entity: str, name: str) -> tuple[str, str] | None:
        """Who holds ``name`` in the namespace of ``entity`` (case-insensitive), if anyone."""
        group = "person" if entity in PERSON_ENTITIES else entity
        return self._name_index().setdefault(group, {}).get(name_key(name))

    def claim_name(self, entity: str, record_id: str, name: str, old: str | None = None) -> None:
        group = "person" if entity in PERSON_ENTITIES else entity
        index = self._name_index().setdefault(group, {})
        if old is not None and index.get(name_key(old)) == (entity, record_id):
            del index[name_key(old)]
        index[name_key(name)] = (entity, record_id)

    def ref(self, entity: str, record_id: Any) -> dict[str, str]:
        """A reference with the server-filled ``name``."""
        rec = self.get(entity, record_id)
        label = ""
        if rec is not None:
            label = rec.get("DisplayName") or rec.get("Name") or rec.get("FullyQualifiedName") or ""
        return {"value": str(record_id), "name": label} if label else {"value": str(record_id)}


def name_key(name: Any) -> str:
    return " ".join(str(name or "").split()).casefold()


def new_company_doc(realm_id: str, *, name: str, country: str, timezone: str, currency: str) -> dict[str, Any]:
    """An empty company document (records are added by ``seed``)."""
    return {
        "realm_id": realm_id,
        "settings": {"company_name": name, "country": country, "timezone": timezone,
                     "home_currency": currency, "multicurrency": False, "custom_txn_numbers": False,
                     "online_payments": False, "exchange_rates": {"EUR": 1.08, "GBP": 1.27, "CAD": 0.74,
                                                                 "AUD": 0.66, "USD": 1.0}},
        "entities": {}, "deleted": {}, "changes": {}, "seq": {}, "doc_seq": 1000,
        "requests": {}, "outbox": [], "webhook": None,
    }


class Store:
    """Access to the QBO document of the shared state; caches one ``Company`` per realm."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._companies: dict[str, Company] = {}

    @property
    def root(self) -> dict[str, Any]:
        root = self.state.data.setdefault("qbo", {})
        root.setdefault("realms", {})
        root.setdefault("oauth", {"refresh": {}, "access": {}, "codes": {}, "chains": {}})
        return root

    def company(self, realm_id: str) -> Company | None:
        doc = self.root["realms"].get(str(realm_id))
        if doc is None:
            return None
        cached = self._companies.get(realm_id)
        if cached is None or cached.doc is not doc:
            cached = Company(self.state, realm_id, doc)
            self._companies[realm_id] = cached
        return cached

    def add_company(self, *, name: str, country: str = "US", timezone: str = "America/Los_Angeles",
                    currency: str = "USD", realm_id: str | None = None) -> Company:
        realm_id = realm_id or str(9130000000000000 + secrets.randbelow(10**15))
        self.root["realms"][realm_id] = new_company_doc(realm_id, name=name, country=country,
                                                        timezone=timezone, currency=currency)
        self.state.mark_dirty()
        company = self.company(realm_id)
        assert company is not None
        return company

    def realms(self) -> list[str]:
        return list(self.root["realms"])
