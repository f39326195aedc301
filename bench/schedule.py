"""(d) Who is on call: what one question to a busy schedule costs, in one idle process.

No cluster. This process writes a group with a schedule in Europe/Berlin:
five layers of PARTICIPANTS (20) users each, 100 distinct users in all,

- Primary 1: weekly shifts, Monday 09:00 handoff, started about 47 weeks ago;
- Primary 2: 12-hour shifts, 08:00 and 20:00, started about 26 weeks ago;
- Primary 3: daily shifts restricted to weekdays 09:00-17:00, started 13 weeks ago;
- Secondary 1: daily shifts, 10:00 handoff, started about 39 weeks ago;
- Secondary 2: custom rule RRULE:FREQ=DAILY;BYHOUR=6,14,22 (8-hour shifts),
  started 9 weeks ago;

and OVERRIDES overrides over the next DAYS days, half per role, none
overlapping within a role, a third of them only in place of a named user.
Start dates are relative to today, so the work of walking a layer from its
start to the asked instant stays the same from one run to the next (the
window crosses a daylight-saving change only when run from late December to
late March, or late June to late October).

After a warm-up, each figure is timed call by call with time.perf_counter:

- who_is_on_call(schedule, role, at) at random instants of the DAYS days,
  random role, on a schedule row read once, its own queries included;
- responders(group, role, at), what the engine calls when a step fires, on a
  freshly read group each time, as the engine has it from its alert (so the
  group's schedule is read too); outside the engine's transaction;
- final_schedule(schedule, start, start + DAYS days), both roles.

Then, timed as a whole: the queries of one call of each and the share of
the time spent in the database driver; and whether who_is_on_call agrees with
final_schedule at every instant asked.
"""

import bisect
import os
import random
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bench import harness
from bench.harness import Report, now, percentile

ZONE = "Europe/Berlin"
PARTICIPANTS = 20  # per layer
OVERRIDES = 200
DAYS = 90
WHO_WARMUP = 200
WHO_CALLS = int(os.environ.get("BENCH_SCHEDULE_CALLS", 2_000))
RESPONDERS_CALLS = 500
FINAL_WARMUP = 5
FINAL_CALLS = int(os.environ.get("BENCH_SCHEDULE_FINAL_CALLS", 100))
# A figure stops early (and says so) when its calls take longer than this.
BUDGET_SECONDS = 15.0
WHO_TARGET_MS = 2.0
FINAL_TARGET_MS = 50.0
SEED = 20261201
GROUP_NAME = "Schedule benchmark"
RULE = "RRULE:FREQ=DAILY;BYHOUR=6,14,22"


class DriverTime:
    """Sums the time spent executing SQL (driver and database), and counts the queries."""

    def __init__(self) -> None:
        self.total = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.total += time.perf_counter() - started
            self.queries += 1


def main() -> None:
    harness.setup_django()
    report = Report("d. schedule")
    measure(report)
    report.emit()


class Spec(NamedTuple):
    """One layer to write."""

    name: str
    role: str
    layer: int
    start_date: date
    handoff_hour: int
    unit: str
    length: int
    rule: str = ""
    business_hours: bool = False  # restricted to weekdays 09:00-17:00


def monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())


