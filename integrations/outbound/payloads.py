"""The JSON document every delivery carries.

The shape is a contract with whatever receives it (a ticketing system, a
chat bot), documented on each webhook's page and in the README: fields are
only ever added, never renamed or removed; `version` changes if that ever
has to happen. Times are UTC in ISO 8601 with a "Z"; people are
{"id", "name", "email"} or null.

    {
      "version": 1,
      "id": "<unique per delivery; the same on every retry of it>",
      "event": "alert.acknowledged",
      "occurred_at": "2026-03-02T09:03:12.000Z",
      "message": "<the timeline entry's text>",
      "actor": {"type": "user" | "tool" | "system", "name": ..., "email": ... | null},
      "alert": {"id", "url", "summary", "status", "severity", "group": {"id", "name"},
                "integration": {"id", "name"} | null, "dedup_key", "source",
                "created_at", "acknowledged_at", "acknowledged_by", "resolved_at",
                "resolved_by", "assigned_to", "duplicate_count", "labels", "links",
                "details", "held_until", "hold_reason"}
    }
"""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from escalation.models import Alert
from integrations.models import WebhookEvent

VERSION = 1
# The page's example is fixed in time, so the signature it shows never changes.
EXAMPLE_TIME = datetime(2026, 3, 2, 9, 3, 12, tzinfo=UTC)
EXAMPLE_TIMESTAMP = int(EXAMPLE_TIME.timestamp())
EXAMPLE_EVENT_ID = "5f0c6a9e-8d1b-4c77-9a51-3f6d2b8e4a10"
TEST_EVENT = "test"
TEST_EVENT_NAME = "webhook.test"


def event_name(event: str) -> str:
    """The name receivers see: "alert.acknowledged", or "webhook.test" for a test."""
    return TEST_EVENT_NAME if event == TEST_EVENT else f"alert.{event}"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def person(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "email": user.email or None}


def actor(user=None, label: str = "") -> dict[str, Any]:
    """Who made the event: a person, a tool (an integration's sender), or AlertOps itself."""
    if user is not None:
        return {"type": "user", "name": user.display_name, "email": user.email or None}
    if label:
        return {"type": "tool", "name": label, "email": None}
    return {"type": "system", "name": "AlertOps", "email": None}


def alert_url(alert_id: int) -> str:
    return settings.PUBLIC_BASE_URL + reverse("alert-detail", args=[alert_id])


def alert_document(alert: Alert) -> dict[str, Any]:
    """The alert as it is after the event (read in the event's own transaction)."""
    integration = alert.integration
    return {
        "id": alert.pk,
        "url": alert_url(alert.pk),
        "summary": alert.summary,
        "status": alert.status,
        "severity": alert.severity,
        "group": {"id": alert.group_id, "name": alert.group.name},
        "integration": (
            {"id": integration.pk, "name": integration.name} if integration is not None else None
        ),
        "dedup_key": alert.dedup_key,
        "source": alert.source,
        "created_at": iso(alert.created_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "acknowledged_by": person(alert.acknowledged_by),
        "resolved_at": iso(alert.resolved_at),
        "resolved_by": person(alert.resolved_by),
        "assigned_to": person(alert.assigned_to),
        "duplicate_count": alert.duplicate_count,
        "labels": alert.labels,
        "links": alert.links,
        "details": alert.details,
        # While a maintenance window holds it: nobody is paged before then.
        "held_until": iso(alert.held_until) if alert.status == "open" else None,
        "hold_reason": alert.hold_reason,
    }


def document(
    event_id: str,
    event: str,
    occurred_at: datetime,
    message: str,
    who: dict[str, Any],
    alert: dict[str, Any],
) -> dict[str, Any]:
    return {
        "version": VERSION,
        "id": event_id,
        "event": event_name(event),
        "occurred_at": iso(occurred_at),
        "message": message,
        "actor": who,
        "alert": alert,
    }


def example_alert(now: datetime) -> dict[str, Any]:
    """A made-up alert in the real shape: for the page's example and for test deliveries."""
    return {
        "id": 0,
        "url": alert_url(0),
        "summary": "Disk full on db-1",
        "status": "acknowledged",
        "severity": "critical",
        "group": {"id": 0, "name": "Example group"},
        "integration": {"id": 0, "name": "Prometheus Alertmanager"},
        "dedup_key": "db-1/disk",
        "source": "db-1",
        "created_at": iso(now),
        "acknowledged_at": iso(now),
        "acknowledged_by": {"id": 0, "name": "Alice Example", "email": "alice@example.com"},
        "resolved_at": None,
        "resolved_by": None,
        "assigned_to": None,
        "duplicate_count": 2,
        "labels": {"alertname": "DiskFull", "instance": "db-1", "team": "storage"},
        "links": [{"href": "https://grafana.example.com/d/disk", "text": "Dashboard"}],
        "details": {"free": "0 B", "mount": "/var/lib/postgresql"},
        "held_until": None,
        "hold_reason": "",
    }


def example() -> dict[str, Any]:
    """An alert.acknowledged delivery as a receiver gets it, at EXAMPLE_TIME."""
    now = EXAMPLE_TIME
    return document(
        EXAMPLE_EVENT_ID,
        WebhookEvent.ACKNOWLEDGED,
        now,
        "Acknowledged via the dashboard; escalation stopped.",
        {"type": "user", "name": "Alice Example", "email": "alice@example.com"},
        example_alert(now),
    )
