"""Notifications: Slack payment alerts and overdue summaries, overdue reminder emails.

Rendering is pure (``slack_messages``, ``reminders``, ``money``); sending is separate (``slack``
posts with ``slack_sdk.WebClient``, ``email`` sends with ``smtplib``) and raises
``dealbooks.exceptions.NotificationError`` subclasses on every failure.
"""

from dealbooks.notifications.email import EmailDeliveryError, SentEmail, SmtpEmailSender, SmtpSettings, send_email
from dealbooks.notifications.money import format_money
from dealbooks.notifications.reminders import (
    DEFAULT_REMINDER_STEPS,
    ReminderData,
    RenderedReminder,
    attachment_filename,
    build_reminder_message,
    mailbox,
    render_reminder,
    template_for_step,
)
from dealbooks.notifications.slack import (
    PostedMessage,
    SlackError,
    SlackNotifier,
    build_slack_client,
    configure_retries,
)
from dealbooks.notifications.slack_messages import (
    OverdueInvoice,
    PaymentAlert,
    SlackMessage,
    render_overdue_summary,
    render_payment_alert,
)

__all__ = [
    "DEFAULT_REMINDER_STEPS",
    "EmailDeliveryError",
    "OverdueInvoice",
    "PaymentAlert",
    "PostedMessage",
    "ReminderData",
    "RenderedReminder",
    "SentEmail",
    "SlackError",
    "SlackMessage",
    "SlackNotifier",
    "SmtpEmailSender",
    "SmtpSettings",
    "attachment_filename",
    "build_reminder_message",
    "build_slack_client",
    "configure_retries",
    "format_money",
    "mailbox",
    "render_overdue_summary",
    "render_payment_alert",
    "render_reminder",
    "send_email",
    "template_for_step",
]
