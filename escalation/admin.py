from django.contrib import admin

from escalation.models import (
    Alert,
    AlertEvent,
    EngineLease,
    EscalationPolicy,
    EscalationStep,
    Notification,
)


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    fields = [
        "position",
        "target",
        "users",
        "channels",
        "retries",
        "retry_interval_minutes",
        "member_wait_minutes",
        "wait_minutes",
    ]
    filter_horizontal = ["users"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "notification_type", "repeat_count", "version", "updated_at"]
    list_filter = ["notification_type"]
    search_fields = ["name", "description"]
    readonly_fields = ["version"]
    inlines = [EscalationStepInline]


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    fields = ["at", "kind", "message", "actor", "actor_label"]
    readonly_fields = fields
    can_delete = False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "summary",
        "group",
        "status",
        "severity",
        "duplicate_count",
        "created_at",
        "next_action_at",
    ]
    list_filter = ["status", "severity", "group", "integration"]
    search_fields = ["summary", "dedup_key", "source"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "policy_snapshot",
        "round",
        "step_index",
        "attempt",
        "next_action_at",
        "duplicate_count",
    ]
    inlines = [AlertEventInline]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "alert", "user", "channel", "recipient", "status", "due_at", "attempts"]
    list_filter = ["status", "channel"]
    search_fields = ["recipient", "provider_ref", "idempotency_key", "alert__summary"]
    readonly_fields = ["idempotency_key", "claim_token", "claimed_at", "provider_ref", "error"]


@admin.register(EngineLease)
class EngineLeaseAdmin(admin.ModelAdmin):
    list_display = ["name", "holder", "acquired_at", "expires_at"]
