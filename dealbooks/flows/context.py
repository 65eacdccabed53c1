"""What a flow run works with: clients built from saved blocks, the settings and the ledger.

Block document names default to ``dealbooks-qbo``, ``dealbooks-pipedrive``, ``dealbooks-hubspot``,
``dealbooks-slack``, ``dealbooks-smtp`` and ``dealbooks-settings`` (``dealbooks setup`` and the
demo save them under these names); each flow takes a ``blocks`` parameter to override them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from prefect.blocks.core import Block
from prefect.exceptions import ObjectNotFound

from dealbooks.blocks import (
    EmailServerCredentials,
    HubSpotCredentials,
    InvoiceSettings,
    PipedriveCredentials,
    QuickBooksCredentials,
    SlackWorkspace,
)
from dealbooks.clients.crm import CrmClient
from dealbooks.exceptions import ConfigurationError
from dealbooks.ledger import Ledger

DEFAULT_BLOCKS: dict[str, str] = {
    "qbo": "dealbooks-qbo",
    "pipedrive": "dealbooks-pipedrive",
    "hubspot": "dealbooks-hubspot",
    "slack": "dealbooks-slack",
    "smtp": "dealbooks-smtp",
    "settings": "dealbooks-settings",
}
BLOCK_TYPES: dict[str, type[Block]] = {
    "qbo": QuickBooksCredentials,
    "pipedrive": PipedriveCredentials,
    "hubspot": HubSpotCredentials,
    "slack": SlackWorkspace,
    "smtp": EmailServerCredentials,
    "settings": InvoiceSettings,
}
CRMS = ("pipedrive", "hubspot")


def load_block(kind: str, names: dict[str, str] | None = None, *, required: bool = True) -> Any:
    """Load the block of ``kind`` ("qbo", "pipedrive", ...) by its configured name."""
    name = {**DEFAULT_BLOCKS, **(names or {})}[kind]
    try:
        return BLOCK_TYPES[kind].load(name)
    except (ValueError, ObjectNotFound) as exc:
        if not required:
            return None
        raise ConfigurationError(
            f"No {BLOCK_TYPES[kind].__name__} block named {name!r}: create it with `dealbooks setup` "
            f"(or in the Prefect UI under Blocks), or pass blocks={{'{kind}': '<name>'}}.") from exc


@dataclass
class RunContext:
    """Lazily built clients for one flow run; nothing is loaded that the run does not use."""

    blocks: dict[str, str] = field(default_factory=dict)
    ledger_url: str | None = None

    @cached_property
    def settings(self) -> InvoiceSettings:
        return load_block("settings", self.blocks, required=False) or InvoiceSettings()

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.ledger_url)

    @cached_property
    def customers(self) -> dict[str, Any]:
        """QuickBooks customers found or created in this run, by email (saves a lookup per deal)."""
        return {}

    @cached_property
    def qbo_block(self) -> QuickBooksCredentials:
        return load_block("qbo", self.blocks)

    @cached_property
    def qbo(self) -> Any:
        return self.qbo_block.get_client()

    @cached_property
    def slack(self) -> SlackWorkspace | None:
        return load_block("slack", self.blocks, required=False)

    @cached_property
    def smtp(self) -> EmailServerCredentials | None:
        return load_block("smtp", self.blocks, required=False)

    def crm_block(self, crm: str) -> Any:
        if crm not in CRMS:
            raise ConfigurationError(f"Unknown CRM {crm!r}: use one of {', '.join(CRMS)}.")
        return load_block(crm, self.blocks)

    def crm(self, crm: str) -> CrmClient:
        cache = self.__dict__.setdefault("_crm_clients", {})
        if crm not in cache:
            cache[crm] = self.crm_block(crm).get_client()
        return cache[crm]

    def configured_crms(self) -> list[str]:
        """The CRMs that have a saved credentials block."""
        return [crm for crm in CRMS if load_block(crm, self.blocks, required=False) is not None]
