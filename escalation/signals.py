"""Signals other apps listen to, so escalation never has to know about them.

`alert_events` is sent with `events`, a list of AlertEvent rows just written
to alerts' timelines, inside the transaction that wrote them: a receiver that
writes rows of its own (an outbound webhook's deliveries) commits or rolls
back with the event itself. Inside `batched()` (one ingest request, however
many alerts it names) the entries are sent once, together, at its end.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.dispatch import Signal

alert_events = Signal()

_pending = threading.local()


def announce(events: list) -> None:
    if not events:
        return
    held = getattr(_pending, "events", None)
    if held is not None:
        held.extend(events)
        return
    alert_events.send(sender="escalation", events=events)


@contextmanager
def batched() -> Iterator[None]:
    """Announce what is written inside as one batch when it ends without error.

    Call it inside the transaction that writes the entries, so the batch is
    still sent before that transaction commits.
    """
    if getattr(_pending, "events", None) is not None:
        yield  # already inside a batch: it sends everything
        return
    _pending.events = []
    try:
        yield
        events = _pending.events
    finally:
        _pending.events = None
    announce(events)
