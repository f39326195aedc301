from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from alertops.lib import clock
from integrations import setup
from integrations.models import ChangeEvent, InboundEvent, Integration, RoutingRule
from integrations.models.outbound import OutboundWebhook, WebhookDelivery
from integrations.outbound.forms import OutboundWebhookForm


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0
    fields = ["position", "field", "operator", "value", "group", "severity"]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "group", "enabled", "last_received_at", "webhook_url"]
    list_filter = ["kind", "enabled", "group"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "webhook_url", "last_received_at", "previous_key_expires_at"]
    inlines = [RoutingRuleInline]

    @admin.display(description="URL")
    def webhook_url(self, integration: Integration) -> str:
        if not integration.pk:
            return "Shown after saving."
        return format_html("<code>{}</code>", setup.url_of(integration, settings.PUBLIC_BASE_URL))


@admin.register(ChangeEvent)
class ChangeEventAdmin(admin.ModelAdmin):
    list_display = ["happened_at", "group", "summary", "source", "integration"]
    list_filter = ["group", "integration"]
    search_fields = ["summary", "source"]
    date_hierarchy = "happened_at"


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "integration", "endpoint", "outcome", "message", "alert"]
    list_filter = ["outcome", "integration"]
    search_fields = ["body", "message", "request_id"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundEvent._meta.fields]


@admin.register(OutboundWebhook)
class OutboundWebhookAdmin(admin.ModelAdmin):
    """The pages' form, so the admin refuses the same URLs (private networks) they do."""

    form = OutboundWebhookForm
    fields = ["name", "url", "secret", "events", "groups", "enabled", "created_by", "created_at"]
    list_display = ["name", "url", "enabled", "created_at", "created_by"]
    list_filter = ["enabled", "groups"]
    search_fields = ["name", "url"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
            obj.created_at = clock.now()
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log, read only: the sender owns every field."""

    list_display = ["created_at", "webhook", "event", "status", "attempts", "response_code"]
    list_filter = ["status", "event", "webhook"]
    search_fields = ["event_id", "error"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
