from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ContactMethod, NotificationRule, User


class ContactMethodInline(admin.TabularInline):
    model = ContactMethod
    extra = 1
    fields = ["channel", "address", "label", "position", "verified_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "full_name", "email", "role", "time_zone", "is_active"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "full_name", "email"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("On call", {"fields": ("full_name", "role", "time_zone")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("On call", {"fields": ("full_name", "email", "role", "time_zone")}),
    )
    inlines = [ContactMethodInline]


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "address", "label", "verified_at"]
    list_filter = ["channel"]
    search_fields = ["address", "user__username", "user__full_name"]
    autocomplete_fields = ["user"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "urgency", "contact_method", "delay_minutes"]
    list_filter = ["urgency"]
    search_fields = ["user__username", "user__full_name", "contact_method__address"]
