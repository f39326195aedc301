"""The alert lifecycle: raise (with deduplication), acknowledge, resolve.

Every state change is a conditional UPDATE on the alert's current status, so
an acknowledgement and an escalation step can never both win, and each lands
on the alert's timeline with who did it and when.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import User
from escalation import policies, signals
from escalation.models import (
    ACTIVE_STATUSES,
    Alert,
    AlertEvent,
    AlertStatus,
    EventKind,
    Notification,
    NotificationStatus,
    Severity,
)
from groups.models import Group


@dataclass
class AlertInput:
    """What a caller knows about a new alert, whatever sent it."""

    summary: str
    dedup_key: str
    severity: str = Severity.ERROR
    details: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Hold:
    """Page nobody about a new alert before `until` (a maintenance window runs)."""

    until: datetime
    reason: str
    window_id: int | None = None


def record(
    alert: Alert,
    kind: str,
    message: str,
    at: datetime,
    actor: User | None = None,
    actor_label: str = "",
    notification: Notification | None = None,
) -> AlertEvent:
    """Add an entry to the alert's timeline."""
    event = AlertEvent.objects.create(
        alert=alert,
        kind=kind,
        message=message,
        at=at,
        actor=actor,
        actor_label=actor_label,
        notification=notification,
    )
    signals.announce([event])
    return event


def find_active(integration_id: int | None, dedup_key: str) -> Alert | None:
    return (
        Alert.objects.filter(
            integration_id=integration_id, dedup_key=dedup_key, status__in=ACTIVE_STATUSES
        )
        .order_by("-id")
        .first()
    )


@transaction.atomic(savepoint=False)
def raise_alert(
    group: Group,
    data: AlertInput,
    now: datetime,
    integration_id: int | None = None,
    actor_label: str = "",
    hold: Callable[[], Hold | None] | None = None,
) -> tuple[Alert, bool]:
    """Open an alert, or count a duplicate of the active one with the same key.

    Returns the alert and whether it was created. Safe under concurrent calls:
    the database allows one active alert per integration and dedup key, and
    the loser of a race becomes a duplicate. `hold` is asked only when a new
    alert opens: a Hold makes its first step due when the hold ends, not now.
    """
    existing = find_active(integration_id, data.dedup_key)
    if existing is not None:
        return _count_duplicate(existing, now, actor_label), False
    policy = group.escalation_policy
    held = hold() if hold is not None else None
    if held is not None and held.until <= now:
        held = None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                group=group,
                integration_id=integration_id,
                summary=data.summary[:1024],
                details=data.details,
                severity=data.severity,
                source=data.source[:255],
                dedup_key=data.dedup_key,
                labels=data.labels,
                links=data.links,
                created_at=now,
                last_event_at=now,
                policy_snapshot=policies.snapshot(policy),
                next_action_at=held.until if held else now,
                held_until=held.until if held else None,
                hold_reason=held.reason[:600] if held else "",
                maintenance_window_id=held.window_id if held else None,
            )
    except IntegrityError:
        existing = find_active(integration_id, data.dedup_key)
        if existing is None:
            raise
        return _count_duplicate(existing, now, actor_label), False
    plan = alert.policy_snapshot
    entries = [
        AlertEvent(
            alert=alert,
            kind=EventKind.CREATED,
            message=f"Alert created: {alert.summary}",
            at=now,
            actor_label=actor_label,
        )
    ]
    if policy is None:
        entries.append(
            AlertEvent(
                alert=alert,
                kind=EventKind.INFO,
                message=f"{group.name} has no escalation policy; following the built-in default.",
                at=now,
            )
        )
    started = f"policy {plan['name']!r} (version {plan['version']})"
    if held is None:
        entries.append(
            AlertEvent(
                alert=alert,
                kind=EventKind.INFO,
                message=f"Escalation started with {started}.",
                at=now,
            )
        )
    else:
        entries.append(
            AlertEvent(
                alert=alert,
                kind=EventKind.WARNING,
                message=f"Arrived during {held.reason}: nobody is paged until "
                f"{held.until:%Y-%m-%d %H:%M} UTC. Escalation with {started} starts then, "
                "unless the alert is resolved or acknowledged before.",
                at=now,
            )
        )
    AlertEvent.objects.bulk_create(entries)  # one statement: this runs on every new alert
    signals.announce(entries)
    return alert, True


def _count_duplicate(alert: Alert, now: datetime, actor_label: str) -> Alert:
    Alert.objects.filter(pk=alert.pk).update(
        duplicate_count=F("duplicate_count") + 1, last_event_at=now
    )
    alert.refresh_from_db(fields=["duplicate_count", "last_event_at"])
    record(
        alert,
        EventKind.DUPLICATE,
        f"Duplicate received ({alert.duplicate_count} so far); no new alert opened.",
        now,
        actor_label=actor_label,
    )
    return alert


def _cancel_pending(alert: Alert, reason: str) -> int:
    return Notification.objects.filter(alert=alert, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.CANCELLED, error=reason
    )


@transaction.atomic
def acknowledge(
    alert: Alert, now: datetime, by: User | None = None, actor_label: str = "", via: str = ""
) -> bool:
    """Stop the escalation. False if the alert was not open (already acked or resolved)."""
    timeout = (alert.policy_snapshot or {}).get("ack_timeout")
    won = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=by,
        # With an acknowledgement timeout the engine comes back then to re-open it.
        next_action_at=now + timedelta(seconds=timeout) if timeout else None,
        last_event_at=now,
    )
    if not won:
        return False
    cancelled = _cancel_pending(alert, "alert acknowledged")
    alert.refresh_from_db()
    message = "Acknowledged" + (f" via {via}" if via else "") + "; escalation stopped"
    if cancelled:
        message += f", {cancelled} pending notification(s) cancelled"
    if timeout:
        message += f"; it re-opens at {alert.next_action_at:%H:%M} UTC unless resolved by then"
    record(alert, EventKind.ACKNOWLEDGED, message + ".", now, actor=by, actor_label=actor_label)
    return True


