"""Escalation policies, alerts with their timeline, and notifications.

The invariants that must never break live here as database constraints: one
open alert per integration and dedup key, one Notification per idempotency key,
and only known states.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Channel


class StepTarget(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    MANAGER = "manager", "Manager"
    ALL_MEMBERS = "all", "All members of the group"
    USERS = "users", "Named users"


class NotificationType(models.TextChoices):
    """Whose channel sequence is used when a step notifies someone (after AlertOps)."""

    POLICY = "policy", "Policy: the step's own channels"
    USER = "user", "User: each person's notification rules"


def default_channels() -> list[dict]:
    """The step's channel sequence: each channel with its delay after the step fires."""
    return [
        {"channel": Channel.EMAIL, "delay_minutes": 0},
        {"channel": Channel.SMS, "delay_minutes": 0},
    ]


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    repeat_count = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times the whole policy runs when nobody acknowledges."
    )
    notification_type = models.CharField(
        max_length=16, choices=NotificationType.choices, default=NotificationType.POLICY
    )
    low_urgency_email_only = models.BooleanField(
        default=True,
        help_text="Low-urgency alerts (warning, info) are sent by email only "
        "(with the Policy type; the User type follows each person's low-urgency rules).",
    )
    ack_timeout_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Re-open an acknowledged alert that is not resolved within this many minutes "
        "and escalate it again. Empty: never.",
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Raised on every change of the policy or its steps."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(repeat_count__lte=10), name="policy_repeat_count_at_most_10"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.pk and not kwargs.get("force_insert"):
            self.version += 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)

    def touch(self) -> None:
        """Raise the version after a change to the steps."""
        EscalationPolicy.objects.filter(pk=self.pk).update(version=F("version") + 1)


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    target = models.CharField(max_length=16, choices=StepTarget.choices)
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="The people to notify when the target is Named users, in this order.",
    )
    channels = models.JSONField(
        default=default_channels,
        help_text='With the Policy type: e.g. [{"channel": "sms", "delay_minutes": 0}, '
        '{"channel": "voice", "delay_minutes": 2}].',
    )
    retries = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times each target is notified if nobody acknowledges."
    )
    retry_interval_minutes = models.PositiveIntegerField(default=5)
    member_wait_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Minutes between notifying one target and the next; 0 notifies all at once.",
    )
    wait_minutes = models.PositiveIntegerField(
        default=5, help_text="Minutes after this step's last notification before the next step."
    )

    class Meta:
        ordering = ["policy", "position", "id"]

    def __str__(self) -> str:
        return f"{self.policy}: step {self.position + 1} ({self.get_target_display()})"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


ACTIVE_STATUSES = [AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED]


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class Alert(models.Model):
    group = models.ForeignKey("groups.Group", on_delete=models.PROTECT, related_name="alerts")
    integration = models.ForeignKey(
        "integrations.Integration",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
    )
    summary = models.CharField(max_length=1024)
    details = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.ERROR)
    source = models.CharField(max_length=255, blank=True)
    dedup_key = models.CharField(max_length=255)
    labels = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)

    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    duplicate_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_index=True)
    last_event_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_alerts",
        help_text="Once assigned, every step notifies the assignee until they acknowledge.",
    )

    # Escalation state, owned by the engine. The policy is frozen here when the
    # escalation starts, so editing the policy never disturbs this alert.
    policy_snapshot = models.JSONField(default=dict, blank=True)
    round = models.PositiveIntegerField(default=0)
    step_index = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=0)
    next_action_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # An alert that arrived during a maintenance window pages nobody until the
    # window ends: its first step is due then (integrations/maintenance.py).
    held_until = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=600, blank=True)
    maintenance_window = models.ForeignKey(
        "integrations.MaintenanceWindow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        help_text="The window the alert arrived in.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_alert_per_dedup_key",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AlertStatus.values), name="alert_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status=AlertStatus.RESOLVED) | Q(next_action_at__isnull=True),
                name="resolved_alert_has_no_next_action",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.summary}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    DUPLICATE = "duplicate", "Duplicate received"
    ESCALATED = "escalated", "Escalated"
    NOTIFIED = "notified", "Notified"
    FAILED = "failed", "Notification failed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ASSIGNED = "assigned", "Assigned"
    RESOLVED = "resolved", "Resolved"
    NOTE = "note", "Note"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class AlertEvent(models.Model):
    """One entry on an alert's timeline."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    message = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=120,
        blank=True,
        help_text="Who acted when it was not a user: a tool, the engine.",
    )
    notification = models.ForeignKey(
        "Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["alert", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"

    @property
    def actor_name(self) -> str:
        if self.actor_id:
            return self.actor.display_name
        return self.actor_label or "AlertOps"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Notification(models.Model):
    """One attempt to reach one user over one channel for one alert."""

    alert = models.ForeignKey(
        Alert,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        help_text="Empty for a test page a user sent themselves.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=254, help_text="The address or number used.")
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_ref = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True, help_text="The text as the recipient saw it.")
    # Where in the escalation this notification came from.
    round = models.PositiveIntegerField(default=0)
    step_index = models.PositiveIntegerField(default=0)
    step_attempt = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()
    bundled_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bundled",
        help_text="Held back by a rate limit and sent as part of that message.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["alert", "status"]),
            models.Index(fields=["channel", "recipient", "sent_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values),
                name="notification_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status=NotificationStatus.SENDING) | Q(claimed_at__isnull=False),
                name="sending_notification_is_claimed",
            ),
        ]

    def __str__(self) -> str:
        about = f"alert #{self.alert_id}" if self.alert_id else "a test page"
        return f"{self.get_channel_display()} to {self.recipient} for {about}"


class EngineLease(models.Model):
    """Held by the one ticker that runs the engine; taken over when it expires."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    acquired_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at:%H:%M:%S}"
