"""dealbooks' exceptions: every failure carries a category a revenue-ops user can act on.

``category`` is what the ledger records for a failed record (and what the sync-health artifact
counts by); ``retryable`` tells the flows whether the next run may succeed without a human.
"""

from __future__ import annotations


class DealbooksError(Exception):
    """Base class. ``str(exc)`` is a message for a person: what went wrong and what to do."""

    category: str = "internal"
    retryable: bool = False

    def __init__(self, message: str, *, category: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        if category is not None:
            self.category = category
        if retryable is not None:
            self.retryable = retryable

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigurationError(DealbooksError):
    """A block or setting is missing or wrong; the message names it."""

    category = "configuration"


# -- QuickBooks Online -----------------------------------------------------------------------------
class QboError(DealbooksError):
    """A QuickBooks Online API failure with QBO's own error code and message."""

    category = "qbo_error"

    def __init__(self, message: str, *, code: str = "", detail: str = "", status: int | None = None,
                 category: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message, category=category, retryable=retryable)
        self.code = code
        self.detail = detail
        self.status = status


class QboRetryableError(QboError):
    """Throttled (429/3001), 5xx, timeout or an unreadable body: try again later."""

    category = "qbo_unavailable"
    retryable = True


class QboStaleObjectError(QboError):
    """SyncToken was stale (5010): re-read the object and retry."""

    category = "qbo_stale_object"
    retryable = True


class QboNotFoundError(QboError):
    """The object does not exist or was deleted (610)."""

    category = "qbo_not_found"


class QboValidationError(QboError):
    """QBO refused the request (2020, 6000, 6070, 6240, ...); a person must fix the data."""

    category = "qbo_validation"


class QboDuplicateNameError(QboValidationError):
    """The DisplayName is taken by another customer, vendor or employee (6240)."""

    category = "duplicate_name"


class QboAuthError(QboError):
    """The refresh token is invalid or revoked: reconnect QuickBooks and update the block."""

    category = "qbo_auth"


# -- CRMs ------------------------------------------------------------------------------------------
class CrmError(DealbooksError):
    """A Pipedrive or HubSpot API failure."""

    category = "crm_error"

    def __init__(self, message: str, *, status: int | None = None, category: str | None = None,
                 retryable: bool | None = None) -> None:
        super().__init__(message, category=category, retryable=retryable)
        self.status = status


class CrmNotFound(CrmError):
    category = "crm_not_found"


class CrmAuthError(CrmError):
    category = "crm_auth"


class CrmRateLimited(CrmError):
    category = "crm_rate_limited"
    retryable = True


# -- webhooks --------------------------------------------------------------------------------------
class WebhookAuthError(DealbooksError):
    """The sender could not be authenticated (bad basic auth, bad or stale signature)."""

    category = "webhook_auth"


class WebhookPayloadError(DealbooksError):
    """The body is not a webhook we understand."""

    category = "webhook_payload"


# -- invoice building ------------------------------------------------------------------------------
class InvoiceBuildError(DealbooksError):
    """The deal cannot become an invoice as it is; ``category`` says why (no_organization,
    no_email, unknown_product, currency_mismatch, tax_code_missing, ...)."""

    category = "invalid_deal"


class NotificationError(DealbooksError):
    """Slack or SMTP failed; never blocks an invoice."""

    category = "notification"
    retryable = True