@transaction.atomic
def resolve(
    alert: Alert, now: datetime, by: User | None = None, actor_label: str = "", via: str = ""
) -> bool:
    """Close the alert. False if it was already resolved."""
    won = Alert.objects.filter(pk=alert.pk, status__in=ACTIVE_STATUSES).update(
        status=AlertStatus.RESOLVED,
        resolved_at=now,
        resolved_by=by,
        next_action_at=None,
        last_event_at=now,
    )
    if not won:
        return False
    cancelled = _cancel_pending(alert, "alert resolved")
    alert.refresh_from_db()
    message = "Resolved" + (f" via {via}" if via else "")
    if cancelled:
        message += f"; {cancelled} pending notification(s) cancelled"
    record(alert, EventKind.RESOLVED, message + ".", now, actor=by, actor_label=actor_label)
    return True


def restart_escalation(now: datetime) -> dict:
    """The fields that (re)open an alert and start its escalation from the first step."""
    return {
        "status": AlertStatus.OPEN,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "round": 0,
        "step_index": 0,
        "attempt": 0,
        "next_action_at": now,
        "held_until": None,  # a person acted: a maintenance window no longer holds it
    }


@transaction.atomic
def move_hold(alert: Alert, until: datetime | None, now: datetime, why: str) -> bool:
    """Hold a held alert until `until` instead, or (None) let it escalate now.

    Only while the alert is open and its first step has not fired: once a
    person has been paged, a maintenance window changing can no longer
    silence it. False if the alert moved on meanwhile.
    """
    if until is not None and until <= now:
        until = None
    if alert.held_until is None or until == alert.held_until:
        return False
    won = Alert.objects.filter(
        pk=alert.pk,
        status=AlertStatus.OPEN,
        held_until=alert.held_until,
        next_action_at=alert.held_until,
        round=0,
        step_index=0,
        attempt=0,
    ).update(
        held_until=until or now,
        next_action_at=until or now,
        last_event_at=now,
    )
    if not won:
        return False
    if until is None:
        message = f"{why}: escalation starts now."
    else:
        message = f"{why}: nobody is paged until {until:%Y-%m-%d %H:%M} UTC."
    record(alert, EventKind.INFO, message, now)
    return True


def as_read(alert: Alert):
    """The alert's row, only while its escalation state is still what we read.

    Every change to the escalation is an UPDATE through this filter, then a
    check of the row count: of an acknowledgement, an escalation step, an
    assignment and an "escalate now" racing each other, exactly one wins.
    """
    return Alert.objects.filter(
        pk=alert.pk,
        status=alert.status,
        round=alert.round,
        step_index=alert.step_index,
        attempt=alert.attempt,
        next_action_at=alert.next_action_at,
        assigned_to=alert.assigned_to_id,
    )


@transaction.atomic
def assign(
    alert: Alert, assignee: User, now: datetime, by: User | None = None, via: str = ""
) -> bool:
    """Hand the alert to `assignee`: they are paged now, and every step pages them
    (with the step's timing) until they acknowledge."""
    alert.refresh_from_db()
    if not alert.is_active:
        return False
    won = as_read(alert).update(assigned_to=assignee, last_event_at=now, **restart_escalation(now))
    if not won:
        return False
    cancelled = _cancel_pending(alert, f"alert assigned to {assignee.display_name}")
    message = f"Assigned to {assignee.display_name}" + (f" via {via}" if via else "")
    message += f"; escalation continues on {assignee.display_name} until acknowledged"
    if cancelled:
        message += f", {cancelled} pending notification(s) for others cancelled"
    record(alert, EventKind.ASSIGNED, message + ".", now, actor=by)
    return True


@transaction.atomic
def escalate_now(alert: Alert, now: datetime, by: User | None = None, via: str = "") -> bool:
    """Jump to the next step at once. False when the alert is not open or has no next step."""
    alert.refresh_from_db()
    if alert.status != AlertStatus.OPEN:
        return False
    plan = alert.policy_snapshot
    pos = policies.Position(alert.round, alert.step_index, alert.attempt)
    if alert.next_action_at is None:
        return False  # the policy has run its course: there is no next step
    if pos.attempt > 0:
        # Retries of the current step are pending: skip them.
        following = policies.next_step(plan, pos, now)
        if following is None:
            return False
        pos = following[0]
    won = as_read(alert).update(
        round=pos.round,
        step_index=pos.step,
        attempt=pos.attempt,
        next_action_at=now,
        last_event_at=now,
    )
    if not won:
        return False
    cancelled = _cancel_pending(alert, "escalated to the next step")
    message = f"Escalated now to {policies.describe_step(plan, pos)}" + (
        f" via {via}" if via else ""
    )
    if cancelled:
        message += f"; {cancelled} pending notification(s) of the previous step cancelled"
    record(alert, EventKind.ESCALATED, message + ".", now, actor=by)
    return True


@transaction.atomic  # with what its timeline entry announces (an outbound webhook's delivery)
def add_note(
    alert: Alert, text: str, now: datetime, by: User | None = None, actor_label: str = ""
) -> AlertEvent:
    Alert.objects.filter(pk=alert.pk).update(last_event_at=now)
    return record(
        alert, EventKind.NOTE, text.strip()[:4000], now, actor=by, actor_label=actor_label
    )
