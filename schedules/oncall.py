"""Who is on call: the questions the rest of the product asks about schedules.

`who_is_on_call(schedule, role, at)` answers for one instant, `final_schedule`
for a window (every instant of each role in exactly one shift, gaps marked).
Both read the schedule's layers and overrides and hand them to
schedules.timeline, which does the arithmetic in the schedule's zone.

`responders(group, role, at)` is what the escalation engine calls when a step
fires: the person on call for that role if the group has a schedule and
somebody is on, otherwise the members with the role in static order, with a
note saying why.
"""

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from accounts.models import User
from groups import roster
from groups.models import Group, Role
from schedules import timeline
from schedules.models import (
    Override,
    Restriction,
    Rotation,
    RotationMember,
    Schedule,
    ShiftUnit,
    weekdays_of,
)

ROLES = (Role.PRIMARY.value, Role.SECONDARY.value)
UNITS = {
    ShiftUnit.HOURS: timedelta(hours=1),
    ShiftUnit.DAYS: timedelta(days=1),
    ShiftUnit.WEEKS: timedelta(weeks=1),
}
# How far ahead `current` looks for the end of the shift holding an instant.
LOOKAHEAD = timedelta(days=42)
INSTANT = timedelta(microseconds=1)


class Shift(NamedTuple):
    """One stretch of the final schedule. `user` is None for a gap.

    A tuple, as timeline.Slot: a 90-day window of a busy schedule has hundreds.
    """

    role: str
    start: datetime
    end: datetime
    user: User | None
    source: str
    source_id: int | None = None
    source_name: str = ""
    replaced: User | None = None

    @property
    def is_gap(self) -> bool:
        return self.source == timeline.GAP

    @property
    def is_override(self) -> bool:
        return self.source == timeline.OVERRIDE

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def role_label(self) -> str:
        return Role(self.role).label


def compile_rotation(
    rotation: Rotation, users: list[int], windows: list[timeline.Window], zone: ZoneInfo
):
    """A rotation as plain data for schedules.timeline, in the wall clock of `zone`."""
    start = datetime.combine(rotation.start_date, rotation.handoff_time)
    end = datetime.combine(rotation.end_date, datetime.min.time()) if rotation.end_date else None
    step = rule = None
    if rotation.shift_unit == ShiftUnit.CUSTOM:
        if rotation.recurrence and rotation.recurrence.rrules:
            # django-recurrence keeps a rule's UNTIL, RDATE and EXDATE in UTC and
            # makes them naive in the active time zone; make that the schedule's,
            # not whichever zone the request (or none) has activated.
            with timezone.override(zone):
                rule = rotation.recurrence.to_dateutil_rruleset(dtstart=start)
        else:
            users = []  # a custom layer without a rule puts nobody on call
    else:
        step = UNITS[rotation.shift_unit] * rotation.shift_length
    return timeline.Layer(
        id=rotation.pk,
        role=rotation.role,
        layer=rotation.layer,
        start=start,
        end=end,
        users=users,
        step=step,
        rule=rule,
        windows=windows,
    )


# What each schedule compiles to, by schedule id. Reading a schedule's layers
# is three queries and, for a custom rule, walking it from its start; its
# overrides one more. The version (schedules.signals) says when that must be
# done again, and the creation time tells a new schedule from a deleted one
# that had its id. Overrides are kept from COVERS_KEPT_BEFORE before the
# compiling moment on; a question about earlier times reads the database.
COMPILED_KEPT = 512
COVERS_KEPT_BEFORE = timedelta(days=1)


@dataclass(frozen=True)
class Compiled:
    stamp: tuple[datetime, int]
    layers: list[timeline.Layer]
    covers_from: datetime
    covers: list[timeline.Cover]


_compiled: dict[int, Compiled] = {}
_compiled_lock = threading.Lock()


def compiled(schedule: Schedule) -> Compiled:
    """The schedule's layers and recent overrides as plain data, as of `schedule.version`."""
    stamp = (schedule.created_at, schedule.version)
    entry = _compiled.get(schedule.pk)
    if entry is None or entry.stamp != stamp:
        since = timezone.now() - COVERS_KEPT_BEFORE
        entry = Compiled(stamp, _compile(schedule), since, _read_covers(schedule, since))
        with _compiled_lock:
            if len(_compiled) >= COMPILED_KEPT:
                _compiled.clear()
            _compiled[schedule.pk] = entry
    return entry


def layers_of(schedule: Schedule, role: str | None = None) -> list[timeline.Layer]:
    return [layer for layer in compiled(schedule).layers if role is None or layer.role == role]


def _compile(schedule: Schedule) -> list[timeline.Layer]:
    rotations = list(Rotation.objects.filter(schedule=schedule).order_by("pk"))
    ids = [r.pk for r in rotations]
    users: dict[int, list[int]] = defaultdict(list)
    for rotation_id, user_id in (
        RotationMember.objects.filter(rotation_id__in=ids, user__is_active=True)
        .order_by("rotation_id", "position", "pk")
        .values_list("rotation_id", "user_id")
    ):
        users[rotation_id].append(user_id)
    windows: dict[int, list[timeline.Window]] = defaultdict(list)
    for rotation_id, days, start, end in (
        Restriction.objects.filter(rotation_id__in=ids)
        .order_by("pk")
        .values_list("rotation_id", "weekdays", "start_time", "end_time")
    ):
        windows[rotation_id].append(timeline.Window(weekdays_of(days), start, end))
    return [compile_rotation(r, users[r.pk], windows[r.pk], schedule.zone) for r in rotations]


