"""Signal receivers of inbound email, connected when the app starts.

Every ESP that anymail supports posts its inbound webhook to
/anymail/<esp>/inbound/ (integrations/email/urls.py); anymail checks the
basic auth of ANYMAIL["WEBHOOK_SECRET"], parses the message and sends the
`inbound` signal, which lands here. A failure to store, or an internal
error, raises: anymail answers 500 and the ESP delivers the mail again later.
"""

from anymail.signals import AnymailInboundEvent, EventType, inbound
from django.dispatch import receiver

from alertops.lib import clock
from integrations.email import checks, receive

# Imported for its side effect: it registers the inbound email system checks.
__all__ = ["checks", "on_inbound"]


class InboundEmailFailed(Exception):
    """Inbound mail could not be processed; it is in the inbound log, and the ESP will retry."""


@receiver(inbound, dispatch_uid="integrations.email.inbound")
def on_inbound(sender, event: AnymailInboundEvent, esp_name: str, **kwargs) -> None:
    if event.event_type != EventType.INBOUND or event.message is None:
        return  # an ESP's notice that it could not receive a message: there is no mail
    raw = _raw_of(event)
    received = receive.receive_message(event.message, clock.now(), esp_name, raw=raw)
    if received.status == receive.FAILED:
        raise InboundEmailFailed(received.message)


def _raw_of(event: AnymailInboundEvent) -> bytes | None:
    """The message exactly as the ESP sent it, when its payload has it (Postmark's RawEmail)."""
    payload = event.esp_event
    if isinstance(payload, dict) and isinstance(payload.get("RawEmail"), str):
        return payload["RawEmail"].encode("utf-8", errors="replace")
    return None
