"""The Outbox: each notification as its recipient sees (or will see) it."""

from dataclasses import dataclass

from escalation import messages
from escalation.models import Notification

RENDERERS = {
    "email": lambda n: messages.email(n)[:2],
    "sms": lambda n: ("", messages.sms(n)),
    "voice": lambda n: ("", messages.voice(n)),
}


@dataclass
class Entry:
    notification: Notification
    subject: str
    text: str
    rendered_now: bool


def entry(notification: Notification) -> Entry:
    """The stored text of a sent message, or the text it would be sent with now."""
    if notification.body:
        return Entry(notification, notification.subject, notification.body, False)
    subject, text = RENDERERS[notification.channel](notification)
    return Entry(notification, subject, text, True)
