"""The dry run: the timeline an escalation would follow if nobody acknowledged.

It walks the policy with escalation.planner, the same code the engine runs,
firing each step at its due time, and writes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from escalation import policies
from escalation.models import EscalationPolicy
from escalation.planner import Context, Page, plan_firing
from escalation.policies import Position
from groups.models import Group

# A policy repeats at most 11 times over at most a few dozen steps and
# retries; this bounds the walk all the same.
MAX_FIRINGS = 1000


@dataclass
class DryRun:
    policy_name: str
    policy_version: int
    start: datetime
    pages: list[Page] = field(default_factory=list)
    notes: list[tuple[datetime, str, str]] = field(default_factory=list)


def simulate(
    group: Group,
    severity: str,
    start: datetime,
    policy: EscalationPolicy | None = None,
) -> DryRun:
    """Every page a new alert for `group` would cause from `start` if nobody acknowledged.

    `policy` defaults to the group's own (or the built-in default).
    """
    plan = policies.snapshot(policy if policy is not None else group.escalation_policy)
    ctx = Context(group=group, plan=plan, severity=severity)
    result = DryRun(plan["name"], plan["version"], start)
    pos, due = Position(0, 0, 0), start
    for _ in range(MAX_FIRINGS):
        firing = plan_firing(ctx, pos, due, now=due)
        result.pages.extend(firing.pages)
        result.notes.extend((due, kind, message) for kind, message in firing.events)
        if firing.following is None:
            break
        pos, due = firing.following
    result.pages.sort(key=lambda page: (page.due_at, page.user.display_name, page.channel))
    return result
