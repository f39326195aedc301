"""A group's schedule page: who is on call now, the week or month, layers, overrides.

Times are shown in the viewer's time zone with the schedule's zone named;
the calendar is the final schedule (schedules.oncall), so it is exactly what
the escalation engine will page.
"""

from datetime import date, timedelta
from zoneinfo import available_timezones

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import can_manage_schedules, forbidden
from accounts.timezones import zone_of
from alertops.lib import clock
from groups.models import Group
from schedules import calendar, ical, oncall, report
from schedules.forms import ScheduleForm
from schedules.models import Override, Rotation, Schedule, ShiftUnit
from schedules.views.access import may_change, override_scope, refusal_for_layers

GAP_WARNING_DAYS = 14
# How many gaps the warning lists before it says "and N more".
GAPS_LISTED = 10


def describe_rotation(rotation: Rotation) -> str:
    """A layer's rhythm in words: "shifts of 1 week, first handoff Mon 02 Mar 2026 09:00"."""
    if rotation.shift_unit == ShiftUnit.CUSTOM:
        rhythm = "a new shift at every occurrence of its custom rule"
    else:
        unit = ShiftUnit(rotation.shift_unit).label.lower()
        if rotation.shift_length == 1:
            unit = unit.rstrip("s")
        rhythm = f"shifts of {rotation.shift_length} {unit}"
    start = f"{rotation.start_date:%a %d %b %Y} {rotation.handoff_time:%H:%M}"
    text = f"{rhythm}, first handoff {start}"
    if rotation.end_date:
        text += f", until {rotation.end_date:%d %b %Y}"
    windows = [
        f"{days_in_words(r.days)} {r.start_time:%H:%M} to {r.end_time:%H:%M}"
        for r in rotation.restrictions.all()
    ]
    if windows:
        text += "; only " + ", ".join(windows)
    return text


DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def days_in_words(weekdays: frozenset[int]) -> str:
    days = sorted(weekdays)
    if days == list(range(7)):
        return "every day"
    if days == list(range(5)):
        return "weekdays"
    if days == [5, 6]:
        return "weekends"
    return ", ".join(DAY_NAMES[d] for d in days)


def _anchor(request: HttpRequest, today: date) -> date:
    try:
        return date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return today


@login_required
@require_GET
def schedule_page(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=group_id)
    schedule = oncall.schedule_of(group)
    zone = zone_of(request.user)
    now = clock.now()
    can_manage = can_manage_schedules(request.user)
    context = {
        "group": group,
        "schedule": schedule,
        "zone_name": zone.key,
        "can_manage": can_manage,
        "on_call": oncall.summary(group, now),
    }
    if schedule is None:
        context["form"] = ScheduleForm(initial={"time_zone": request.user.time_zone or "UTC"})
        context["zones"] = _zones()
        return render(request, "schedules/schedule.html", context)

    today = now.astimezone(zone).date()
    anchor = _anchor(request, today)
    view = "month" if request.GET.get("view") == "month" else "week"
    if view == "month":
        first, count, start, end = calendar.month_window(anchor, zone)
        previous = (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
        following = (anchor.replace(day=1) + timedelta(days=32)).replace(day=1)
        month = anchor.month
    else:
        first, start, end = calendar.week_window(anchor, zone)
        count, month = 7, 0
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
    shifts = oncall.final_schedule(schedule, start, end)
    soon = report.upcoming_gaps(schedule, now, GAP_WARNING_DAYS)
    scope = override_scope(request.user, group)
    laid_out = calendar.days(shifts, first, count, zone, now, month)
    context.update(
        {
            "view": view,
            "anchor": anchor,
            "first": first,
            "previous": previous,
            "following": following,
            "today": today,
            "days": laid_out,
            "weeks": _weeks(laid_out) if view == "month" else [],
            "legend": calendar.legend(shifts),
            "shifts": _upcoming(schedule, now, end) if view == "week" else [],
            "gaps_soon": soon[:GAPS_LISTED],
            "gaps_more": max(len(soon) - GAPS_LISTED, 0),
            "gap_days": GAP_WARNING_DAYS,
            "rotations": [
                (r, describe_rotation(r))
                for r in schedule.rotations.prefetch_related(
                    "members__user", "restrictions"
                ).order_by("role", "-layer", "id")
            ],
            "overrides": [
                (o, may_change(scope, o))
                for o in Override.objects.filter(schedule=schedule, ends_at__gt=now)
                .select_related("user", "replaces")
                .order_by("starts_at")
            ],
            "can_override": scope is not None,
            "feed_url": ical.schedule_feed_url(schedule),
            "my_feed_url": ical.user_feed_url(request.user),
            "me": request.user,
        }
    )
    return render(request, "schedules/schedule.html", context)


def _upcoming(schedule: Schedule, now, end) -> list[oncall.Shift]:
    """The shifts from now to `end` of the page, each with its true end."""
    if end <= now:
        return []
    shifts = oncall.final_schedule(schedule, now, end + oncall.LOOKAHEAD)
    return sorted((s for s in shifts if s.start < end), key=lambda s: (s.start, s.role))


def _weeks(days: list) -> list[list]:
    return [days[i : i + 7] for i in range(0, len(days), 7)]


def _zones() -> list[str]:
    return sorted(available_timezones())


@login_required
@require_http_methods(["GET", "POST"])
def schedule_settings(request: HttpRequest, group_id: int) -> HttpResponse:
    """Create the group's schedule, or change its time zone."""
    group = get_object_or_404(Group, pk=group_id)
    if not can_manage_schedules(request.user):
        return forbidden(request, refusal_for_layers())
    schedule = oncall.schedule_of(group)
    form = ScheduleForm(request.POST or None, instance=schedule or Schedule(group=group))
    if request.method == "POST" and form.is_valid():
        form.save()
        if schedule is None:
            messages.success(
                request,
                f"{group.name} now has a schedule in {form.instance.time_zone}. Add a layer "
                "to put people on call; until then alerts follow the static order.",
            )
        else:
            messages.success(
                request,
                f"The schedule's time zone is now {form.instance.time_zone}: handoffs and "
                "restrictions are read as wall-clock times there.",
            )
        return redirect("schedule", group_id=group.pk)
    return render(
        request,
        "schedules/schedule_settings.html",
        {"group": group, "schedule": schedule, "form": form, "zones": _zones()},
        status=400 if request.method == "POST" else 200,
    )
