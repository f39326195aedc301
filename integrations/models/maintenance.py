"""Maintenance windows: times when an integration's or a group's alerts page nobody."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Repeat(models.TextChoices):
    ONCE = "once", "Once"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"
    MONTHLY = "monthly", "Every month"


class MaintenanceWindow(models.Model):
    """No pages for new alerts of `integration` or `group` while a window runs.

    The first occurrence starts at `starts_at`; a repeating window starts
    again at the same wall-clock time in `time_zone` every day, week or month
    (integrations/maintenance.py evaluates it there, so DST moves nothing).
    """

    reason = models.CharField(max_length=500)
    integration = models.ForeignKey(
        "integrations.Integration",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="maintenance_windows",
    )
    group = models.ForeignKey(
        "groups.Group",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="maintenance_windows",
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    starts_at = models.DateTimeField(help_text="The start of the first occurrence.")
    duration_minutes = models.PositiveIntegerField()
    repeat = models.CharField(max_length=8, choices=Repeat.choices, default=Repeat.ONCE)
    repeat_until = models.DateField(
        null=True, blank=True, help_text="The last day an occurrence may start; empty: no end."
    )
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="Ended early by hand: nothing of it runs after this."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(integration__isnull=True) ^ Q(group__isnull=True),
                name="maintenance_window_for_integration_or_group",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0), name="maintenance_window_has_length"
            ),
            models.CheckConstraint(
                condition=Q(repeat__in=Repeat.values), name="maintenance_window_repeat_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.scope_name})"

    @property
    def duration_text(self) -> str:
        hours, minutes = divmod(self.duration_minutes, 60)
        return " ".join(
            filter(None, [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""])
        )

    @property
    def scope_name(self) -> str:
        if self.integration_id:
            return f"integration {self.integration.name}"
        if self.group_id:
            return f"group {self.group.name}"
        return "nothing"
