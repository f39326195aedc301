"""Calendar feed views: the two secret .ics addresses, and changing them.

The feeds need no login: calendar apps cannot log in, so the unguessable
token in the address is the credential. Rotating a token (the schedule's by
a schedule manager, a person's own by that person) makes the old address
answer 404 at once. The text itself is made in schedules.ical.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User
from accounts.permissions import can_manage_schedules, forbidden, manager_role_names
from alertops.lib import clock
from groups.models import Group
from schedules import ical
from schedules.models import Schedule, UserFeed


def _calendar(body: str) -> HttpResponse:
    response = HttpResponse(body, content_type=ical.CONTENT_TYPE)
    # The address is a secret: keep it out of shared caches and search engines.
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_safe
def schedule_feed(request: HttpRequest, token: str) -> HttpResponse:
    schedule = get_object_or_404(Schedule.objects.select_related("group"), feed_token=token)
    return _calendar(ical.schedule_calendar(schedule, clock.now()))


@require_safe
def user_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = get_object_or_404(UserFeed.objects.select_related("user"), token=token)
    if not feed.user.is_active:
        raise Http404("This person's account is deactivated.")
    return _calendar(ical.user_calendar(feed.user, clock.now()))


def schedule_page_url(group: Group) -> str:
    return reverse("schedule", args=[group.pk])


@login_required
@require_POST
def rotate_schedule_feed(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(Group, pk=group_id)
    schedule = get_object_or_404(Schedule, group=group)
    if not can_manage_schedules(request.user):
        return forbidden(
            request,
            f"Only an {manager_role_names()} can change the calendar address of "
            f"{group.name}'s schedule. Ask one of them if the address has leaked.",
        )
    ical.rotate_schedule_token(schedule)
    messages.success(
        request,
        f"{group.name}'s calendar has a new address; the old one has stopped working. "
        f"Subscribe again with {ical.schedule_feed_url(schedule)}",
    )
    return redirect(schedule_page_url(group))


@login_required
@require_POST
def rotate_user_feed(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    ical.rotate_user_token(user)
    messages.success(
        request,
        "Your shifts calendar has a new address; the old one has stopped working. "
        f"Subscribe again with {ical.user_feed_url(user)}",
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("profile")
    return redirect(back)
