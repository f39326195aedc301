"""Email through django-anymail (console backend in development).

An alert email carries a Reply-To address, `reply+<token>@INBOUND_EMAIL_DOMAIN`,
so a responder can answer "ack" or "resolve" from the mail client; inbound
email reads the token back with `read_reply_token`. The token is the alert
and user ids in base 36 and a truncated HMAC of them, all lower case: mail
systems may change the case of an address, and a local part holds at most
64 characters.
"""

from dataclasses import dataclass

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import base36_to_int, int_to_base36

from escalation import messages
from escalation.models import Notification
from escalation.transports.base import SendResult, TransportError

REPLY_PREFIX = "reply+"
REPLY_SALT = "escalation.email-reply"
# 80 bits: nobody can verify a guess offline, and online guessing is hopeless.
REPLY_MAC_LENGTH = 20


@dataclass(frozen=True)
class ReplyGrant:
    """Whom a reply address was given to: the alert, and the user paged (None: a group address)."""

    alert_id: int
    user_id: int | None


def _mac(value: str, secret: str) -> str:
    return salted_hmac(REPLY_SALT, value, secret=secret, algorithm="sha256").hexdigest()[
        :REPLY_MAC_LENGTH
    ]


def reply_token(alert_id: int, user_id: int | None) -> str:
    value = f"{int_to_base36(alert_id)}.{int_to_base36(user_id or 0)}"
    return f"{value}.{_mac(value, settings.SECRET_KEY)}"


def reply_address(alert_id: int, user_id: int | None) -> str:
    """Where a reply to an alert email goes: read by inbound email as ack or resolve."""
    return f"{REPLY_PREFIX}{reply_token(alert_id, user_id)}@{settings.INBOUND_EMAIL_DOMAIN}"


def read_reply_token(token: str) -> ReplyGrant | None:
    """The grant a reply token carries, or None when it was not made here (or was damaged).

    Reply tokens do not expire: the sender of a reply must still be a known
    responder for it to act, and an alert that is resolved cannot be acted on.
    """
    parts = token.strip().lower().split(".")
    if len(parts) != 3:
        return None
    alert_part, user_part, mac = parts
    value = f"{alert_part}.{user_part}"
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(constant_time_compare(mac, _mac(value, key)) for key in keys):
        return None
    try:
        alert_id, user_id = base36_to_int(alert_part), base36_to_int(user_part)
    except ValueError:
        return None
    if alert_id <= 0:
        return None
    return ReplyGrant(alert_id=alert_id, user_id=user_id or None)


def send(notification: Notification) -> SendResult:
    subject, text, html = messages.email(notification)
    reply_to = []
    if notification.alert_id is not None:
        reply_to = [reply_address(notification.alert_id, notification.user_id)]
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=[notification.recipient], reply_to=reply_to
    )
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
