"""The maintenance windows page: what runs now, what is planned, what is past.

For the people who manage integrations (see integrations/views/pages.py):
a window silences pages, so it is as sensitive as an integration's key.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.timezones import zone_of
from alertops.lib import clock
from integrations import maintenance
from integrations.maintenance.forms import MaintenanceWindowForm
from integrations.models import MaintenanceWindow
from integrations.views.pages import managers_only

PAST_PAGE_SIZE = 25


def _initial(request: HttpRequest) -> dict:
    initial = {"time_zone": zone_of(request.user).key}
    for kind in ("integration", "group"):
        pk = request.GET.get(kind, "")
        if pk.isdigit():
            initial["applies_to"] = f"{kind}:{pk}"
    return initial


def _page(request: HttpRequest, form: MaintenanceWindowForm, status: int = 200) -> HttpResponse:
    now = form.now
    windows = MaintenanceWindow.objects.select_related("integration", "group", "created_by")
    shown = maintenance.listing(windows, now)
    past = Paginator(shown["past"], PAST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "current": shown["current"],
        "planned": shown["planned"],
        "past": past,
        "now": now,
    }
    return render(request, "integrations/maintenance/list.html", context, status=status)


@managers_only
@require_http_methods(["GET", "POST"])
def window_list(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    if request.method != "POST":
        return _page(request, MaintenanceWindowForm(initial=_initial(request), now=now))
    form = MaintenanceWindowForm(request.POST, now=now)
    if not form.is_valid():
        return _page(request, form, status=400)
    window = form.save(created_by=request.user)
    running = maintenance.current(window, now)
    if running:
        maintenance.rehold(window, now, f"{maintenance.describe(window).capitalize()} began")
        messages.success(
            request,
            f"The window for {window.scope_name} runs now, until "
            f"{running.end.astimezone(maintenance.zone(window)):%a %d %b %H:%M} "
            f"({window.time_zone}): new alerts there page nobody until then.",
        )
    else:
        upcoming = maintenance.next_occurrence(window, now)
        when = (
            f"{upcoming.start.astimezone(maintenance.zone(window)):%a %d %b %H:%M} "
            f"({window.time_zone})"
            if upcoming
            else "never (it has no occurrence left)"
        )
        messages.success(request, f"The window for {window.scope_name} is planned: first {when}.")
    return redirect("maintenance-list")


@managers_only
@require_POST
def window_end(request: HttpRequest, window_id: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow, pk=window_id)
    now = clock.now()
    if window.ended_at is not None and window.ended_at <= now:
        messages.info(request, "That window had already ended.")
        return redirect("maintenance-list")
    released = maintenance.end_now(window, now)
    text = f"The window for {window.scope_name} has ended and will not run again."
    if released:
        text += f" {released} alert(s) it held start escalating now."
    messages.success(request, text)
    return redirect("maintenance-list")


@managers_only
@require_POST
def window_delete(request: HttpRequest, window_id: int) -> HttpResponse:
    window = get_object_or_404(
        MaintenanceWindow.objects.select_related("integration", "group"), pk=window_id
    )
    scope = window.scope_name
    released = maintenance.delete(window, clock.now())
    text = f"The window for {scope} was deleted."
    if released:
        text += f" {released} alert(s) it held start escalating now."
    messages.success(request, text)
    return redirect("maintenance-list")
