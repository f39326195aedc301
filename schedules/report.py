"""Gaps and fairness: who carried how much of a schedule, and when nobody did.

`report(schedule, start, end)` sums each person's on-call time over the final
schedule, per role and in total, and how much of it fell at night (22:00 to
07:00) or at the weekend (Saturday and Sunday), both read on the clocks of
the schedule's zone. Lengths are real elapsed time: a shift over the night
the clocks go back is an hour longer, one over the night they go forward an
hour shorter. A Saturday night counts as both night and weekend.

Local boundaries become instants with schedules.timeline.to_instant, the same
map the shifts use, so consecutive local days tile time exactly: every
instant belongs to one day, and no hour is counted twice or lost.
"""

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from accounts.models import User
from groups.models import Role
from schedules import oncall, timeline
from schedules.models import RotationMember, Schedule

NIGHT_START = time(22, 0)
NIGHT_END = time(7, 0)
WEEKEND = frozenset({5, 6})  # Saturday, Sunday
ZERO = timedelta(0)

Spans = list[tuple[datetime, datetime]]


def hours(length: timedelta) -> float:
    return length.total_seconds() / 3600


@dataclass
class Hours:
    """On-call time, and how much of it was at night or at the weekend."""

    on_call: timedelta = ZERO
    night: timedelta = ZERO
    weekend: timedelta = ZERO
    shifts: int = 0

    @property
    def hours(self) -> float:
        return hours(self.on_call)

    @property
    def night_hours(self) -> float:
        return hours(self.night)

    @property
    def weekend_hours(self) -> float:
        return hours(self.weekend)

    def add(self, other: "Hours") -> None:
        self.on_call += other.on_call
        self.night += other.night
        self.weekend += other.weekend
        self.shifts += other.shifts


@dataclass
class Person:
    user: User
    roles: dict[str, Hours]
    total: Hours = field(default_factory=Hours)

    def role_rows(self) -> list[tuple[str, Hours]]:
        """(role label, hours) for each role, for the page."""
        return [(Role(role).label, spent) for role, spent in self.roles.items()]


@dataclass
class Report:
    schedule: Schedule
    start: datetime
    end: datetime
    zone: ZoneInfo
    roles: tuple[str, ...]
    people: list[Person]
    gaps: list[oncall.Shift]
    covered: dict[str, Hours]

    @property
    def window_hours(self) -> float:
        return hours(self.end - self.start)

    @property
    def gap_hours(self) -> float:
        return sum(g.hours for g in self.gaps)

    def person(self, user: User) -> Person | None:
        return next((p for p in self.people if p.user.pk == user.pk), None)

    @property
    def tables(self) -> list[dict]:
        """For the page: all roles (everybody), then each role (who held it), with shares."""
        total = Hours()
        for spent in self.covered.values():
            total.add(spent)
        tables = [_table("All roles", total, [(p.user, p.total) for p in self.people])]
        for role in self.roles:
            held = [(p.user, p.roles[role]) for p in self.people if p.roles[role].shifts]
            held.sort(key=lambda row: (-row[1].on_call, row[0].display_name))
            tables.append(_table(Role(role).label, self.covered[role], held))
        return tables


def _table(label: str, covered: Hours, rows: list[tuple[User, Hours]]) -> dict:
    return {
        "label": label,
        "covered": covered,
        "rows": [(user, spent, _share(spent, covered)) for user, spent in rows],
    }


def _share(part: Hours, whole: Hours) -> float:
    return 100 * part.on_call / whole.on_call if whole.on_call else 0.0


def _local_spans(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[Spans, Spans]:
    """The nights and the weekend days meeting [start, end), as sorted instants."""
    nights: Spans = []
    weekends: Spans = []
    day: date = timeline.local(start, zone).date() - timedelta(days=1)
    last = timeline.local(end, zone).date()
    while day <= last:
        following = day + timedelta(days=1)
        nights.append(
            (
                timeline.to_instant(datetime.combine(day, NIGHT_START), zone),
                timeline.to_instant(datetime.combine(following, NIGHT_END), zone),
            )
        )
        if day.weekday() in WEEKEND:
            weekends.append(
                (
                    timeline.to_instant(datetime.combine(day, time.min), zone),
                    timeline.to_instant(datetime.combine(following, time.min), zone),
                )
            )
        day = following
    return nights, timeline.union(weekends)


def overlap(spans: Spans, low: datetime, high: datetime) -> timedelta:
    """How much of [low, high) the sorted, disjoint `spans` cover."""
    total = ZERO
    i = max(bisect.bisect_right(spans, low, key=lambda s: s[0]) - 1, 0)
    while i < len(spans) and spans[i][0] < high:
        a, b = max(low, spans[i][0]), min(high, spans[i][1])
        if a < b:
            total += b - a
        i += 1
    return total


def report(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    zone: ZoneInfo | None = None,
    roles: tuple[str, ...] = oncall.ROLES,
) -> Report:
    """Each person's hours over [start, end) and the gaps; nights and weekends in `zone`.

    `zone` defaults to the schedule's. Everybody in one of the schedule's
    layers is listed, with zero hours if the window gave them none.
    """
    zone = zone or schedule.zone
    shifts = oncall.final_schedule(schedule, start, end, roles)
    nights, weekends = _local_spans(zone, start, end)
    people: dict[int, Person] = {}

    def person(user: User) -> Person:
        if user.pk not in people:
            people[user.pk] = Person(user, {role: Hours() for role in roles})
        return people[user.pk]

    for place in RotationMember.objects.filter(
        rotation__schedule=schedule, user__is_active=True
    ).select_related("user"):
        person(place.user)
    covered = {role: Hours() for role in roles}
    gaps = []
    for shift in shifts:
        if shift.is_gap or shift.user is None:
            gaps.append(shift)
            continue
        piece = Hours(
            on_call=shift.end - shift.start,
            night=overlap(nights, shift.start, shift.end),
            weekend=overlap(weekends, shift.start, shift.end),
            shifts=1,
        )
        entry = person(shift.user)
        entry.roles[shift.role].add(piece)
        entry.total.add(piece)
        covered[shift.role].add(piece)
    ranked = sorted(people.values(), key=lambda p: (-p.total.on_call, p.user.display_name))
    gaps.sort(key=lambda g: (g.start, roles.index(g.role)))
    return Report(schedule, start, end, zone, roles, ranked, gaps, covered)


def upcoming_gaps(schedule: Schedule, now: datetime, days: int = 14) -> list[oncall.Shift]:
    """The stretches of the next `days` days when a role has nobody on call, soonest first."""
    shifts = oncall.final_schedule(schedule, now, now + timedelta(days=days))
    return sorted((s for s in shifts if s.is_gap), key=lambda s: (s.start, s.role))
