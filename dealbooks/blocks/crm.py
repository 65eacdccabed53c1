"""CRM credentials blocks: Pipedrive and HubSpot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    from dealbooks.clients.hubspot import HubSpotClient
    from dealbooks.clients.pipedrive import PipedriveClient

DOCS = "https://github.com/dealbooks/dealbooks#blocks"


class PipedriveCredentials(Block):
    """A Pipedrive company's API token, and the basic-auth pair its webhooks are sent with.

    Example:
        Load the block and get a client:
        ```python
        from dealbooks.blocks import PipedriveCredentials
        pipedrive = PipedriveCredentials.load("BLOCK_NAME")
        client = pipedrive.get_client()
        ```
    """

    _block_type_name = "Pipedrive Credentials"
    _block_type_slug = "dealbooks-pipedrive-credentials"
    _logo_url = None  # no logo of ours is hosted anywhere; the UI shows the default icon
    _documentation_url = DOCS

    api_token: SecretStr = Field(..., description="Personal API token (Settings > Personal preferences > API).")
    base_url: str = Field(default="https://api.pipedrive.com",
                          description="API root without /api/v2 (a dealbooks sandbox URL for dry runs).")
    company_domain: str = Field(default="", description="Your Pipedrive subdomain, used for links to deals.")
    webhook_username: str = Field(default="dealbooks", description="HTTP basic-auth user Pipedrive's webhooks send.")
    webhook_password: SecretStr | None = Field(
        default=None, description="HTTP basic-auth password Pipedrive's webhooks send (required to receive them).")

    def get_client(self) -> PipedriveClient:
        """An authenticated Pipedrive client."""
        from dealbooks.clients.pipedrive import PipedriveClient

        return PipedriveClient(base_url=self.base_url, api_token=self.api_token.get_secret_value(),
                               company_domain=self.company_domain)


class HubSpotCredentials(Block):
    """A HubSpot private app's access token, and the app secret that signs its webhooks.

    Example:
        Load the block and get a client:
        ```python
        from dealbooks.blocks import HubSpotCredentials
        hubspot = HubSpotCredentials.load("BLOCK_NAME")
        client = hubspot.get_client()
        ```
    """

    _block_type_name = "HubSpot Credentials"
    _block_type_slug = "dealbooks-hubspot-credentials"
    _logo_url = None  # no logo of ours is hosted anywhere; the UI shows the default icon
    _documentation_url = DOCS

    access_token: SecretStr = Field(..., description="Private app access token (scopes: crm.objects.deals read/write, ...).")
    client_secret: SecretStr | None = Field(
        default=None, description="App client secret that signs webhooks (X-HubSpot-Signature-v3).")
    base_url: str = Field(default="https://api.hubapi.com",
                          description="API root (a dealbooks sandbox URL for dry runs).")
    portal_id: str = Field(default="", description="HubSpot account (portal) ID, used for links to deals.")
    closed_won_stages: list[str] = Field(
        default_factory=list,
        description="Deal stage IDs that count as won; empty means every pipeline's closed-won stage.")

    def get_client(self) -> HubSpotClient:
        """An authenticated HubSpot client."""
        from dealbooks.clients.hubspot import HubSpotClient

        return HubSpotClient(self.access_token.get_secret_value(), base_url=self.base_url,
                             portal_id=self.portal_id, closed_won_stages=tuple(self.closed_won_stages))