def covers_of(
    schedule: Schedule, start: datetime, end: datetime, role: str | None = None
) -> list[timeline.Cover]:
    """Overrides of active users meeting [start, end)."""
    entry = compiled(schedule)
    if start >= entry.covers_from:
        return [
            c
            for c in entry.covers
            if c.end > start and c.start < end and (role is None or c.role == role)
        ]
    return [c for c in _read_covers(schedule, start, end) if role is None or c.role == role]


def _read_covers(
    schedule: Schedule, start: datetime, end: datetime | None = None
) -> list[timeline.Cover]:
    overrides = Override.objects.filter(schedule=schedule, ends_at__gt=start, user__is_active=True)
    if end is not None:
        overrides = overrides.filter(starts_at__lt=end)
    return [
        timeline.Cover(pk, role, user_id, starts_at, ends_at, replaces_id)
        for pk, role, user_id, starts_at, ends_at, replaces_id in overrides.order_by(
            "starts_at", "pk"
        ).values_list("pk", "role", "user_id", "starts_at", "ends_at", "replaces_id")
    ]


def who_is_on_call(schedule: Schedule, role: str, at: datetime) -> User | None:
    """The one person the schedule puts on call for `role` at instant `at`."""
    slot = timeline.on_call(
        layers_of(schedule, role),
        covers_of(schedule, at, at + INSTANT, role),
        role,
        at,
        schedule.zone,
    )
    if slot is None:
        return None
    return User.objects.filter(pk=slot.user).order_by().first()


def final_schedule(
    schedule: Schedule, start: datetime, end: datetime, roles: tuple[str, ...] = ROLES
) -> list[Shift]:
    """The resolved shifts of `roles` over [start, end), gaps included, by role then time."""
    layers = layers_of(schedule)
    covers = covers_of(schedule, start, end)
    slots = [
        slot
        for role in roles
        for slot in timeline.resolve(layers, covers, role, start, end, schedule.zone)
    ]
    user_ids = {s.user for s in slots} | {s.replaced for s in slots}
    users = User.objects.in_bulk([pk for pk in user_ids if pk is not None])
    names = {
        timeline.LAYER: dict(Rotation.objects.filter(schedule=schedule).values_list("pk", "name")),
        timeline.OVERRIDE: {},
    }
    return [
        Shift(
            role=s.role,
            start=s.start,
            end=s.end,
            user=users.get(s.user),
            source=s.source,
            source_id=s.source_id,
            source_name=names.get(s.source, {}).get(s.source_id, "override")
            if s.source != timeline.GAP
            else "",
            replaced=users.get(s.replaced),
        )
        for s in slots
    ]


def current(schedule: Schedule, at: datetime) -> dict[str, Shift]:
    """For each role, the shift holding `at` (with its true end, up to LOOKAHEAD away)."""
    found = {}
    for shift in final_schedule(schedule, at, at + LOOKAHEAD):
        found.setdefault(shift.role, shift)
    return found


def schedule_of(group: Group) -> Schedule | None:
    try:
        return group.schedule
    except ObjectDoesNotExist:
        return None


@dataclass(frozen=True)
class Responders:
    """Who to page for a role, and, when the schedule could not say, why not."""

    users: list[User]
    note: str = ""


def responders(group: Group, role: str, at: datetime) -> Responders:
    """The users to page for `role` in `group` when a step fires at instant `at`."""
    schedule = schedule_of(group) if role in ROLES else None
    if schedule is None:
        return Responders(roster.members_with_role(group, role))
    user = who_is_on_call(schedule, role, at)
    if user is not None:
        return Responders([user])
    static = roster.members_with_role(group, role)
    label = Role(role).label
    when = f"{timeline.local(at, schedule.zone):%a %d %b %H:%M} {schedule.time_zone}"
    if static:
        names = ", ".join(u.display_name for u in static)
        note = (
            f"Nobody is on call as {label} in {group.name}'s schedule at {when}; "
            f"paging the group's {label} members in static order instead: {names}."
        )
    else:
        note = (
            f"Nobody is on call as {label} in {group.name}'s schedule at {when}, "
            f"and no member of the group has the {label} role."
        )
    return Responders(static, note)


def summary(group: Group, at: datetime) -> list[dict]:
    """Primary, Secondary and Manager at `at`, as the engine would page them, for pages."""
    schedule = schedule_of(group)
    current_shifts = current(schedule, at) if schedule else {}
    rows = []
    for role in ROLES:
        shift = current_shifts.get(role)
        if shift is not None and shift.user is not None:
            rows.append({"role": shift.role_label, "users": [shift.user], "shift": shift})
        else:
            found = responders(group, role, at)
            rows.append(
                {
                    "role": Role(role).label,
                    "users": found.users,
                    "shift": shift,
                    "static": True,
                    "note": found.note,
                }
            )
    rows.append(
        {
            "role": Role.MANAGER.label,
            "users": roster.members_with_role(group, Role.MANAGER),
            "static": True,
        }
    )
    return rows
