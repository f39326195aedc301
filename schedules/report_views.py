"""The gaps and fairness report page of a group's schedule.

Anybody logged in may read it. The window is whole days in the schedule's
zone, from 00:00 on the start date up to 00:00 on the end date; the sums are
made in schedules.report.
"""

from datetime import date, datetime, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from alertops.lib import clock
from groups.models import Group
from schedules import report as report_service
from schedules import timeline
from schedules.feeds import schedule_page_url
from schedules.models import Schedule

DEFAULT_DAYS = 30
MAX_DAYS = 366
UPCOMING_DAYS = 14
DATE_ERRORS = {
    "required": "Enter a date as YYYY-MM-DD, like 2026-03-01.",
    "invalid": "Enter a date as YYYY-MM-DD, like 2026-03-01.",
}


class ReportWindow(forms.Form):
    start = forms.DateField(
        label="From",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages=DATE_ERRORS,
        help_text="From 00:00 on this day.",
    )
    end = forms.DateField(
        label="Up to",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages=DATE_ERRORS,
        help_text="Up to 00:00 on this day (the day itself is not included).",
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                raise ValidationError(
                    "The end date must be after the start date: the report runs from 00:00 "
                    "on the first up to 00:00 on the second."
                )
            if (end - start).days > MAX_DAYS:
                raise ValidationError(
                    f"A report covers at most {MAX_DAYS} days, and this window has "
                    f"{(end - start).days}. Choose a shorter window."
                )
        return data


def _midnight(day: date, schedule: Schedule) -> datetime:
    return timeline.to_instant(datetime.combine(day, datetime.min.time()), schedule.zone)


@login_required
@require_safe
def schedule_report(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=group_id)
    schedule = get_object_or_404(Schedule, group=group)
    now = clock.now()
    today = timeline.local(now, schedule.zone).date()
    form = ReportWindow(
        {
            "start": request.GET.get("start", f"{today - timedelta(days=DEFAULT_DAYS):%Y-%m-%d}"),
            "end": request.GET.get("end", f"{today:%Y-%m-%d}"),
        }
    )
    context = {
        "group": group,
        "schedule": schedule,
        "form": form,
        "schedule_url": schedule_page_url(group),
        "upcoming": report_service.upcoming_gaps(schedule, now, UPCOMING_DAYS),
        "upcoming_days": UPCOMING_DAYS,
        "upcoming_until": now + timedelta(days=UPCOMING_DAYS),
    }
    if not form.is_valid():
        return render(request, "schedules/report.html", context, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    context["report"] = report_service.report(
        schedule, _midnight(start, schedule), _midnight(end, schedule)
    )
    context["last_day"] = end - timedelta(days=1)
    return render(request, "schedules/report.html", context)
