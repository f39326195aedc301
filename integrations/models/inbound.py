"""Inbound integrations, their routing rules, change events and the inbound log."""

from django.conf import settings
from django.db import models

from alertops.lib.keys import new_key

DEFAULT_RATE_LIMIT_PER_MINUTE = 600
GRAFANA_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    OPSGENIE = "opsgenie", "Opsgenie Alert API"
    WEBHOOK = "webhook", "Generic JSON webhook"
    HEARTBEAT = "heartbeat", "Heartbeat"
    EMAIL = "email", "Inbound email"


class Integration(models.Model):
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=IntegrationKind.choices)
    key = models.CharField(max_length=64, unique=True, default=new_key, editable=False)
    previous_key = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        editable=False,
        help_text="The key before the last rotation; it works until previous_key_expires_at.",
    )
    previous_key_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    group = models.ForeignKey(
        "groups.Group",
        on_delete=models.PROTECT,
        related_name="integrations",
        help_text="The group alerts go to when no routing rule matches.",
    )
    enabled = models.BooleanField(
        default=True, help_text="A disabled integration answers 404 and opens no alerts."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=DEFAULT_RATE_LIMIT_PER_MINUTE,
        help_text="Requests accepted per minute; beyond it the sender gets 429 and Retry-After.",
    )
    # Grafana: an optional HMAC-SHA256 signature over the body.
    signing_secret = models.CharField(
        max_length=255,
        blank=True,
        help_text="Grafana: the HMAC secret of the contact point; empty means unsigned.",
    )
    signature_header = models.CharField(
        max_length=100, blank=True, default=GRAFANA_SIGNATURE_HEADER
    )
    timestamp_header = models.CharField(
        max_length=100,
        blank=True,
        help_text="Grafana: the timestamp header, when the contact point signs "
        "'timestamp:body' rather than the body alone.",
    )
    # Heartbeat: a ping is expected every `heartbeat_minutes`; after that and
    # the grace, an alert opens for the group (integrations/heartbeats.py).
    heartbeat_minutes = models.PositiveIntegerField("expect a ping every (minutes)", default=5)
    heartbeat_grace_minutes = models.PositiveIntegerField(
        "grace (minutes)", default=1, help_text="How late a ping may be before the alert opens."
    )
    # Generic webhook: JMESPath expressions, by target field (see parsers/mapped.py).
    mapping = models.JSONField(default=dict, blank=True)
    # Email: keywords, the dedup key's markers and the filters (see integrations/email/).
    email_rules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    # Raised whenever a routing rule changes, so each process may keep the
    # rules it read until then (integrations/routing.py).
    rules_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def url_path(self) -> str:
        return f"/in/{self.key}/"

    @property
    def email_address(self) -> str:
        return f"{self.key}@{settings.INBOUND_EMAIL_DOMAIN}"


class MatchOperator(models.TextChoices):
    EQUALS = "equals", "equals"
    MATCHES = "matches", "matches the regular expression"


class RoutingRule(models.Model):
    """When `field` of an event equals or matches `value`, send it to `group`.

    Rules are tried in position order; the first that matches wins. `field` is
    a dotted path into the normalized event: summary, source, severity,
    dedup_key, labels.<name> or details.<name>[.<name>...].
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    field = models.CharField(max_length=200)
    operator = models.CharField(
        max_length=16, choices=MatchOperator.choices, default=MatchOperator.EQUALS
    )
    value = models.CharField(max_length=500)
    group = models.ForeignKey(
        "groups.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty keeps the integration's group.",
    )
    severity = models.CharField(
        "priority",
        max_length=16,
        blank=True,
        choices=[
            ("critical", "Critical"),
            ("error", "Error"),
            ("warning", "Warning"),
            ("info", "Info"),
        ],
        help_text="Empty keeps the priority the event carried.",
    )

    class Meta:
        ordering = ["integration", "position", "id"]

    def __str__(self) -> str:
        return (
            f"Rule {self.position + 1}: {self.field} {self.get_operator_display()} {self.value!r}"
        )


class ChangeEvent(models.Model):
    """A change (a deploy, a config push) reported by a tool: kept and shown, pages nobody."""

    integration = models.ForeignKey(
        Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="changes")
    happened_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField()
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-happened_at", "-id"]
        indexes = [models.Index(fields=["group", "happened_at"])]

    def __str__(self) -> str:
        return f"{self.happened_at:%Y-%m-%d %H:%M} {self.summary}"


class Outcome(models.TextChoices):
    CREATED = "created", "Created"
    DUPLICATE = "duplicate", "Appended as duplicate"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    NOTED = "noted", "Note added"
    CHANGE = "change", "Change recorded"
    PING = "ping", "Heartbeat ping"
    IGNORED = "ignored", "Ignored"
    SUPPRESSED = "suppressed", "Suppressed"
    REJECTED = "rejected", "Rejected"


class InboundEvent(models.Model):
    """One request received by an integration, with what became of it."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="inbound_events"
    )
    received_at = models.DateTimeField(db_index=True)
    endpoint = models.CharField(
        max_length=64, blank=True, help_text="The URL the request came to, without its key."
    )
    request_id = models.CharField(
        max_length=36, blank=True, db_index=True, help_text="Opsgenie's requestId."
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
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
        indexes = [models.Index(fields=["integration", "received_at"])]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"
