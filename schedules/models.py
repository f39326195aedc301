"""Schedules: who of a group is on call, as rotation layers plus overrides.

A schedule belongs to one group and keeps its own IANA time zone. Every
local date and time here (a layer's start and handoff, a restriction's
window) is wall-clock time in that zone, stored without an offset and turned
into instants only when evaluated (schedules.timeline), so a handoff at
"Monday 09:00" stays at 09:00 across daylight-saving changes. Overrides are
instants (UTC), because "Sam covers tonight 22:00-06:00" names moments.
"""

import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from recurrence.fields import RecurrenceField

from groups.models import Role


def weekdays_of(text: str) -> frozenset[int]:
    """The weekdays a restriction's `weekdays` string names: "01234" -> Monday to Friday."""
    return frozenset(int(d) for d in text if d in "0123456")


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


def validate_zone(name: str) -> None:
    if name not in available_timezones():
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                f"{name!r} is not a known IANA time zone; use a name like Europe/Berlin, "
                "America/New_York or UTC."
            ) from exc


class ScheduleRole(models.TextChoices):
    """The roles a schedule decides; Managers always come from the membership."""

    PRIMARY = Role.PRIMARY.value, Role.PRIMARY.label
    SECONDARY = Role.SECONDARY.value, Role.SECONDARY.label


class Schedule(models.Model):
    group = models.OneToOneField("groups.Group", on_delete=models.CASCADE, related_name="schedule")
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_zone],
        help_text="Handoffs and restrictions are wall-clock times in this zone.",
    )
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Raised by every change to the layers; keys the compiled layers in memory.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group__name"]

    def __str__(self) -> str:
        return f"Schedule of {self.group}"

    def save(self, *args, **kwargs) -> None:
        # `version` moves only by the database's own increment (schedules.signals):
        # a form or the admin saving a copy read earlier must not set it back.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "version"
            ]
        super().save(*args, **kwargs)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class ShiftUnit(models.TextChoices):
    HOURS = "hours", "Hours"
    DAYS = "days", "Days"
    WEEKS = "weeks", "Weeks"
    CUSTOM = "custom", "Custom recurrence rule"


class Rotation(models.Model):
    """One layer: participants take turns in a role, one shift each."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=16, choices=ScheduleRole.choices)
    layer = models.PositiveIntegerField(
        default=1, help_text="Where layers for one role overlap, the higher layer wins."
    )
    start_date = models.DateField(help_text="The first shift starts on this date.")
    handoff_time = models.TimeField(help_text="Shifts change hands at this time of day.")
    shift_unit = models.CharField(max_length=8, choices=ShiftUnit.choices, default=ShiftUnit.WEEKS)
    shift_length = models.PositiveIntegerField(
        default=1, help_text="How many hours, days or weeks one shift lasts."
    )
    recurrence = RecurrenceField(
        blank=True,
        help_text="For a custom rotation: each occurrence of this rule starts the next shift.",
    )
    end_date = models.DateField(
        null=True, blank=True, help_text="Optional: the layer stops at midnight starting this date."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "layer", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(shift_length__gte=1), name="rotation_shift_length_positive"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="rotation_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()}, layer {self.layer})"


class RotationMember(models.Model):
    """A participant's place in a layer's order; one user may hold several places."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rotation_places"
    )
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "position"], name="rotation_member_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.position} in {self.rotation}"


class Restriction(models.Model):
    """A window the layer is active in, on the given weekdays (its start day).

    An end at or before the start runs past midnight ("nights" 18:00-09:00);
    start equal to end is the whole day. A layer with restrictions covers only
    their union; the shift order still runs by the clock, so a restricted
    layer's shifts are shortened, never reassigned.
    """

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="restrictions")
    weekdays = models.CharField(
        max_length=7, default="0123456", help_text="Days the window starts on: 0 Monday … 6 Sunday."
    )
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.weekdays} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    @property
    def days(self) -> frozenset[int]:
        return weekdays_of(self.weekdays)


class Override(models.Model):
    """A user takes a role for a window, optionally only in place of a named user."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    role = models.CharField(max_length=16, choices=ScheduleRole.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="overrides_taken"
    )
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="overrides_given",
        help_text="Optional: the override applies only while this person would be on call.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["schedule", "role", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="override_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()} {self.starts_at:%Y-%m-%d %H:%M}"


class UserFeed(models.Model):
    """The secret address of one person's "my shifts" calendar feed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shift_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)

    def __str__(self) -> str:
        return f"Shift feed of {self.user}"
