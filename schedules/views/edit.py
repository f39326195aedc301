"""Changing a schedule: layers (managers), overrides, and the one-tap shift swap.

"Take this shift" makes an override for the person pressing it, in place of
whoever the shift belongs to, so it never takes time from anybody else if the
layers change later. "Cover for me" opens the override form with the viewer
as the person being replaced, for them to choose who covers.
"""

import contextlib
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.permissions import can_manage_schedules, forbidden
from accounts.timezones import zone_of
from alertops.lib import clock
from groups.models import Group, Role
from schedules import overrides
from schedules.forms import LayerEditor, OverrideForm
from schedules.models import Override, Rotation, Schedule, ScheduleRole
from schedules.views.access import (
    EVERYONE,
    may_change,
    override_scope,
    refusal_for_layers,
    refusal_for_overrides,
)


def _schedule(group_id: int) -> tuple[Group, Schedule]:
    group = get_object_or_404(Group, pk=group_id)
    return group, get_object_or_404(Schedule, group=group)


def _when(at: datetime, request: HttpRequest) -> str:
    return f"{at.astimezone(zone_of(request.user)):%a %d %b %H:%M}"


@login_required
@require_http_methods(["GET", "POST"])
def layer_edit(request: HttpRequest, group_id: int, rotation_id: int | None = None) -> HttpResponse:
    group, schedule = _schedule(group_id)
    if not can_manage_schedules(request.user):
        return forbidden(request, refusal_for_layers())
    rotation = (
        get_object_or_404(Rotation, pk=rotation_id, schedule=schedule) if rotation_id else None
    )
    editor = LayerEditor(
        request.POST if request.method == "POST" else None,
        group=group,
        schedule=schedule,
        instance=rotation,
    )
    if request.method == "POST" and editor.is_valid():
        saved = editor.save()
        messages.success(
            request,
            f"Saved the layer “{saved.name}”. The calendar below is what the engine will page.",
        )
        return redirect("schedule", group_id=group.pk)
    return render(
        request,
        "schedules/layer_edit.html",
        {
            "group": group,
            "schedule": schedule,
            "rotation": rotation,
            "editor": editor,
            "members": editor.form.choices,
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def layer_delete(request: HttpRequest, group_id: int, rotation_id: int) -> HttpResponse:
    group, schedule = _schedule(group_id)
    if not can_manage_schedules(request.user):
        return forbidden(request, refusal_for_layers())
    rotation = get_object_or_404(Rotation, pk=rotation_id, schedule=schedule)
    name = rotation.name
    rotation.delete()
    messages.success(request, f"Deleted the layer “{name}”.")
    return redirect("schedule", group_id=group.pk)


def _initial(request: HttpRequest, zone) -> dict:
    """Prefill from a shift's link: ?role=&start=&end=&replaces= (ISO instants)."""
    initial: dict = {}
    if request.GET.get("role") in ScheduleRole.values:
        initial["role"] = request.GET["role"]
    for field, key in (("starts_at", "start"), ("ends_at", "end")):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(request.GET.get(key, ""))
            if at.tzinfo is not None:
                initial[field] = at.astimezone(zone).replace(tzinfo=None)
    for field in ("replaces", "user"):
        if request.GET.get(field, "").isdigit():
            initial[field] = int(request.GET[field])
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def override_edit(
    request: HttpRequest, group_id: int, override_id: int | None = None
) -> HttpResponse:
    group, schedule = _schedule(group_id)
    scope = override_scope(request.user, group)
    if scope is None:
        return forbidden(request, refusal_for_overrides(request, group))
    override = (
        get_object_or_404(Override, pk=override_id, schedule=schedule) if override_id else None
    )
    if override is not None and not may_change(scope, override):
        return forbidden(request, refusal_for_overrides(request, group))
    allowed = None if scope == EVERYONE else scope
    zone = zone_of(request.user)
    form = OverrideForm(
        request.POST if request.method == "POST" else None,
        instance=override,
        initial=None if override else _initial(request, zone),
        schedule=schedule,
        zone=zone,
        allowed=allowed,
    )
    if request.method == "POST" and form.is_valid():
        if override is None:
            form.instance.created_by = request.user
        try:
            saved = form.save()
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"{saved.user.display_name} is {saved.get_role_display()} from "
                f"{_when(saved.starts_at, request)} to {_when(saved.ends_at, request)}"
                + (f" in place of {saved.replaces.display_name}" if saved.replaces else "")
                + ".",
            )
            return redirect("schedule", group_id=group.pk)
    return render(
        request,
        "schedules/override_edit.html",
        {"group": group, "schedule": schedule, "override": override, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def override_delete(request: HttpRequest, group_id: int, override_id: int) -> HttpResponse:
    group, schedule = _schedule(group_id)
    override = get_object_or_404(Override, pk=override_id, schedule=schedule)
    if not may_change(override_scope(request.user, group), override):
        return forbidden(request, refusal_for_overrides(request, group))
    override.delete()
    messages.success(
        request,
        f"Removed {override.user.display_name}'s override; the layers decide that time again.",
    )
    return redirect("schedule", group_id=group.pk)


@login_required
@require_POST
def take_shift(request: HttpRequest, group_id: int) -> HttpResponse:
    """One tap: the viewer takes [start, end) of a role, in place of its holder."""
    group, schedule = _schedule(group_id)
    if override_scope(request.user, group) is None:
        return forbidden(request, refusal_for_overrides(request, group))
    back = redirect("schedule", group_id=group.pk)
    role = request.POST.get("role", "")
    try:
        start = datetime.fromisoformat(request.POST.get("start", ""))
        end = datetime.fromisoformat(request.POST.get("end", ""))
        readable = role in ScheduleRole.values and start.tzinfo and end.tzinfo
    except ValueError:
        readable = False
    if not readable:
        messages.error(request, "That shift could not be read; pick it again from the calendar.")
        return back
    holder = request.POST.get("replaces", "")
    replaces = User.objects.filter(pk=holder).first() if holder.isdigit() else None
    override = Override(
        schedule=schedule,
        role=role,
        user=request.user,
        replaces=replaces,
        starts_at=start,
        ends_at=end,
        note="Taken from the calendar",
        created_by=request.user,
    )
    try:
        overrides.save(override, zone=zone_of(request.user), now=clock.now())
    except ValidationError as exc:
        messages.error(request, "Not taken: " + " ".join(exc.messages))
        return back
    messages.success(
        request,
        f"You are {Role(role).label} from {_when(start, request)} to {_when(end, request)}"
        + (f" in place of {replaces.display_name}" if replaces else "")
        + ".",
    )
    return back
