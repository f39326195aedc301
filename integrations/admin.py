from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from integrations import setup
from integrations.models import ChangeEvent, InboundEvent, Integration, RoutingRule


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
