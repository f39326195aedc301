"""Inbound integrations and the inbound log."""

from django.db import models

from alertops.lib.keys import new_key


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    WEBHOOK = "webhook", "Generic JSON webhook"


class Integration(models.Model):
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=IntegrationKind.choices)
    key = models.CharField(max_length=64, unique=True, default=new_key, editable=False)
    group = models.ForeignKey(
        "groups.Group",
        on_delete=models.PROTECT,
        related_name="integrations",
        help_text="The group that alerts from this integration are routed to.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def url_path(self) -> str:
        return f"/in/{self.key}/"


class Outcome(models.TextChoices):
    CREATED = "created", "Created"
    DUPLICATE = "duplicate", "Appended as duplicate"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    REJECTED = "rejected", "Rejected"


class InboundEvent(models.Model):
    """One request received by an integration, with what became of it."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="inbound_events"
    )
    received_at = models.DateTimeField(db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.TextField(blank=True)
    results = models.JSONField(
        default=list, blank=True, help_text="One entry per alert the request touched."
    )
    alert = models.ForeignKey(
        "escalation.Alert",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_events",
    )

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"
