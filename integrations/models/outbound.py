"""Outbound webhooks: alert events posted to other systems, and each delivery."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from alertops.lib.keys import new_key


class WebhookEvent(models.TextChoices):
    CREATED = "created", "Alert created"
    ACKNOWLEDGED = "acknowledged", "Alert acknowledged"
    ASSIGNED = "assigned", "Alert assigned"
    ESCALATED = "escalated", "Alert escalated"
    RESOLVED = "resolved", "Alert resolved"
    NOTE = "note", "Note added"


class OutboundWebhook(models.Model):
    """A URL told about alert events, filtered by group and event."""

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=2000)
    secret = models.CharField(
        max_length=64,
        default=new_key,
        help_text="Signs each delivery: HMAC-SHA256 over the timestamp, a dot and the body.",
    )
    events = models.JSONField(
        default=list, blank=True, help_text="Event names to send; empty sends every event."
    )
    groups = models.ManyToManyField(
        "groups.Group",
        blank=True,
        related_name="outbound_webhooks",
        help_text="Only alerts of these groups; none chosen sends alerts of every group.",
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for one webhook, tried until it is delivered or the retries run out.

    Written in the same transaction as the alert event it tells of, so an
    event is never lost; the q cluster sends it (integrations/outbound/).
    """

    webhook = models.ForeignKey(
        OutboundWebhook, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=16, help_text="A WebhookEvent, or 'test'.")
    event_id = models.CharField(
        max_length=36, unique=True, help_text="Sent in the body, so receivers can drop repeats."
    )
    alert = models.ForeignKey(
        "escalation.Alert", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.JSONField(
        default=list,
        blank=True,
        help_text="One entry per attempt: at, response_code, duration_ms, error.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook} ({self.status})"
