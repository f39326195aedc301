"""Building schedules in code for the schedule tests, and reading them back.

Times in these tests are written the way people say them: `wall(zone, ...)`
is a local wall-clock time in a zone (an instant), `utc(...)` an instant in UTC.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import recurrence

from accounts.models import User
from groups.models import Group
from schedules import oncall
from schedules.models import (
    Override,
    Restriction,
    Rotation,
    RotationMember,
    Schedule,
    ShiftUnit,
)

PRIMARY = "primary"
SECONDARY = "secondary"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def wall(zone: str, *parts: int, fold: int = 0) -> datetime:
    """The instant the clocks of `zone` show this time (the first time, unless fold=1)."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def make_schedule(group: Group, zone: str = "UTC") -> Schedule:
    return Schedule.objects.create(group=group, time_zone=zone)


def add_rotation(
    schedule: Schedule,
    users: Sequence[User],
    *,
    role: str = PRIMARY,
    start: date = date(2026, 3, 2),
    handoff: time = time(9, 0),
    unit: str = ShiftUnit.WEEKS,
    length: int = 1,
    layer: int = 1,
    end: date | None = None,
    rule: str = "",
    windows: Iterable[tuple[str, time, time]] = (),
    name: str = "",
) -> Rotation:
    """A layer with `users` in that order (repeats allowed) and restriction `windows`."""
    rotation = Rotation.objects.create(
        schedule=schedule,
        name=name or f"{role} layer {layer}",
        role=role,
        layer=layer,
        start_date=start,
        handoff_time=handoff,
        shift_unit=unit,
        shift_length=length,
        end_date=end,
        **({"recurrence": recurrence.deserialize(rule)} if rule else {}),
    )
    for n, user in enumerate(users):
        RotationMember.objects.create(rotation=rotation, user=user, position=n)
    for weekdays, begin, finish in windows:
        Restriction.objects.create(
            rotation=rotation, weekdays=weekdays, start_time=begin, end_time=finish
        )
    return rotation


def add_override(
    schedule: Schedule,
    user: User,
    starts_at: datetime,
    ends_at: datetime,
    *,
    role: str = PRIMARY,
    replaces: User | None = None,
) -> Override:
    """An override stored directly (the overlap rules are tested through overrides.save)."""
    return Override.objects.create(
        schedule=schedule,
        role=role,
        user=user,
        replaces=replaces,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def who(schedule: Schedule, at: datetime, role: str = PRIMARY) -> str | None:
    """The username on call for `role` at `at`, or None."""
    user = oncall.who_is_on_call(schedule, role, at)
    return None if user is None else user.username


def shifts(
    schedule: Schedule, start: datetime, end: datetime, role: str = PRIMARY
) -> list[tuple[datetime, datetime, str | None, str]]:
    """(start, end, username or None, source) of the final schedule of `role`."""
    return [
        (s.start, s.end, s.user.username if s.user else None, s.source)
        for s in oncall.final_schedule(schedule, start, end, roles=(role,))
    ]
