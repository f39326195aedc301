"""Escalation policies in the dashboard: the list, one policy's page, new, delete.

Anybody logged in may read policies and dry-run them; Owners, App Admins and
Group Admins may change them (accounts.permissions). Saving raises the
policy's version in the models; alerts already escalating keep the snapshot
they started with, so editing here never disturbs them.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Channel
from accounts.permissions import can_manage_policies, forbidden, manager_role_names
from escalation import policies as policy_service
from escalation.forms import PolicyEditor
from escalation.models import EscalationPolicy, EscalationStep, NotificationType, StepTarget
from escalation.views import dry_run
from groups.models import Group

KEEP_VERSION = "Alerts already escalating keep the version they started with."


def _refuse(request: HttpRequest, doing: str) -> HttpResponse:
    return forbidden(
        request,
        f"Only an {manager_role_names()} can {doing} escalation policies. "
        "You can still read every policy and dry-run it.",
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def describe_step(step: EscalationStep, notification_type: str) -> str:
    """One step in words: who, how, how often, and how long until the next step."""
    if step.target == StepTarget.USERS:
        who = ", ".join(u.display_name for u in step.users.all()) or "named users (none chosen)"
    else:
        who = StepTarget(step.target).label
    if notification_type == NotificationType.USER:
        how = "by each person's own notification rules"
    else:
        parts = []
        for entry in step.channels:
            name = entry if isinstance(entry, str) else entry["channel"]
            delay = 0 if isinstance(entry, str) else entry.get("delay_minutes", 0)
            parts.append(Channel(name).label + (f" after {delay} min" if delay else ""))
        how = "by " + (", ".join(parts) or "no channel")
    text = f"{who} {how}"
    if step.retries:
        retries = "1 retry" if step.retries == 1 else f"{step.retries} retries"
        text += f"; {retries} every {step.retry_interval_minutes} min"
    if step.member_wait_minutes:
        text += f"; {step.member_wait_minutes} min between members"
    return text + f"; then {step.wait_minutes} min until the next step"


def steps_summary(policy: EscalationPolicy) -> str:
    steps = list(policy.steps.all())
    if not steps:
        return "No steps: pages nobody"
    return f"{_plural(len(steps), 'step')}: " + " → ".join(
        s.get_target_display() if s.target != StepTarget.USERS else "Named users" for s in steps
    )


@login_required
@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    rows = EscalationPolicy.objects.prefetch_related(
        Prefetch("steps", queryset=EscalationStep.objects.order_by("position", "id")),
        Prefetch("groups", queryset=Group.objects.order_by("name")),
    )
    return render(
        request,
        "escalation/policy_list.html",
        {
            "rows": [(p, steps_summary(p)) for p in rows],
            "can_manage": can_manage_policies(request.user),
            "default_name": policy_service.DEFAULT_POLICY_NAME,
            "manager_roles": manager_role_names(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_new(request: HttpRequest) -> HttpResponse:
    if not can_manage_policies(request.user):
        return _refuse(request, "create")
    editor = PolicyEditor(request.POST or None, extra=2)
    if request.method == "POST" and editor.is_valid():
        policy = editor.save()
        messages.success(request, f"Created the escalation policy “{policy.name}”.")
        return redirect("policy-detail", policy_id=policy.pk)
    return render(
        request,
        "escalation/policy_edit.html",
        {"editor": editor, "policy": None, "keep_version": KEEP_VERSION},
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_detail(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(EscalationPolicy, pk=policy_id)
    can_manage = can_manage_policies(request.user)
    editor = None
    if request.method == "POST":
        if not can_manage:
            return _refuse(request, "edit")
        editor = PolicyEditor(request.POST, instance=policy)
        if editor.is_valid():
            policy = editor.save()
            messages.success(
                request, f"Saved “{policy.name}” as version {policy.version}. {KEEP_VERSION}"
            )
            return redirect("policy-detail", policy_id=policy.pk)
    elif can_manage:
        editor = PolicyEditor(instance=policy)
    used_by = policy.groups.order_by("name")
    steps = policy.steps.order_by("position", "id").prefetch_related("users")
    return render(
        request,
        "escalation/policy_edit.html" if can_manage else "escalation/policy_detail.html",
        {
            "editor": editor,
            "policy": policy,
            "used_by": used_by,
            "steps": [(s, describe_step(s, policy.notification_type)) for s in steps],
            "keep_version": KEEP_VERSION,
            "manager_roles": manager_role_names(),
            **dry_run.context(
                request,
                policy=policy,
                groups=used_by if used_by.exists() else Group.objects.order_by("name"),
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(EscalationPolicy, pk=policy_id)
    if not can_manage_policies(request.user):
        return _refuse(request, "delete")
    used_by = list(policy.groups.order_by("name"))
    if request.method == "POST":
        if used_by:
            names = ", ".join(g.name for g in used_by)
            messages.error(
                request,
                f"“{policy.name}” was not deleted: {names} still use it. "
                "Give those groups another policy first.",
            )
            return redirect("policy-detail", policy_id=policy.pk)
        name = policy.name
        policy.delete()
        messages.success(request, f"Deleted the escalation policy “{name}”. {KEEP_VERSION}")
        return redirect("policy-list")
    return render(request, "escalation/policy_delete.html", {"policy": policy, "used_by": used_by})
