"""dealbooks' Prefect blocks, one per external service plus ``InvoiceSettings``.

Registered through the ``prefect.collections`` entry point; ``prefect block register -m
dealbooks.blocks`` registers them with a Prefect server. SMTP uses prefect-email's
``EmailServerCredentials`` as it is (``smtp_type="INSECURE"`` for the sandbox's loopback sink).
"""

from prefect_email import EmailServerCredentials

from dealbooks.blocks.crm import HubSpotCredentials, PipedriveCredentials
from dealbooks.blocks.quickbooks import QuickBooksCredentials
from dealbooks.blocks.settings import InvoiceSettings
from dealbooks.blocks.slack import SlackWorkspace

__all__ = [
    "EmailServerCredentials",
    "HubSpotCredentials",
    "InvoiceSettings",
    "PipedriveCredentials",
    "QuickBooksCredentials",
    "SlackWorkspace",
]