def build(start: datetime) -> tuple[int, int]:
    """Write the group, its schedule, layers, users and overrides; (group id, schedule id)."""
    import recurrence
    from django.db import transaction

    from accounts.models import User
    from groups.models import Group, Membership
    from schedules.models import (
        Override,
        Restriction,
        Rotation,
        RotationMember,
        Schedule,
        ShiftUnit,
    )

    rng = random.Random(SEED)
    today = start.astimezone(ZoneInfo(ZONE)).date()
    layers = [
        Spec("Weekly", "primary", 1, monday_on_or_before(today - timedelta(weeks=47)), 9,
             ShiftUnit.WEEKS, 1),
        Spec("Twelve hours", "primary", 2, today - timedelta(weeks=26), 8, ShiftUnit.HOURS, 12),
        Spec("Business hours", "primary", 3, today - timedelta(weeks=13), 9, ShiftUnit.DAYS, 1,
             business_hours=True),
        Spec("Daily", "secondary", 1, today - timedelta(weeks=39), 10, ShiftUnit.DAYS, 1),
        Spec("Eight hours (rule)", "secondary", 2, today - timedelta(weeks=9), 6,
             ShiftUnit.CUSTOM, 1, rule=RULE),
    ]  # fmt: skip
    with transaction.atomic():
        group = Group.objects.create(name=GROUP_NAME, description="Written by bench.schedule.")
        schedule = Schedule.objects.create(group=group, time_zone=ZONE)
        users = User.objects.bulk_create(
            User(
                username=f"sched-{n:03d}",
                email=f"sched-{n:03d}@example.com",
                full_name=f"Schedule Person {n:03d}",
                password="!bench",
            )
            for n in range(PARTICIPANTS * len(layers))
        )
        pool: dict[str, list] = {"primary": [], "secondary": []}
        for i, spec in enumerate(layers):
            rotation = Rotation.objects.create(
                schedule=schedule,
                name=spec.name,
                role=spec.role,
                layer=spec.layer,
                start_date=spec.start_date,
                handoff_time=clock(spec.handoff_hour),
                shift_unit=spec.unit,
                shift_length=spec.length,
                recurrence=recurrence.deserialize(spec.rule) if spec.rule else "",
            )
            people = users[i * PARTICIPANTS : (i + 1) * PARTICIPANTS]
            pool[spec.role].extend(people)
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=user, position=position)
                for position, user in enumerate(people)
            )
            if spec.business_hours:
                Restriction.objects.create(
                    rotation=rotation, weekdays="01234", start_time=clock(9), end_time=clock(17)
                )
        Membership.objects.bulk_create(
            Membership(
                group=group,
                user=user,
                is_primary=user in pool["primary"],
                is_secondary=user in pool["secondary"],
                position=position,
            )
            for position, user in enumerate(users)
        )
        overrides = []
        per_role = OVERRIDES // 2
        slot = timedelta(days=DAYS) / per_role
        quarter = timedelta(minutes=15)
        for role in ("primary", "secondary"):
            for i in range(per_role):
                hours = rng.randint(1, 12)
                room = int((slot - timedelta(hours=hours)) / quarter)
                begins = start + i * slot + rng.randint(0, room) * quarter
                user = rng.choice(users)
                replaces = None
                if i % 3 == 0:
                    replaces = rng.choice([u for u in pool[role] if u != user])
                overrides.append(
                    Override(
                        schedule=schedule,
                        role=role,
                        user=user,
                        replaces=replaces,
                        starts_at=begins,
                        ends_at=begins + timedelta(hours=hours),
                        note="bench",
                    )
                )
        Override.objects.bulk_create(overrides)
    return group.pk, schedule.pk


def timed(calls: list, budget: float = BUDGET_SECONDS) -> tuple[list[float], list, int]:
    """Run each zero-argument call; (durations in s, results, calls left out by the budget)."""
    durations: list[float] = []
    results: list = []
    spent = 0.0
    for call in calls:
        started = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - started
        durations.append(elapsed)
        results.append(result)
        spent += elapsed
        if spent > budget:
            break
    return durations, results, len(calls) - len(durations)


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 50) * 1000:.2f} / p99 {percentile(values, 99) * 1000:.2f} ms"


def cost(call, repeat: int) -> tuple[float, float, float]:
    """(queries per call, ms per call, share in the driver) over `repeat` calls."""
    from django.db import connection

    driver = DriverTime()
    with connection.execute_wrapper(driver):
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        elapsed = time.perf_counter() - started
    return driver.queries / repeat, elapsed / repeat * 1000, driver.total / elapsed


