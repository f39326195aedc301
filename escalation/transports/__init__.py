"""Transports: one module per channel, each with `send(notification) -> SendResult`.

A transport raises TransportError (and only that) when a message cannot be
handed over; adding a channel is adding a module and a line here.
"""

from collections.abc import Callable

from escalation.models import Notification
from escalation.transports import email, sms, voice
from escalation.transports.base import SendResult, TransportError

REGISTRY: dict[str, Callable[[Notification], SendResult]] = {
    "email": email.send,
    "sms": sms.send,
    "voice": voice.send,
}

__all__ = ["REGISTRY", "SendResult", "TransportError", "send"]


def send(notification: Notification) -> SendResult:
    try:
        transport = REGISTRY[notification.channel]
    except KeyError:
        raise TransportError(f"no transport for channel {notification.channel!r}", True) from None
    return transport(notification)
