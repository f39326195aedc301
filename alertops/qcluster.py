"""The q cluster's standing schedules: the engine's one-minute watchdog, and
the daily pruning of the inbound log, the heartbeats' check every minute,
and the outbound webhooks' sweep every minute (it sends retries when they
are due: django-q has no ETA, so a retry is a due row the sweep finds).

The escalation engine runs as a ticker task that holds a lease and enqueues
its successor (see escalation/ticker.py). This Schedule restarts the ticker
when its lease has expired, for example after the cluster was killed.
"""

WATCHDOG_FUNC = "escalation.ticker.watchdog"
WATCHDOG_NAME = "Escalation engine watchdog"
PRUNE_FUNC = "integrations.retention.prune"
PRUNE_NAME = "Inbound log pruning"
HEARTBEAT_FUNC = "integrations.heartbeats.check"
HEARTBEAT_NAME = "Heartbeat check"
OUTBOUND_FUNC = "integrations.outbound.delivery.sweep"
OUTBOUND_NAME = "Outbound webhook deliveries"


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    every_minute = {"schedule_type": Schedule.MINUTES, "minutes": 1}
    standing = [
        (WATCHDOG_NAME, WATCHDOG_FUNC, every_minute),
        (PRUNE_NAME, PRUNE_FUNC, {"schedule_type": Schedule.DAILY}),
        (HEARTBEAT_NAME, HEARTBEAT_FUNC, every_minute),
        (OUTBOUND_NAME, OUTBOUND_FUNC, every_minute),
    ]
    for name, func, timing in standing:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "repeats": -1, **timing}
        )
