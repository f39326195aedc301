"""Email through django-anymail (console backend in development)."""

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.core.mail import EmailMultiAlternatives

from escalation import messages
from escalation.models import Notification
from escalation.transports.base import SendResult, TransportError


def send(notification: Notification) -> SendResult:
    subject, text, html = messages.email(notification)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[notification.recipient])
    message.attach_alternative(html, "text/html")
    message.extra_headers["X-AlertOps-Alert"] = str(notification.alert_id)
    try:
        sent = message.send()
    except AnymailRecipientsRefused as error:
        raise TransportError(f"recipient refused: {error}", permanent=True) from error
    except AnymailError as error:
        raise TransportError(f"email provider error: {error}") from error
    except OSError as error:
        raise TransportError(f"could not reach the mail server: {error}") from error
    if not sent:
        raise TransportError("the mail backend accepted no message")
    status = getattr(message, "anymail_status", None)
    message_id = status.message_id if status else None
    if message_id is None:
        message_id = message.extra_headers.get("Message-ID", "")
    return SendResult(provider_ref=str(message_id), subject=subject, body=text)
