"""Slack block: the bot token and where payment and overdue messages go."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    from slack_sdk import WebClient

DOCS = "https://github.com/dealbooks/dealbooks#blocks"


class SlackWorkspace(Block):
    """A Slack bot token and the channels dealbooks posts to.

    prefect-slack's ``SlackCredentials`` holds only a token and returns an async client for the
    public Slack API; dealbooks needs a base URL (for the sandbox), retry handlers for
    ``ratelimited`` answers and channel routing, hence this block.

    Example:
        Load the block and get a client:
        ```python
        from dealbooks.blocks import SlackWorkspace
        slack = SlackWorkspace.load("BLOCK_NAME")
        client = slack.get_client()
        ```
    """

    _block_type_name = "Slack Workspace"
    _block_type_slug = "dealbooks-slack-workspace"
    _logo_url = "https://cdn.sanity.io/images/3ugk85nk/production/c1965ecbf8704ee1ea20d77786de9a41ce1087d1-500x500.png"
    _documentation_url = DOCS

    token: SecretStr = Field(..., description="Bot user OAuth token (xoxb-...) with chat:write.")
    base_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL (a sandbox URL for dry runs).")
    payments_channel: str = Field(default="#payments", description="Default channel for payment alerts.")
    overdue_channel: str = Field(default="#ar-overdue", description="Channel for the overdue summary.")
    channel_by_pipeline: dict[str, str] = Field(
        default_factory=dict, description="Payment-alert channel per CRM pipeline id (overrides the default).")
    channel_by_owner: dict[str, str] = Field(
        default_factory=dict, description="Payment-alert channel per deal owner id (overrides pipeline and default).")

    def channel_for(self, *, owner_id: str = "", pipeline_id: str = "") -> str:
        """The channel a payment alert for a deal with this owner and pipeline goes to."""
        return (self.channel_by_owner.get(owner_id) or self.channel_by_pipeline.get(pipeline_id)
                or self.payments_channel)

    def get_client(self) -> WebClient:
        """A ``slack_sdk.WebClient`` that retries rate limits (Retry-After) and server errors."""
        from dealbooks.notifications.slack import build_slack_client

        return build_slack_client(self.token.get_secret_value(), base_url=self.base_url)
