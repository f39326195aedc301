"""Overrides: one person takes a role for a while. The rules live here.

Two overrides for one role of one schedule may not overlap: the second is
refused with a message naming the first. The check and the insert run under
a lock on the schedule row (on PostgreSQL; SQLite serialises writers), so two
people taking the same shift at once cannot both win.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from groups.models import Role
from schedules.models import Override, Schedule

MAX_LENGTH = timedelta(days=90)


def _when(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%a %d %b %H:%M}"


def names(person: User, user_id: int | None, replaces_id: int | None) -> bool:
    """Whether `person` is the one taking the role or the one being replaced.

    A responder may arrange only such overrides; managers may arrange any.
    """
    return person.pk in {user_id, replaces_id}


def clashes(
    schedule: Schedule, role: str, start: datetime, end: datetime, exclude: int | None = None
) -> list[Override]:
    # An inactive person's override is never followed (schedules.oncall), so it
    # does not stand in the way of a new one.
    found = Override.objects.filter(
        schedule=schedule, role=role, starts_at__lt=end, ends_at__gt=start, user__is_active=True
    ).select_related("user")
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return list(found.order_by("starts_at"))


def check(
    schedule: Schedule,
    role: str,
    user: User,
    start: datetime,
    end: datetime,
    replaces: User | None = None,
    exclude: int | None = None,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> None:
    """Raise ValidationError, in words, if this override may not be made.

    With `now` (the pages pass it), an override that is already over is
    refused: it would page nobody and only rewrite the record of who was on.
    """
    zone = zone or schedule.zone
    if end <= start:
        raise ValidationError("The override must end after it starts.")
    if end - start > MAX_LENGTH:
        raise ValidationError(
            f"An override can last at most {MAX_LENGTH.days} days; change the layers for "
            "anything longer."
        )
    if now is not None and end <= now:
        raise ValidationError(
            f"That time is over (it ended {_when(end, zone)}); overrides are for now or later."
        )
    if replaces is not None and replaces.pk == user.pk:
        raise ValidationError(f"{user.display_name} cannot stand in for themselves.")
    if not user.is_active:
        raise ValidationError(f"{user.display_name} is inactive and can never be paged.")
    for other in clashes(schedule, role, start, end, exclude):
        raise ValidationError(
            f"{other.user.display_name} already overrides {Role(role).label} from "
            f"{_when(other.starts_at, zone)} to {_when(other.ends_at, zone)} ({zone.key}); "
            "overrides for one role may not overlap. Edit or delete that one first, "
            "or choose times around it."
        )


def save(override: Override, zone: ZoneInfo | None = None, now: datetime | None = None) -> Override:
    """Check and store `override` (new or edited) as one step."""
    with transaction.atomic():
        Schedule.objects.select_for_update().filter(pk=override.schedule_id).first()
        check(
            override.schedule,
            override.role,
            override.user,
            override.starts_at,
            override.ends_at,
            override.replaces,
            exclude=override.pk,
            zone=zone,
            now=now,
        )
        override.save()
    return override
