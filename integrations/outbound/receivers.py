"""Signal receivers of outbound webhooks, connected when the app starts."""

from django.dispatch import receiver

from escalation.signals import alert_events
from integrations.outbound import events as outbound_events


@receiver(alert_events, dispatch_uid="integrations.outbound.queue")
def queue_deliveries(sender, events: list, **kwargs) -> None:
    """Every batch of timeline entries: a delivery for each webhook that wants it."""
    outbound_events.queue(events)
