"""Groups in the dashboard: the list, and one group's page.

These views live in escalation, not groups, because the group page shows the
group's open alerts and its dry run (imports flow integrations -> escalation
-> schedules -> groups -> accounts). Members are configured in the admin.
"""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from alertops.lib import clock
from escalation import policies as policy_service
from escalation.models import ACTIVE_STATUSES, Alert
from escalation.views import dry_run
from groups.models import Group, Membership
from schedules import oncall

RECENT_CHANGES = 10


@login_required
@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    members = Membership.objects.select_related("user").order_by("position", "id")
    groups = (
        Group.objects.select_related("escalation_policy")
        .prefetch_related(Prefetch("memberships", queryset=members))
        .annotate(open_alerts=Count("alerts", filter=Q(alerts__status__in=ACTIVE_STATUSES)))
        .order_by("name")
    )
    return render(
        request,
        "groups/group_list.html",
        {"groups": groups, "default_name": policy_service.DEFAULT_POLICY_NAME},
    )


@login_required
@require_GET
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(Group.objects.select_related("escalation_policy"), pk=group_id)
    alerts = (
        Alert.objects.filter(group=group, status__in=ACTIVE_STATUSES)
        .select_related("assigned_to")
        .order_by("status", "-created_at")
    )
    return render(
        request,
        "groups/group_detail.html",
        {
            "group": group,
            "memberships": group.memberships.select_related("user").order_by("position", "id"),
            "alerts": alerts,
            "changes": group.changes.select_related("integration")[:RECENT_CHANGES],
            "on_call": oncall.summary(group, clock.now()),
            "schedule": oncall.schedule_of(group),
            "default_name": policy_service.DEFAULT_POLICY_NAME,
            **dry_run.context(request, group=group),
        },
    )
