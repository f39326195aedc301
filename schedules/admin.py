from django.contrib import admin

from schedules.models import Override, Restriction, Rotation, RotationMember, Schedule, UserFeed


class RotationInline(admin.TabularInline):
    model = Rotation
    extra = 0
    fields = ["name", "role", "layer", "start_date", "handoff_time", "shift_unit", "shift_length"]
    show_change_link = True


class OverrideInline(admin.TabularInline):
    model = Override
    extra = 0
    fields = ["role", "user", "replaces", "starts_at", "ends_at", "note"]
    autocomplete_fields = ["user", "replaces"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["group", "time_zone", "updated_at"]
    search_fields = ["group__name"]
    readonly_fields = ["feed_token"]
    inlines = [RotationInline, OverrideInline]


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1
    fields = ["position", "user"]
    autocomplete_fields = ["user"]


class RestrictionInline(admin.TabularInline):
    model = Restriction
    extra = 0


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "role", "layer", "shift_unit", "shift_length"]
    list_filter = ["role", "shift_unit"]
    inlines = [RotationMemberInline, RestrictionInline]


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "role", "user", "replaces", "starts_at", "ends_at"]
    list_filter = ["role", "schedule"]
    autocomplete_fields = ["user", "replaces"]


@admin.register(UserFeed)
class UserFeedAdmin(admin.ModelAdmin):
    list_display = ["user"]
    readonly_fields = ["token"]
