"""The dashboard: active alerts, one alert with its timeline, and the Outbox."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from alertops.lib import clock
from escalation import actions
from escalation import outbox as outbox_service
from escalation.models import ACTIVE_STATUSES, Alert, AlertEvent, Notification
from groups.models import Group
from schedules import oncall


def _active_alerts():
    last_event = AlertEvent.objects.filter(alert=OuterRef("pk")).order_by("-at", "-id")
    return (
        Alert.objects.filter(status__in=ACTIVE_STATUSES)
        .select_related("group")
        .annotate(last_action=Subquery(last_event.values("message")[:1]))
        .order_by("status", "-created_at")
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    recent = Alert.objects.filter(status="resolved").select_related("group")
    now = clock.now()
    on_call_groups = [
        {"group": group, "rows": oncall.summary(group, now)}
        for group in Group.objects.order_by("name")
    ]
    return render(
        request,
        "escalation/home.html",
        {
            "alerts": _active_alerts(),
            "recent": recent.order_by("-resolved_at")[:10],
            "on_call_groups": on_call_groups,
        },
    )


@login_required
@require_GET
def alert_rows(request: HttpRequest) -> HttpResponse:
    """The active-alert rows alone, polled by the dashboard to stay current."""
    return render(request, "escalation/_alert_rows.html", {"alerts": _active_alerts()})


# Changes this long before an alert opened are shown with it: a deploy that
# breaks something comes before the alert it causes.
CHANGES_BEFORE = timedelta(hours=1)


def changes_around(alert: Alert, now) -> list:
    """The group's change events from an hour before the alert opened until it was resolved."""
    until = alert.resolved_at or now
    return list(
        alert.group.changes.filter(
            happened_at__gte=alert.created_at - CHANGES_BEFORE, happened_at__lte=until
        ).order_by("happened_at", "id")[:50]
    )


@login_required
@require_GET
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.select_related("group", "integration"), pk=alert_id)
    return render(
        request,
        "escalation/alert_detail.html",
        {
            "alert": alert,
            "changes": changes_around(alert, clock.now()),
            "events": alert.events.select_related("actor"),
            "notifications": alert.notifications.select_related("user").order_by("created_at"),
            "can_act": request.user.can_respond,
            "assignable": actions.assignable_users(alert),
        },
    )


@login_required
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    if action not in actions.NAMES:
        return HttpResponse(f"Unknown action {action!r}.", status=404)
    if not request.user.can_respond:
        raise PermissionDenied("Stakeholders can view alerts but not act on them.")
    alert = get_object_or_404(Alert.objects.select_related("group"), pk=alert_id)
    try:
        outcome = actions.perform(
            alert, action, request.POST, request.user, "the dashboard", clock.now()
        )
    except actions.ActionError as error:
        return HttpResponse(str(error), status=400)
    (messages.success if outcome.done else messages.info)(
        request, f"Alert #{alert.pk}: {outcome.message}"
    )
    return redirect("alert-detail", alert_id=alert.pk)


@login_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """Every message, as the recipient would see it."""
    rows = Notification.objects.select_related("alert", "alert__group", "user")
    channel = request.GET.get("channel", "")
    if channel:
        rows = rows.filter(channel=channel)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    entries = [outbox_service.entry(n) for n in page.object_list]
    return render(
        request, "escalation/outbox.html", {"page": page, "entries": entries, "channel": channel}
    )
