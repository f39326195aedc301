"""Integration pages: the list, one integration (its URL, configuration,
test alert, routing rules, field mapping, key), and the inbound log.

Integrations hold the keys tools send with and the log holds what tools
sent, so these pages are for Owners, App Admins and Integrations Admins
(accounts.permissions). A refused form answers 400 and shows what was wrong.
"""

import functools
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import (
    can_manage_integrations,
    forbidden,
    integration_manager_role_names,
)
from alertops.lib import clock
from integrations import heartbeats, ingest, maintenance, protection, routing, setup
from integrations.email import page as email_page
from integrations.forms import IntegrationForm, MappingForm, RotateForm, RuleForm
from integrations.models import InboundEvent, Integration, IntegrationKind, Outcome, RoutingRule
from integrations.parsers import ParseError, mapped

RECENT_LOG_ROWS = 20
LOG_PAGE_SIZE = 50
# The log page shows this much of a payload; the row keeps it all.
SHOWN_BODY_CHARACTERS = 64 * 1024


def managers_only(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_manage_integrations(request.user):
            return forbidden(
                request,
                f"Only an {integration_manager_role_names()} can see integrations and the "
                "inbound log: they hold the keys tools send with, and what the tools sent.",
            )
        return view(request, *args, **kwargs)

    return login_required(wrapper)


@managers_only
@require_GET
def integration_list(request: HttpRequest) -> HttpResponse:
    integrations = Integration.objects.select_related("group").order_by("name")
    return render(request, "integrations/list.html", {"integrations": integrations})


@managers_only
@require_http_methods(["GET", "POST"])
def integration_new(request: HttpRequest) -> HttpResponse:
    form = IntegrationForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            integration = form.save()
            given = "address" if integration.kind == IntegrationKind.EMAIL else "URL"
            messages.success(request, f"{integration.name} is ready: give its {given} to the tool.")
            return redirect("integration-detail", integration_id=integration.pk)
        return render(request, "integrations/new.html", {"form": form}, status=400)
    return render(request, "integrations/new.html", {"form": form})


def _last_payload(integration: Integration) -> tuple[Any, InboundEvent | None]:
    """The last JSON body the integration received, for the mapping preview."""
    rows = integration.inbound_events.exclude(body="").exclude(endpoint="test alert")
    for event in rows.order_by("-received_at", "-id")[:20]:
        try:
            return json.loads(event.body), event
        except ValueError:
            continue
    return None, None


def _preview(mapping: dict[str, str], payload: Any) -> dict[str, Any]:
    try:
        events = mapped.parse(payload, mapping)
    except ParseError as error:
        return {"error": str(error)}
    fields = events[0].fields()
    fields.pop("details")
    return {"fields": fields}


def _detail(request: HttpRequest, integration: Integration, status: int = 200, **forms):
    base = settings.PUBLIC_BASE_URL
    now = clock.now()
    rules = list(integration.rules.select_related("group"))
    is_webhook = integration.kind == IntegrationKind.WEBHOOK
    payload, source = _last_payload(integration) if is_webhook else (None, None)
    context: dict[str, Any] = {
        "integration": integration,
        "url": setup.url_of(integration, base),
        "snippets": setup.snippets(integration, base),
        "curl": setup.curl(integration, base, now, payload if source else None),
        "rules": rules,
        "rule_form": forms.get("rule_form") or RuleForm(),
        "settings_form": forms.get("settings_form") or IntegrationForm(instance=integration),
        "rotate_form": forms.get("rotate_form") or RotateForm(),
        "previous_key_active": integration.previous_key
        and integration.previous_key_expires_at
        and integration.previous_key_expires_at > now,
        "recent": integration.inbound_events.select_related("alert")[:RECENT_LOG_ROWS],
        "is_webhook": is_webhook,
        "heartbeat": heartbeats.due(integration)
        if integration.kind == IntegrationKind.HEARTBEAT
        else None,
        "now": now,
        "maintenance": maintenance.active_for_integration(integration, now),
    }
    if is_webhook:
        mapping_form = forms.get("mapping_form") or MappingForm(initial=integration.mapping)
        mapping = forms.get("preview_mapping", integration.mapping)
        context.update(
            mapping_form=mapping_form,
            sample=json.dumps(payload, indent=2)[:4000] if source else "",
            sample_event=source,
            preview=_preview(mapping, payload) if (source and mapping) else None,
        )
    if integration.kind == IntegrationKind.EMAIL:
        context.update(email_page.page_context(integration, forms))
    return render(request, "integrations/detail.html", context, status=status)


@managers_only
@require_GET
def integration_detail(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("group"), pk=integration_id)
    return _detail(request, integration)


@managers_only
@require_POST
def integration_settings(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=integration_id)
    form = IntegrationForm(request.POST, instance=integration)
    if not form.is_valid():
        integration.refresh_from_db()
        return _detail(request, integration, 400, settings_form=form)
    form.save()
    state = "enabled"
    if not integration.enabled:
        email = integration.kind == IntegrationKind.EMAIL
        state = f"disabled: {'its mail is ignored' if email else 'its URL answers 404'}"
    messages.success(request, f"Saved {integration.name} ({state}).")
    return redirect("integration-detail", integration_id=integration.pk)


@managers_only
@require_POST
def integration_test(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("group"), pk=integration_id)
    if integration.kind == IntegrationKind.EMAIL:
        return email_page.send_test(request, integration)  # a sample email, as mail comes in
    summary = f"Test alert from {integration.name}, sent by {request.user.display_name}"
    endpoint, received = setup.test_request(
        integration, summary, clock.now(), request.META.get("REMOTE_ADDR")
    )
    reply = ingest.receive(received, clock.now(), endpoint)
    if reply.status != 202:
        message = reply.body.get("error") or reply.body.get("message") or str(reply.body)
        messages.error(request, f"The test alert was refused ({reply.status}): {message}")
    elif integration.kind == IntegrationKind.HEARTBEAT:
        integration.refresh_from_db()
        due = heartbeats.due(integration)
        messages.success(
            request, f"Ping received; the next is expected by {due.next_ping:%H:%M} UTC."
        )
    else:
        result = reply.results[0]
        url = reverse("alert-detail", args=[result["alert_id"]])
        messages.success(
            request,
            f"Test alert #{result['alert_id']} opened ({url}); it escalates like any other. "
            "Resolve it from its page.",
        )
    return redirect("integration-detail", integration_id=integration.pk)


@managers_only
@require_POST
def integration_rotate(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("group"), pk=integration_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return _detail(request, integration, 400, rotate_form=form)
    grace = form.grace_period()
    protection.rotate(integration, clock.now(), grace)
    if grace:
        ends = integration.previous_key_expires_at
        messages.success(
            request, f"New key made. The old one keeps working until {ends:%Y-%m-%d %H:%M} UTC."
        )
    else:
        messages.success(request, "New key made. The old one no longer works.")
    return redirect("integration-detail", integration_id=integration.pk)


@managers_only
@require_POST
def rule_add(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("group"), pk=integration_id)
    form = RuleForm(request.POST)
    if not form.is_valid():
        return _detail(request, integration, 400, rule_form=form)
    rule = form.save(commit=False)
    rule.integration = integration
    last = integration.rules.order_by("-position").first()
    rule.position = last.position + 1 if last else 0
    rule.save()
    messages.success(request, f"Added {rule}.")
    return redirect(reverse("integration-detail", args=[integration.pk]) + "#routing")


@managers_only
@require_POST
def rule_change(
    request: HttpRequest, integration_id: int, rule_id: int, change: str
) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=integration_id)
    rule = get_object_or_404(RoutingRule, pk=rule_id, integration=integration)
    if change == "delete":
        rule.delete()
        messages.success(request, f"Deleted {rule}.")
    else:
        with transaction.atomic():
            rules = list(integration.rules.select_for_update())
            i = rules.index(rule)
            j = i - 1 if change == "up" else i + 1
            if 0 <= j < len(rules):
                rules[i], rules[j] = rules[j], rules[i]
            for position, each in enumerate(rules):
                RoutingRule.objects.filter(pk=each.pk).update(position=position)
            routing.rules_changed(integration.pk)
    return redirect(reverse("integration-detail", args=[integration.pk]) + "#routing")


@managers_only
@require_POST
def integration_mapping(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("group"), pk=integration_id)
    if integration.kind != IntegrationKind.WEBHOOK:
        return HttpResponse("Only generic webhooks have a field mapping.", status=400)
    form = MappingForm(request.POST)
    if not form.is_valid():
        return _detail(request, integration, 400, mapping_form=form)
    if request.POST.get("do") == "preview":
        return _detail(request, integration, mapping_form=form, preview_mapping=form.mapping())
    integration.mapping = form.mapping()
    integration.save(update_fields=["mapping"])
    if integration.mapping:
        messages.success(request, "Saved the field mapping: posts are read with it from now on.")
    else:
        messages.success(request, "Cleared the mapping: posts use the documented event format.")
    return redirect(reverse("integration-detail", args=[integration.pk]) + "#mapping")


@managers_only
@require_GET
def inbound_log(request: HttpRequest) -> HttpResponse:
    rows = InboundEvent.objects.select_related("integration", "alert")
    chosen_integration = request.GET.get("integration", "")
    chosen_outcome = request.GET.get("outcome", "")
    if chosen_integration == "none":
        rows = rows.filter(integration__isnull=True)
    elif chosen_integration.isdigit():
        rows = rows.filter(integration_id=int(chosen_integration))
    if chosen_outcome in Outcome.values:
        rows = rows.filter(outcome=chosen_outcome)
    page = Paginator(rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "integrations/log.html",
        {
            "page": page,
            "integrations": Integration.objects.order_by("name"),
            "outcomes": Outcome.choices,
            "chosen_integration": chosen_integration,
            "chosen_outcome": chosen_outcome,
            "query": query.urlencode(),
            "retention_days": settings.INBOUND_LOG_RETENTION_DAYS,
        },
    )


def pretty(body: str) -> tuple[str, bool]:
    """The body indented when it is JSON, cut to what the page shows; and whether it was cut."""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        text = body
    return text[:SHOWN_BODY_CHARACTERS], len(text) > SHOWN_BODY_CHARACTERS


@managers_only
@require_GET
def inbound_event(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(
        InboundEvent.objects.select_related("integration", "alert"), pk=event_id
    )
    body, truncated = pretty(event.body)
    return render(
        request,
        "integrations/event.html",
        {
            "event": event,
            "body": body,
            "truncated": truncated,
            "shown": SHOWN_BODY_CHARACTERS,
            "stored_partly": event.body_size > len(event.body.encode()),
        },
    )
