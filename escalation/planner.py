"""What firing an escalation step does: who is notified, how, when, and why.

`plan_firing` is the one place that decides. The engine calls it to write
Notification rows; the dry run calls it to show the timeline that would
unfold. It reads people, roles and contact methods, but writes nothing.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from accounts import rules
from accounts.models import Channel, ContactMethod, Urgency, User
from escalation import policies
from escalation.models import EventKind, NotificationType, StepTarget
from escalation.policies import Position, Snapshot
from groups import roster
from groups.models import Group
from schedules import oncall

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# How many steps one firing may skip (steps whose role nobody holds) before
# it gives up: every step once, plus a wrap into the next round.
MAX_SKIPS_PAST_STEPS = 1


class Lookups:
    """Reads shared by every alert planned at one instant (one engine tick).

    Who holds a role is asked once per group, role and instant; a person's
    contact methods and rules once per person. Without it each alert would
    repeat the same queries.
    """

    def __init__(self) -> None:
        self._holders: dict[tuple[int, str, datetime], oncall.Responders] = {}
        self._contacts: dict[int, dict[str, ContactMethod]] = {}
        self._rules: dict[tuple[int, str], list[rules.Reach]] = {}

    def holders(self, group: Group, target: str, at: datetime) -> oncall.Responders:
        """Who holds `target` at `at`: the schedule's on-call person, or static order."""
        key = (group.pk, target, at)
        if key not in self._holders:
            if target == StepTarget.ALL_MEMBERS:
                self._holders[key] = oncall.Responders(roster.all_members(group))
            else:
                self._holders[key] = oncall.responders(group, target, at)
        return self._holders[key]

    def contact(self, user: User, channel: str) -> ContactMethod | None:
        if user.pk not in self._contacts:
            first: dict[str, ContactMethod] = {}
            for method in user.contact_methods.order_by("position", "id"):
                first.setdefault(method.channel, method)
            self._contacts[user.pk] = first
        return self._contacts[user.pk].get(channel)

    def rules(self, user: User, urgency: str) -> list[rules.Reach]:
        key = (user.pk, urgency)
        if key not in self._rules:
            self._rules[key] = rules.rules_for(user, urgency)
        return self._rules[key]


@dataclass(frozen=True)
class Context:
    """What the planner needs to know about an alert (real or hypothetical)."""

    group: Group
    plan: Snapshot
    severity: str
    alert_id: int | None = None
    assigned_to: User | None = None
    lookups: Lookups = field(default_factory=Lookups, compare=False)

    @property
    def urgency(self) -> str:
        return rules.urgency_of(self.severity)


@dataclass(frozen=True)
class Page:
    """One notification the firing writes."""

    user: User
    channel: str
    contact: ContactMethod
    due_at: datetime
    position: Position
    reason: str
    key: str


@dataclass
class Firing:
    pages: list[Page] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    fired: Position | None = None
    following: tuple[Position, datetime] | None = None


