"""Escalation policies as frozen plans, and the pure arithmetic of moving through them.

An alert's escalation follows a snapshot of its group's policy taken when the
escalation starts. The functions here take that snapshot and a position and
say what comes next; they read no database and no clock, so the engine and
its tests agree by construction.
"""

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from escalation.models import EscalationPolicy, EscalationStep, NotificationType, StepTarget

Snapshot = dict[str, Any]

# Followed when a group has no policy of its own: Primary, then Secondary
# after 5 minutes, then Manager after 10 more.
DEFAULT_POLICY_NAME = "Default (Primary, Secondary, Manager)"
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"target": StepTarget.PRIMARY, "wait_minutes": 5},
    {"target": StepTarget.SECONDARY, "wait_minutes": 10},
    {"target": StepTarget.MANAGER, "wait_minutes": 10},
]


def _channels(entries: list) -> list[dict[str, Any]]:
    """A channel sequence as (channel, delay in seconds); bare names mean no delay."""
    sequence = []
    for entry in entries:
        if isinstance(entry, str):
            sequence.append({"channel": entry, "delay": 0})
        else:
            sequence.append(
                {"channel": entry["channel"], "delay": int(entry.get("delay_minutes", 0)) * 60}
            )
    return sequence


def _step(
    target: str,
    channels: list,
    retries: int = 0,
    retry_interval_minutes: int = 0,
    wait_minutes: int = 0,
    member_wait_minutes: int = 0,
    users: list[int] | None = None,
) -> dict[str, Any]:
    return {
        "target": str(target),
        "users": list(users or []),
        "channels": _channels(channels),
        "retries": retries,
        "retry_interval": retry_interval_minutes * 60,
        "member_wait": member_wait_minutes * 60,
        "wait": wait_minutes * 60,
    }


def snapshot(policy: EscalationPolicy | None) -> Snapshot:
    """Freeze a policy (or the built-in default) into a plain dict."""
    if policy is None:
        return {
            "policy_id": None,
            "name": DEFAULT_POLICY_NAME,
            "version": 1,
            "repeat_count": 0,
            "notification_type": NotificationType.POLICY,
            "low_urgency_email_only": True,
            "ack_timeout": None,
            "steps": [
                _step(s["target"], ["email", "sms"], wait_minutes=s["wait_minutes"])
                for s in DEFAULT_STEPS
            ],
        }
    # The version is read from the database: steps change it there only.
    version = EscalationPolicy.objects.values_list("version", flat=True).get(pk=policy.pk)
    key = (policy.pk, version)
    frozen = _snapshots.get(key)
    if frozen is None:
        frozen = _freeze(policy, version)
        if len(_snapshots) >= SNAPSHOT_CACHE_SIZE:
            _snapshots.clear()
        _snapshots[key] = frozen
    return copy.deepcopy(frozen)


# Snapshots by (policy id, version): every save of a policy or its steps
# raises the version, so a policy's snapshot at a version never changes, and
# each new alert needs one query (the version) instead of three.
SNAPSHOT_CACHE_SIZE = 256
_snapshots: dict[tuple[int, int], Snapshot] = {}


def _freeze(policy: EscalationPolicy, version: int) -> Snapshot:
    # Read again at this version: the caller's object may be older than the row.
    policy = EscalationPolicy.objects.get(pk=policy.pk)
    steps = policy.steps.order_by("position", "id")
    # Named users are paged in the order they were added to the step (the
    # join table's order), not in the User model's alphabetical order.
    named: dict[int, list[int]] = {}
    for step_id, user_id in (
        EscalationStep.users.through.objects.filter(escalationstep__policy=policy)
        .order_by("id")
        .values_list("escalationstep_id", "user_id")
    ):
        named.setdefault(step_id, []).append(user_id)
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "version": version,
        "repeat_count": policy.repeat_count,
        "notification_type": policy.notification_type,
        "low_urgency_email_only": policy.low_urgency_email_only,
        "ack_timeout": policy.ack_timeout_minutes * 60 if policy.ack_timeout_minutes else None,
        "steps": [
            _step(
                s.target,
                s.channels,
                s.retries,
                s.retry_interval_minutes,
                s.wait_minutes,
                s.member_wait_minutes,
                named.get(s.pk, []),
            )
            for s in steps
        ],
    }


@dataclass(frozen=True)
class Position:
    """Where an escalation stands: which round, which step, which retry."""

    round: int
    step: int
    attempt: int


def after(plan: Snapshot, pos: Position, due: datetime) -> tuple[Position, datetime] | None:
    """The position and due time that follow `pos` (fired at `due`), or None when done."""
    step = plan["steps"][pos.step]
    if pos.attempt < step["retries"]:
        return Position(pos.round, pos.step, pos.attempt + 1), due + timedelta(
            seconds=step["retry_interval"]
        )
    return next_step(plan, pos, due + timedelta(seconds=step["wait"]))


def next_step(plan: Snapshot, pos: Position, at: datetime) -> tuple[Position, datetime] | None:
    """The first attempt of the step after `pos`, starting at `at`, or None when done."""
    if pos.step + 1 < len(plan["steps"]):
        return Position(pos.round, pos.step + 1, 0), at
    if pos.round < plan["repeat_count"]:
        return Position(pos.round + 1, 0, 0), at
    return None


def describe_step(plan: Snapshot, pos: Position) -> str:
    step = plan["steps"][pos.step]
    text = f"step {pos.step + 1}, {StepTarget(step['target']).label}"
    if step["retries"]:
        text += f", attempt {pos.attempt + 1} of {step['retries'] + 1}"
    if plan["repeat_count"]:
        text += f", round {pos.round + 1} of {plan['repeat_count'] + 1}"
    return text
