from django.contrib import admin

from groups.models import Group, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ["user", "is_primary", "is_secondary", "is_manager", "position"]
    autocomplete_fields = ["user"]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "escalation_policy", "member_count", "created_at"]
    list_filter = ["escalation_policy"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, group: Group) -> int:
        return group.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["group", "user", "is_primary", "is_secondary", "is_manager", "position"]
    list_filter = ["group", "is_primary", "is_secondary", "is_manager"]
    search_fields = ["group__name", "user__username", "user__full_name"]
