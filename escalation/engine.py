"""The escalation engine: fire each due step of each open alert, exactly once.

`run_due(now)` is called by the ticker every second. Each due alert is claimed
with a conditional UPDATE on its escalation state; only the caller whose
UPDATE matched writes that step's Notification rows, in the same transaction.
The rows' idempotency keys make a repeated step a no-op all the same. What a
step does is decided by escalation.planner, which the dry run shares.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils.text import capfirst

from escalation import signals
from escalation.alerts import as_read, record, restart_escalation
from escalation.models import (
    ACTIVE_STATUSES,
    Alert,
    AlertEvent,
    AlertStatus,
    EventKind,
    Notification,
)
from escalation.planner import Context, Lookups, plan_firing
from escalation.policies import Position

log = logging.getLogger(__name__)


# Due alerts are fired this many to a transaction: their reads, timeline
# entries and notifications each take one query for the whole chunk.
CHUNK = 25


def run_due(now: datetime, limit: int = 500) -> int:
    """Fire every escalation step (and acknowledgement timeout) due at `now`."""
    due = list(
        Alert.objects.filter(status__in=ACTIVE_STATUSES, next_action_at__lte=now)
        .order_by("next_action_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    moved = 0
    lookups = Lookups()
    for start in range(0, len(due), CHUNK):
        chunk = due[start : start + CHUNK]
        try:
            moved += _advance_chunk(chunk, now, lookups)
        except Exception:
            log.exception("escalation chunk failed; firing its alerts one by one")
            moved += _advance_each(chunk, now, lookups)
    return moved


def _advance_each(alert_ids: list[int], now: datetime, lookups: Lookups) -> int:
    moved = 0
    for alert_id in alert_ids:
        try:
            moved += advance(alert_id, now, lookups)
        except Exception:
            # One broken alert must not stop the others; it stays due and is
            # tried again on the next tick.
            log.exception("escalation step failed for alert %s", alert_id)
    return moved


@transaction.atomic
def _advance_chunk(alert_ids: list[int], now: datetime, lookups: Lookups) -> int:
    alerts = Alert.objects.select_related("group", "assigned_to").filter(pk__in=alert_ids)
    events: list[AlertEvent] = []
    notifications: list[Notification] = []
    moved = 0
    for alert in sorted(alerts, key=lambda a: alert_ids.index(a.pk)):
        if alert.status == AlertStatus.ACKNOWLEDGED:
            moved += advance(alert.pk, now, lookups)  # rare: its own path
        else:
            moved += _fire(alert, now, lookups, events, notifications)
    _write(events, notifications)
    return moved


def context(alert: Alert, lookups: Lookups | None = None) -> Context:
    return Context(
        group=alert.group,
        plan=alert.policy_snapshot,
        severity=alert.severity,
        alert_id=alert.pk,
        assigned_to=alert.assigned_to,
        lookups=lookups or Lookups(),
    )


def _claim(alert: Alert, **changes) -> bool:
    """Move the alert on from the exact state we read; False if anybody else moved it."""
    return bool(as_read(alert).update(last_event_at=changes.pop("at"), **changes))


@transaction.atomic
def advance(alert_id: int, now: datetime, lookups: Lookups | None = None) -> bool:
    """Fire the due step of one alert. False if it was not due or someone else won."""
    alert = Alert.objects.select_related("group", "assigned_to").filter(pk=alert_id).first()
    if alert is None:
        return False
    if alert.status == AlertStatus.ACKNOWLEDGED and _is_due(alert, now):
        return _reopen_after_ack_timeout(alert, now)
    events: list[AlertEvent] = []
    notifications: list[Notification] = []
    moved = _fire(alert, now, lookups or Lookups(), events, notifications)
    _write(events, notifications)
    return bool(moved)


def _is_due(alert: Alert, now: datetime) -> bool:
    return (
        alert.status in ACTIVE_STATUSES
        and alert.next_action_at is not None
        and alert.next_action_at <= now
    )


def _fire(
    alert: Alert,
    now: datetime,
    lookups: Lookups,
    events: list[AlertEvent],
    notifications: list[Notification],
) -> int:
    """Claim an open alert's due step and collect the rows it writes. 1 if it moved."""
    if alert.status != AlertStatus.OPEN or not _is_due(alert, now):
        return 0
    firing = plan_firing(
        context(alert, lookups),
        Position(alert.round, alert.step_index, alert.attempt),
        alert.next_action_at,
        now,
    )
    following = firing.following
    held = {"held_until": None} if alert.held_until is not None else {}
    moved = _claim(
        alert,
        at=now,
        round=following[0].round if following else alert.round,
        step_index=following[0].step if following else alert.step_index,
        attempt=following[0].attempt if following else alert.attempt,
        next_action_at=following[1] if following else None,
        **held,
    )
    if not moved:
        return 0
    if held and now >= alert.held_until:
        events.append(
            AlertEvent(
                alert=alert,
                kind=EventKind.INFO,
                message=f"{capfirst(alert.hold_reason or 'the hold')} is over and the alert "
                "is still open: escalation starts now.",
                at=now,
            )
        )
    events.extend(
        AlertEvent(alert=alert, kind=kind, message=message, at=now)
        for kind, message in firing.events
    )
    notifications.extend(
        Notification(
            alert=alert,
            user=page.user,
            channel=page.channel,
            recipient=page.contact.address,
            due_at=page.due_at,
            round=page.position.round,
            step_index=page.position.step,
            step_attempt=page.position.attempt,
            idempotency_key=page.key,
            created_at=now,
        )
        for page in firing.pages
    )
    return 1


def _write(events: list[AlertEvent], notifications: list[Notification]) -> None:
    AlertEvent.objects.bulk_create(events)
    signals.announce(events)
    # A key already taken is a step fired before: writing it again is a no-op.
    Notification.objects.bulk_create(notifications, ignore_conflicts=True)


def _reopen_after_ack_timeout(alert: Alert, now: datetime) -> bool:
    """An acknowledged alert left unresolved past the policy's timeout escalates again."""
    moved = _claim(alert, at=now, **restart_escalation(now))
    if not moved:
        return False
    minutes = (alert.policy_snapshot.get("ack_timeout") or 0) // 60
    who = alert.acknowledged_by.display_name if alert.acknowledged_by else "a tool"
    record(
        alert,
        EventKind.ESCALATED,
        f"Acknowledged by {who} but not resolved within {minutes} minutes: re-opened, "
        "escalating again from the first step.",
        now,
    )
    return advance(alert.pk, now)