def sequence(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The step's channel sequence; snapshots from before delays existed hold bare names."""
    return [
        {"channel": entry, "delay": 0} if isinstance(entry, str) else entry
        for entry in step.get("channels", [])
    ]


def targets(ctx: Context, step: dict[str, Any], at: datetime) -> oncall.Responders:
    """Whom the step pages when it fires at `at`, and a note when the schedule had nobody."""
    if ctx.assigned_to is not None:
        return oncall.Responders([ctx.assigned_to] if ctx.assigned_to.is_active else [])
    target = step["target"]
    if target == StepTarget.USERS:
        by_id = {u.pk: u for u in User.objects.filter(pk__in=step.get("users", []), is_active=True)}
        return oncall.Responders([by_id[pk] for pk in step.get("users", []) if pk in by_id])
    return ctx.lookups.holders(ctx.group, target, at)


def reaches(ctx: Context, step: dict[str, Any], user: User) -> list[rules.Reach]:
    """How to reach `user` for this step: the policy's channels or the user's rules."""
    if ctx.plan.get("notification_type") == NotificationType.USER:
        return ctx.lookups.rules(user, ctx.urgency)
    entries = sequence(step)
    if ctx.urgency == Urgency.LOW and ctx.plan.get("low_urgency_email_only", True):
        entries = [e for e in entries if e["channel"] == Channel.EMAIL] or [
            {"channel": Channel.EMAIL, "delay": 0}
        ]
    found = []
    for entry in entries:
        contact = ctx.lookups.contact(user, entry["channel"])
        if contact is not None:
            minutes = entry["delay"] // 60
            found.append(
                rules.Reach(
                    entry["channel"],
                    contact,
                    minutes,
                    f"policy: {Channel(entry['channel']).label} at +{minutes} min",
                )
            )
    return found


def who(ctx: Context, step: dict[str, Any]) -> str:
    if ctx.assigned_to is not None:
        return f"assignee {ctx.assigned_to.display_name}"
    return StepTarget(step["target"]).label


def plan_firing(ctx: Context, pos: Position, due: datetime, now: datetime) -> Firing:
    """What firing the escalation at `pos` (due at `due`) does when run at `now`."""
    plan = ctx.plan
    steps = plan.get("steps") or []
    result = Firing()
    if not steps:
        result.events.append(
            (
                EventKind.WARNING,
                f"Nobody could be paged: the escalation policy {plan.get('name', '')!r} has no "
                "steps. The alert stays open.",
            )
        )
        return result
    current: Position | None = pos
    people: list[User] = []
    skips = 0
    while current is not None and skips <= len(steps) + MAX_SKIPS_PAST_STEPS:
        step = steps[current.step]
        found = targets(ctx, step, now)
        people = found.users
        if found.note:
            result.events.append((EventKind.WARNING, found.note))
        if people:
            break
        result.events.append(
            (
                EventKind.WARNING,
                f"Nobody in {ctx.group.name} is {who(ctx, step)}; "
                f"skipping {policies.describe_step(plan, current)}.",
            )
        )
        following = policies.next_step(plan, current, due)
        current = following[0] if following else None
        skips += 1
    if current is None or not people:
        if pos != Position(0, 0, 0):
            result.events.append((EventKind.INFO, FINISHED))
        else:
            result.events.append(
                (
                    EventKind.WARNING,
                    "Nobody could be paged: no member of the group holds a role the policy "
                    "targets. The alert stays open.",
                )
            )
        return result

    step = steps[current.step]
    result.fired = current
    where = policies.describe_step(plan, current)
    # The firing's due instant is part of every key: a replayed firing finds its
    # keys taken, but firing the same position again later (after an
    # acknowledgement timeout re-opens the alert, or an assignment restarts the
    # escalation) pages again.
    firing_id = (due - EPOCH) // timedelta(microseconds=1)
    for index, user in enumerate(people):
        offset = timedelta(seconds=index * step.get("member_wait", 0))
        found = reaches(ctx, step, user)
        if not found:
            wanted = (
                f"{Urgency(ctx.urgency).label.lower()} notification rules"
                if plan.get("notification_type") == NotificationType.USER
                else ", ".join(Channel(e["channel"]).label for e in sequence(step))
            )
            result.events.append(
                (
                    EventKind.WARNING,
                    f"Cannot page {user.display_name}: no contact method for {wanted} ({where}).",
                )
            )
            continue
        for n, reach in enumerate(found):
            result.pages.append(
                Page(
                    user=user,
                    channel=reach.channel,
                    contact=reach.contact,
                    due_at=now + offset + timedelta(minutes=reach.delay_minutes),
                    position=current,
                    reason=f"{where}; {reach.reason}",
                    key=(
                        f"a{ctx.alert_id}:f{firing_id}:r{current.round}:s{current.step}"
                        f":t{current.attempt}"
                        f":u{user.pk}:{reach.channel}:{n}"
                    ),
                )
            )
        channels = ", ".join(dict.fromkeys(Channel(r.channel).label for r in found))
        when = f" from {(now + offset):%H:%M:%S}" if offset else ""
        result.events.append(
            (EventKind.ESCALATED, f"Paging {user.display_name} via {channels}{when} ({where}).")
        )
    # Members are paged one after another, then the step's retry interval or
    # wait counts from the last of them.
    last_member = timedelta(seconds=(len(people) - 1) * step.get("member_wait", 0))
    result.following = policies.after(plan, current, due + last_member)
    if result.following is None:
        result.events.append((EventKind.INFO, FINISHED))
    return result


FINISHED = (
    "The escalation policy has run its course; the alert stays open until "
    "somebody acknowledges or resolves it."
)