def measure(report: Report) -> None:
    from groups.models import Group
    from schedules import oncall
    from schedules.models import Schedule

    start = now().replace(microsecond=0)
    end = start + timedelta(days=DAYS)
    built = time.perf_counter()
    group_id, schedule_id = build(start)
    report.note(
        f"written in {time.perf_counter() - built:.2f} s: 5 layers x {PARTICIPANTS} participants "
        f"({PARTICIPANTS * 5} users), {OVERRIDES} overrides over {DAYS} days from "
        f"{start:%Y-%m-%d %H:%M} UTC, zone {ZONE}"
    )
    schedule = Schedule.objects.get(pk=schedule_id)
    rng = random.Random(SEED + 1)
    seconds_in_window = int((end - start).total_seconds())

    def instants(count: int) -> list[tuple[str, datetime]]:
        return [
            (
                rng.choice(oncall.ROLES),
                start + timedelta(seconds=rng.randrange(seconds_in_window)),
            )
            for _ in range(count)
        ]

    # (1) who_is_on_call
    timed([lambda r=r, a=a: oncall.who_is_on_call(schedule, r, a) for r, a in instants(WHO_WARMUP)])
    asked = instants(WHO_CALLS)
    durations, answers, left = timed(
        [lambda r=r, a=a: oncall.who_is_on_call(schedule, r, a) for r, a in asked]
    )
    who_p99 = percentile(durations, 99) * 1000
    report.row(
        f"who_is_on_call, {len(durations)} random instants and roles",
        ms(durations),
        f"p99 <= {WHO_TARGET_MS:g} ms",
        who_p99 <= WHO_TARGET_MS,
    )
    if left:
        report.note(f"who_is_on_call: {left} calls left out, over the {BUDGET_SECONDS:g} s budget")
    by_role: dict[str, list[float]] = {role: [] for role in oncall.ROLES}
    for (role, _), seconds in zip(asked, durations, strict=False):
        by_role[role].append(seconds)
    report.note(
        "who_is_on_call by role: "
        + "; ".join(f"{role} {ms(values)}" for role, values in by_role.items() if values)
    )

    # responders, as the engine asks it: a group read with the alert, the schedule from it.
    pairs = instants(RESPONDERS_CALLS)
    groups = [Group.objects.get(pk=group_id) for _ in pairs]
    calls = [
        lambda g=g, r=r, a=a: oncall.responders(g, r, a)
        for g, (r, a) in zip(groups, pairs, strict=True)
    ]
    responded, _, left = timed(calls)
    report.row(f"responders (engine path, fresh group), {len(responded)} calls", ms(responded))
    if left:
        report.note(f"responders: {left} calls left out, over the {BUDGET_SECONDS:g} s budget")

    # (2) final_schedule over the whole window
    for _ in range(FINAL_WARMUP):
        oncall.final_schedule(schedule, start, end)
    finals, results, left = timed(
        [lambda: oncall.final_schedule(schedule, start, end)] * FINAL_CALLS
    )
    final_p99 = percentile(finals, 99) * 1000
    shifts = results[0]
    report.row(
        f"final_schedule over {DAYS} days, {len(finals)} calls",
        ms(finals),
        f"p99 <= {FINAL_TARGET_MS:g} ms",
        final_p99 <= FINAL_TARGET_MS,
    )
    if left:
        report.note(f"final_schedule: {left} calls left out, over the {BUDGET_SECONDS:g} s budget")
    kinds = Counter(s.source for s in shifts)
    report.note(
        f"final_schedule returns {len(shifts)} shifts: "
        + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    )

    # Queries and the driver's share of each.
    sample_role, sample_at = asked[0]
    fresh = iter([Group.objects.get(pk=group_id) for _ in range(100)])
    for name, call, repeat in (
        ("who_is_on_call", lambda: oncall.who_is_on_call(schedule, sample_role, sample_at), 100),
        ("responders", lambda: oncall.responders(next(fresh), sample_role, sample_at), 100),
        ("final_schedule", lambda: oncall.final_schedule(schedule, start, end), 5),
    ):
        queries, per_call, share = cost(call, repeat)
        report.note(
            f"{name}: {queries:.0f} queries a call, {per_call:.2f} ms a call "
            f"with {share * 100:.0f}% of it in the database driver"
        )

    # Untimed: the instant view and the window view must agree.
    index: dict[str, tuple[list[datetime], list]] = {}
    for role in oncall.ROLES:
        own = [s for s in shifts if s.role == role]
        index[role] = ([s.start for s in own], own)
    disagree = 0
    for (role, at), user in zip(asked, answers, strict=False):
        starts, own = index[role]
        shift = own[bisect.bisect_right(starts, at) - 1]
        expected = shift.user.pk if shift.user is not None else None
        if (user.pk if user is not None else None) != expected:
            disagree += 1
    nobody = sum(1 for user in answers if user is None)
    report.row(
        "who_is_on_call agrees with final_schedule",
        f"{len(answers) - disagree} of {len(answers)} instants ({nobody} with nobody on call)",
        "all",
        disagree == 0,
    )


if __name__ == "__main__":
    main()
