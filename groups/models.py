"""Groups of users who share responsibility for a class of alerts."""

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """A member's role inside one group's escalation."""

    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    MANAGER = "manager", "Manager"


class Group(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="groups",
        help_text="Without one, the built-in default policy is followed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    is_primary = models.BooleanField("Primary", default=False)
    is_secondary = models.BooleanField("Secondary", default=False)
    is_manager = models.BooleanField("Manager", default=False)
    position = models.PositiveIntegerField(
        default=0, help_text="Static order, used when the group has no schedule."
    )

    class Meta:
        ordering = ["group", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"

    @property
    def roles(self) -> list[str]:
        return [
            label
            for flag, label in (
                (self.is_primary, Role.PRIMARY.label),
                (self.is_secondary, Role.SECONDARY.label),
                (self.is_manager, Role.MANAGER.label),
            )
            if flag
        ]
