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

from escalation.alerts import record
from escalation.models import ACTIVE_STATUSES, Alert, AlertStatus, EventKind, Notification
from escalation.planner import Context, Lookups, plan_firing
from escalation.policies import Position

log = logging.getLogger(__name__)


def run_due(now: datetime, limit: int = 500) -> int:
    """Fire every escalation step (and acknowledgement timeout) due at `now`."""
    due = list(
        Alert.objects.filter(status__in=ACTIVE_STATUSES, next_action_at__lte=now)
        .order_by("next_action_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    moved = 0
    lookups = Lookups()
    for alert_id in due:
        try:
            moved += advance(alert_id, now, lookups)
        except Exception:
            # One broken alert must not stop the others; it stays due and is
            # tried again on the next tick.
            log.exception("escalation step failed for alert %s", alert_id)
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
    """Move the alert on from the exact state we read; False if anybody else moved it.

    The assignee is part of that state: an assignment restarts the escalation
    at the first step, possibly at the very instant and position we read.
    """
    return bool(
        Alert.objects.filter(
            pk=alert.pk,
            status=alert.status,
            next_action_at=alert.next_action_at,
            round=alert.round,
            step_index=alert.step_index,
            attempt=alert.attempt,
            assigned_to=alert.assigned_to_id,
        ).update(last_event_at=changes.pop("at"), **changes)
    )


@transaction.atomic
def advance(alert_id: int, now: datetime, lookups: Lookups | None = None) -> bool:
    """Fire the due step of one alert. False if it was not due or someone else won."""
    alert = Alert.objects.select_related("group", "assigned_to").filter(pk=alert_id).first()
    if (
        alert is None
        or alert.status not in ACTIVE_STATUSES
        or alert.next_action_at is None
        or alert.next_action_at > now
    ):
        return False
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return _reopen_after_ack_timeout(alert, now)

    firing = plan_firing(
        context(alert, lookups),
        Position(alert.round, alert.step_index, alert.attempt),
        alert.next_action_at,
        now,
    )
    following = firing.following
    moved = _claim(
        alert,
        at=now,
        round=following[0].round if following else alert.round,
        step_index=following[0].step if following else alert.step_index,
        attempt=following[0].attempt if following else alert.attempt,
        next_action_at=following[1] if following else None,
    )
    if not moved:
        return False
    for kind, message in firing.events:
        record(alert, kind, message, now)
    Notification.objects.bulk_create(
        [
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
        ],
        ignore_conflicts=True,
    )
    return True


def _reopen_after_ack_timeout(alert: Alert, now: datetime) -> bool:
    """An acknowledged alert left unresolved past the policy's timeout escalates again."""
    moved = _claim(
        alert,
        at=now,
        status=AlertStatus.OPEN,
        acknowledged_at=None,
        acknowledged_by=None,
        round=0,
        step_index=0,
        attempt=0,
        next_action_at=now,
    )
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
