"""The Outbox: each notification as its recipient sees (or will see) it."""

from dataclasses import dataclass

from escalation import messages, throttle
from escalation.models import Notification, NotificationStatus

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
    # Waiting for a rate limit: `notification.error` says until when and why.
    held: bool = False


def entry(notification: Notification) -> Entry:
    """The stored text of a sent message, or the text it would be sent with now.

    A row bundled into another message has that message's text; the template
    points to the message instead of repeating it.
    """
    held = notification.status == NotificationStatus.PENDING and notification.error.startswith(
        throttle.HELD
    )
    if notification.body:
        return Entry(notification, notification.subject, notification.body, False, held)
    subject, text = RENDERERS[notification.channel](notification)
    return Entry(notification, subject, text, True, held)
