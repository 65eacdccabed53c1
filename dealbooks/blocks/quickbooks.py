"""QuickBooks Online credentials block."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

if TYPE_CHECKING:
    from dealbooks.clients.qbo import QboClient

DOCS = "https://github.com/dealbooks/dealbooks#blocks"


class QuickBooksCredentials(Block):
    """OAuth 2.0 credentials of one QuickBooks Online company (realm).

    The refresh token rotates (roughly daily): dealbooks saves the new one back to this block,
    under a per-realm lock, before using it, so keep one block per realm and let dealbooks own it.

    Example:
        Load the block and get a client:
        ```python
        from dealbooks.blocks import QuickBooksCredentials
        qbo = QuickBooksCredentials.load("BLOCK_NAME")
        client = qbo.get_client()
        ```
    """

    _block_type_name = "QuickBooks Online Credentials"
    _block_type_slug = "dealbooks-quickbooks-credentials"
    _logo_url = None  # no logo of ours is hosted anywhere; the UI shows the default icon
    _documentation_url = DOCS

    client_id: str = Field(..., description="The Intuit app's client ID (Keys & credentials page).")
    client_secret: SecretStr = Field(..., description="The Intuit app's client secret.")
    realm_id: str = Field(..., description="The QuickBooks company ID (realm ID) to work in.")
    refresh_token: SecretStr = Field(
        ..., description="The current OAuth refresh token; dealbooks stores each rotated token here.")
    environment: str = Field(
        default="production",
        description=("'production', 'sandbox' (Intuit's developer sandbox), or the discovery-document "
                     "URL of a dealbooks sandbox (http://127.0.0.1:8765/qbo/.well-known/openid_configuration)."),
    )
    api_base: str | None = Field(
        default=None,
        description=("Accounting API base URL ending in /v3; required when environment is a URL, "
                     "derived from the environment otherwise."),
    )
    minor_version: int = Field(default=75, description="QBO API minorversion sent with every call (75 or more).")
    webhook_verifier_token: SecretStr | None = Field(
        default=None, description="Verifier token from the Intuit app's Webhooks page (checks intuit-signature).")
    global_rate_limits: bool = Field(
        default=False,
        description=("Also pace every request through the Prefect global concurrency limits "
                     "qbo-realm-<realm>-rate and -concurrent (dealbooks setup creates them): for several "
                     "workers sharing one company."))
    access_token: SecretStr | None = Field(
        default=None, description="The last access token (cached by dealbooks; leave empty).")
    access_token_expires_at: datetime | None = Field(
        default=None, description="When the cached access token expires (managed by dealbooks).")

    @field_validator("minor_version")
    @classmethod
    def _minor_version_supported(cls, value: int) -> int:
        if value < 75:
            raise ValueError("minor_version must be 75 or more: QuickBooks ignores lower versions")
        return value

    @field_validator("api_base")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    def resolved_api_base(self) -> str:
        """The Accounting API base URL (…/v3) for this environment."""
        if self.api_base:
            return self.api_base
        if self.environment == "production":
            return "https://quickbooks.api.intuit.com/v3"
        if self.environment == "sandbox":
            return "https://sandbox-quickbooks.api.intuit.com/v3"
        raise ValueError(
            "QuickBooksCredentials.api_base is required when environment is a discovery URL: "
            "set it to the sandbox's api_base (see `dealbooks sandbox serve` output)")

    def get_client(self) -> QboClient:
        """A QBO client whose token refreshes are saved back to this block."""
        from dealbooks.clients.qbo import QboClient

        if not self.global_rate_limits:
            return QboClient.from_block(self)
        from dealbooks.clients.ratelimit import RateLimiter, prefect_limit_hooks

        # One limiter per client: hooks bind at creation, so it is not the process-wide shared one.
        limiter = RateLimiter(480, 60.0, 10, hooks=prefect_limit_hooks(str(self.realm_id)))
        return QboClient.from_block(self, limiter=limiter)
