"""Heartbeats: a job that must ping every N minutes, and the alert when it does not.

`check(now)` runs every minute in the q cluster (alertops/qcluster.py): each
enabled heartbeat integration whose last ping (or, before the first, its
creation) is older than its interval plus its grace gets one open alert for
its group. The next ping resolves it (integrations/ingest.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from alertops.lib import clock
from escalation import alerts
from integrations import maintenance
from integrations.models import Integration, IntegrationKind
from integrations.parsers.heartbeat import MISSED_KEY


@dataclass(frozen=True)
class Due:
    last_ping: datetime | None
    next_ping: datetime  # expected by then
    missed_at: datetime  # after the grace, the alert opens

    def late(self, now: datetime) -> bool:
        return now >= self.missed_at


def due(integration: Integration) -> Due:
    since = integration.last_received_at or integration.created_at
    expected = since + timedelta(minutes=integration.heartbeat_minutes)
    return Due(
        last_ping=integration.last_received_at,
        next_ping=expected,
        missed_at=expected + timedelta(minutes=integration.heartbeat_grace_minutes),
    )


def check(now: datetime | None = None) -> int:
    """Open an alert for each heartbeat that has missed its ping; returns how many opened."""
    now = now or clock.now()
    opened = 0
    beats = Integration.objects.filter(kind=IntegrationKind.HEARTBEAT, enabled=True)
    for integration in beats.select_related("group__escalation_policy"):
        when = due(integration)
        if not when.late(now) or alerts.find_active(integration.pk, MISSED_KEY):
            continue
        last = (
            f"the last one came at {when.last_ping:%Y-%m-%d %H:%M} UTC"
            if when.last_ping
            else "none has come since it was set up"
        )
        _, created = alerts.raise_alert(
            integration.group,
            alerts.AlertInput(
                summary=f"Heartbeat missed: {integration.name}",
                dedup_key=MISSED_KEY,
                details={
                    "expected_every_minutes": integration.heartbeat_minutes,
                    "grace_minutes": integration.heartbeat_grace_minutes,
                    "expected_by": when.next_ping.isoformat(),
                    "last_ping": when.last_ping.isoformat() if when.last_ping else None,
                    "why": f"No ping within {integration.heartbeat_minutes} min "
                    f"and {integration.heartbeat_grace_minutes} min of grace; {last}.",
                },
                source=integration.name,
            ),
            now,
            integration_id=integration.pk,
            actor_label=integration.name,
            hold=partial(maintenance.hold_for, integration.pk, integration.group_id, now),
        )
        opened += created
    return opened
