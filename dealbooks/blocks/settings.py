"""InvoiceSettings: how a deal becomes an invoice, and the schedules of the lifecycle flows.

The mappings are the ones Pipedrive's own QuickBooks integration offers (recipient, address,
email, tax id sources; due-date offset; default tax; fallback item) plus dealbooks' own.

A *source* is a dotted path into the CRM deal: ``organization.name``, ``organization.address``,
``organization.email``, ``person.name``, ``person.email``, ``deal.title``,
``organization.fields.<key>``, ``person.fields.<key>`` or ``deal.fields.<key>`` (a Pipedrive
custom-field hash key or a HubSpot property name).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, field_validator

DOCS = "https://github.com/dealbooks/dealbooks#invoicesettings"
SOURCE = re.compile(r"^(deal\.title|(organization|person)\.(name|email)|organization\.address"
                    r"|(deal|organization|person)\.fields\.[\w.-]+)$")


class InvoiceSettings(Block):
    """Field mappings and defaults for invoices, reminders and schedules.

    Example:
        Load the settings:
        ```python
        from dealbooks.blocks import InvoiceSettings
        settings = InvoiceSettings.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "dealbooks Invoice Settings"
    _block_type_slug = "dealbooks-invoice-settings"
    _logo_url = None  # no logo of ours is hosted anywhere; the UI shows the default icon
    _documentation_url = DOCS

    # -- who the invoice is for ---------------------------------------------------------------
    recipient_name_source: str = Field(default="organization.name",
                                       description="Where the customer's name comes from (e.g. organization.name, person.name).")
    address_source: str = Field(default="organization.address", description="Where the billing address comes from.")
    email_source: str = Field(default="person.email", description="Where the billing email comes from.")
    tax_id_source: str | None = Field(default=None, description="Where the customer's tax id comes from (e.g. organization.fields.<key>); none to skip.")
    update_customer_details: bool = Field(
        default=False, description="Update an existing QuickBooks customer's address, email and tax id when the CRM differs.")

    # -- what is on it --------------------------------------------------------------------------
    item_mapping: dict[str, str] = Field(
        default_factory=dict, description="CRM product id or SKU to QuickBooks item id, checked before matching by SKU.")
    unmatched_products: Literal["fallback", "fail"] = Field(
        default="fallback", description="For a product with no QuickBooks item: use the fallback item, or fail the deal.")
    fallback_item_id: str | None = Field(
        default=None, description="QuickBooks item id for custom line items (unmatched products); the item named 'Services' when empty.")
    default_tax_code: str | None = Field(
        default=None, description="QuickBooks TaxCode id for every line (non-US companies need one; US uses TAX or NON).")
    taxable_by_default: bool = Field(default=False, description="US companies: mark lines taxable (TAX) when the CRM gives no tax.")
    default_income_account_id: str | None = Field(
        default=None, description="Income account for items dealbooks creates; the first Income account when empty.")
    currency_rule: Literal["match_customer", "home_only"] = Field(
        default="match_customer",
        description="match_customer: the deal's currency must equal the QuickBooks customer's; home_only: only the home currency is invoiced.")
    customer_message: str = Field(default="Thank you for your business.", description="Message printed on the invoice (CustomerMemo).")
    due_days: int = Field(default=30, ge=0, le=365, description="Due date = issue date + this many days (unless customer terms are used).")
    use_customer_terms: bool = Field(default=False, description="Use the QuickBooks customer's payment terms for the due date when it has some.")
    send_on_create: bool = Field(default=False, description="Email the invoice from QuickBooks as soon as it is created (otherwise it stays a draft).")

    # -- who may issue --------------------------------------------------------------------------
    allowed_owner_ids: list[str] = Field(
        default_factory=list, description="CRM user ids whose won deals are invoiced (and who may manage invoices); empty means everyone.")
    pipelines: list[str] = Field(default_factory=list, description="Only invoice deals of these CRM pipeline ids; empty means all.")

    # -- reminders ------------------------------------------------------------------------------
    reminder_days: list[int] = Field(default_factory=lambda: [1, 7, 14, 30],
                                     description="Days overdue at which a reminder email goes out, one step each.")
    reminder_business_days: bool = Field(default=True, description="Send reminders on business days only (Monday to Friday).")
    reminder_holidays: list[date] = Field(
        default_factory=list, description="Company-local holidays (YYYY-MM-DD): no reminders go out and, with "
                                          "business days on, they do not count as days overdue.")
    reminder_from: str = Field(default="billing@example.com", description="From address of reminder emails.")
    reminder_reply_to: str | None = Field(default=None, description="Reply-To address of reminder emails.")
    do_not_remind_field: str | None = Field(
        default=None, description="Deal field (source path) that, when truthy, stops reminders for that deal.")
    do_not_remind_customer_ids: list[str] = Field(default_factory=list, description="QuickBooks customer ids never reminded.")

    # -- schedules ------------------------------------------------------------------------------
    timezone: str = Field(default="America/New_York", description="Timezone for schedules (the company's timezone is read from QuickBooks for due dates).")
    sync_cron: str = Field(default="0 2 * * *", description="Nightly status sync schedule (cron).")
    reminders_cron: str = Field(default="0 9 * * *", description="Overdue reminders schedule (cron).")
    poll_interval_minutes: int = Field(default=5, ge=1, description="How often poll-won-deals looks for won deals whose webhooks were lost.")
    full_reconcile_every_days: int = Field(default=7, ge=1, description="A full reconcile (every invoice, not only changes) runs this often.")

    @field_validator("recipient_name_source", "address_source", "email_source", "tax_id_source", "do_not_remind_field")
    @classmethod
    def _valid_source(cls, value: str | None) -> str | None:
        if value is not None and not SOURCE.match(value):
            raise ValueError(
                f"{value!r} is not a deal source; use e.g. organization.name, person.email, "
                "organization.address or deal.fields.<custom field key>")
        return value

    @field_validator("reminder_days")
    @classmethod
    def _sorted_positive(cls, value: list[int]) -> list[int]:
        if any(day < 0 for day in value):
            raise ValueError("reminder_days must be zero or positive days overdue")
        return sorted(set(value))
