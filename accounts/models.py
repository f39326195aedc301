"""Users, their platform roles and their contact methods."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class PlatformRole(models.TextChoices):
    """What a user may do across the whole product (after AlertOps)."""

    OWNER = "owner", "Owner"
    APP_ADMIN = "app_admin", "App Admin"
    INTEGRATIONS_ADMIN = "integrations_admin", "Integrations Admin"
    GROUP_ADMIN = "group_admin", "Group Admin"
    BASIC = "basic", "Basic (responder)"
    STAKEHOLDER = "stakeholder", "Stakeholder (receive-only)"


# Roles that may act on alerts (acknowledge, resolve). Stakeholders only read.
RESPONDER_ROLES = frozenset(PlatformRole) - {PlatformRole.STAKEHOLDER}


class User(AbstractUser):
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(
        "platform role", max_length=32, choices=PlatformRole.choices, default=PlatformRole.BASIC
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    class Meta:
        ordering = ["full_name", "username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    @property
    def can_respond(self) -> bool:
        return self.is_active and self.role in RESPONDER_ROLES


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice"


class ContactMethod(models.Model):
    """One way to reach a user: an email address, an SMS number or a voice number."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="contact_methods")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(
        max_length=254, help_text="An email address, or a phone number in E.164 form (+15551234)."
    )
    label = models.CharField(max_length=64, blank=True)
    position = models.PositiveIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "channel", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "address"], name="contact_method_unique_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.address}"


class Urgency(models.TextChoices):
    HIGH = "high", "High urgency"
    LOW = "low", "Low urgency"


class NotificationRule(models.Model):
    """ "N minutes after I am paged, notify me via contact method M." """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_rules")
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.CASCADE, related_name="notification_rules"
    )
    delay_minutes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["user", "urgency", "delay_minutes", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "urgency", "contact_method", "delay_minutes"],
                name="notification_rule_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delay_minutes} min: {self.contact_method} ({self.get_urgency_display()})"
