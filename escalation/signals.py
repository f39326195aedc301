"""Signals other apps listen to, so escalation never has to know about them.

`alert_events` is sent with `events`, a list of AlertEvent rows just written
to alerts' timelines, inside the transaction that wrote them: a receiver that
writes rows of its own (an outbound webhook's deliveries) commits or rolls
back with the event itself.
"""

from django.dispatch import Signal

alert_events = Signal()


def announce(events: list) -> None:
    if events:
        alert_events.send(sender="escalation", events=events)
