"""The escalation engine: fire each due step of each open alert, exactly once.

`run_due(now)` is called by the ticker every second. Each due alert is claimed
with a conditional UPDATE on its escalation state; only the caller whose
UPDATE matched writes that step's Notification rows, in the same transaction.
The rows' idempotency keys make a repeated step a no-op all the same.
"""

import logging
from datetime import datetime

from django.db import transaction

from accounts.contacts import contact_for
from accounts.models import Channel, User
from escalation import policies
from escalation.alerts import record
from escalation.models import Alert, AlertStatus, EventKind, Notification, StepTarget
from escalation.policies import Position
from groups import roster
from groups.models import Group
from schedules import oncall

log = logging.getLogger(__name__)

FINISHED = (
    "The escalation policy has run its course; the alert stays open until "
    "somebody acknowledges or resolves it."
)


def run_due(now: datetime, limit: int = 500) -> int:
    """Fire every escalation step due at `now`. Returns how many alerts moved."""
    due = list(
        Alert.objects.filter(status=AlertStatus.OPEN, next_action_at__lte=now)
        .order_by("next_action_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    moved = 0
    for alert_id in due:
        try:
            moved += advance(alert_id, now)
        except Exception:
            # One broken alert must not stop the others; it stays due and is
            # tried again on the next tick.
            log.exception("escalation step failed for alert %s", alert_id)
    return moved


def targets(group: Group, target: str, at: datetime) -> list[User]:
    if target == StepTarget.ALL_MEMBERS:
        return roster.all_members(group)
    return oncall.responders(group, target, at)


@transaction.atomic
def advance(alert_id: int, now: datetime) -> bool:
    """Fire the due step of one alert. False if it was not due or someone else won."""
    alert = Alert.objects.select_related("group").filter(pk=alert_id).first()
    if (
        alert is None
        or alert.status != AlertStatus.OPEN
        or alert.next_action_at is None
        or alert.next_action_at > now
    ):
        return False
    plan = alert.policy_snapshot
    steps = plan.get("steps") or []
    due = alert.next_action_at
    started = Position(alert.round, alert.step_index, alert.attempt)
    # A policy saved without steps has nothing to fire: stop with a warning
    # rather than fail on every tick with nothing on the timeline.
    pos: Position | None = started if steps else None
    skipped: list[str] = []
    people: list[User] = []
    # A step with nobody to page is skipped at once, not after its wait.
    while pos is not None and len(skipped) <= len(steps):
        step = steps[pos.step]
        people = targets(alert.group, step["target"], now)
        if people:
            break
        skipped.append(
            f"Nobody in {alert.group.name} is {StepTarget(step['target']).label}; "
            f"skipping {policies.describe_step(plan, pos)}."
        )
        following = policies.next_step(plan, pos, due)
        pos = following[0] if following else None

    following = policies.after(plan, pos, due) if pos is not None and people else None
    won = Alert.objects.filter(
        pk=alert.pk,
        status=AlertStatus.OPEN,
        next_action_at=alert.next_action_at,
        round=alert.round,
        step_index=alert.step_index,
        attempt=alert.attempt,
    ).update(
        round=following[0].round if following else alert.round,
        step_index=following[0].step if following else alert.step_index,
        attempt=following[0].attempt if following else alert.attempt,
        next_action_at=following[1] if following else None,
        last_event_at=now,
    )
    if not won:
        return False

    for message in skipped:
        record(alert, EventKind.WARNING, message, now)
    if not steps:
        record(
            alert,
            EventKind.WARNING,
            f"Nobody could be paged: the escalation policy {plan.get('name', '')!r} has no "
            "steps. The alert stays open.",
            now,
        )
        return True
    if pos is None and started != Position(0, 0, 0):
        # Earlier steps have paged; only the last ones found nobody.
        record(alert, EventKind.INFO, FINISHED, now)
        return True
    if pos is None or not people:
        record(
            alert,
            EventKind.WARNING,
            "Nobody could be paged: no member of the group holds a role the policy targets. "
            "The alert stays open.",
            now,
        )
        return True

    _page(alert, plan, pos, people, now)
    if following is None:
        record(alert, EventKind.INFO, FINISHED, now)
    return True


def _page(alert: Alert, plan: dict, pos: Position, people: list[User], now: datetime) -> None:
    step = plan["steps"][pos.step]
    rows = []
    for user in people:
        reached = []
        for channel in step["channels"]:
            contact = contact_for(user, channel)
            if contact is None:
                continue
            reached.append(Channel(channel).label)
            rows.append(
                Notification(
                    alert=alert,
                    user=user,
                    channel=channel,
                    recipient=contact.address,
                    due_at=now,
                    round=pos.round,
                    step_index=pos.step,
                    step_attempt=pos.attempt,
                    idempotency_key=(
                        f"a{alert.pk}:r{pos.round}:s{pos.step}:t{pos.attempt}:u{user.pk}:{channel}"
                    ),
                    created_at=now,
                )
            )
        wanted = ", ".join(Channel(c).label for c in step["channels"])
        if reached:
            record(
                alert,
                EventKind.ESCALATED,
                f"Paging {user.display_name} via {', '.join(reached)} "
                f"({policies.describe_step(plan, pos)}).",
                now,
            )
        else:
            record(
                alert,
                EventKind.WARNING,
                f"Cannot page {user.display_name}: no contact method for {wanted} "
                f"({policies.describe_step(plan, pos)}).",
                now,
            )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
