from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from integrations.models import InboundEvent, Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "group", "enabled", "last_received_at", "webhook_url"]
    list_filter = ["kind", "enabled", "group"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "webhook_url", "last_received_at"]

    @admin.display(description="webhook URL")
    def webhook_url(self, integration: Integration) -> str:
        if not integration.pk:
            return "Shown after saving."
        return format_html("<code>{}{}</code>", settings.PUBLIC_BASE_URL, integration.url_path)


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "integration", "outcome", "message", "alert", "body_size"]
    list_filter = ["outcome", "integration"]
    search_fields = ["body", "message"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundEvent._meta.fields]
