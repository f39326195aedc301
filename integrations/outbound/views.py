"""Outbound webhook pages: the list, new, edit, one webhook (URL, secret,
headers, example payload, how to verify, the delivery log), send a test,
a new secret, try a failed delivery again, and delete.

A webhook's secret signs what it sends, and its log holds alert data, so the
pages are for the same roles as integrations (managers_only).
"""

import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alertops.lib import clock
from alertops.lib.keys import new_key
from integrations.models import DeliveryStatus, OutboundWebhook, WebhookDelivery, WebhookEvent
from integrations.outbound import attempts, delivery, payloads, signing
from integrations.outbound import events as outbound_events
from integrations.outbound.forms import OutboundWebhookForm
from integrations.views.pages import managers_only

DELIVERY_PAGE_SIZE = 25


@managers_only
@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    last = WebhookDelivery.objects.filter(webhook=OuterRef("pk")).order_by("-created_at", "-id")
    webhooks = list(
        OutboundWebhook.objects.prefetch_related("groups").annotate(
            last_status=Subquery(last.values("status")[:1]),
            last_at=Subquery(last.values("created_at")[:1]),
        )
    )
    for webhook in webhooks:
        webhook.event_names = event_names(webhook)
    return render(request, "integrations/outbound/list.html", {"webhooks": webhooks})


def event_names(webhook: OutboundWebhook) -> list[str]:
    """The webhook's events in words, in their usual order; empty means all."""
    return [label for value, label in WebhookEvent.choices if value in webhook.events]


@managers_only
@require_http_methods(["GET", "POST"])
def webhook_new(request: HttpRequest) -> HttpResponse:
    form = OutboundWebhookForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            webhook = form.save(commit=False)
            webhook.created_by = request.user
            webhook.created_at = clock.now()
            webhook.save()
            form.save_m2m()
            messages.success(
                request,
                f"{webhook.name} is ready. Give its secret to the receiver and send a test.",
            )
            return redirect("outbound-detail", webhook_id=webhook.pk)
        return render(request, "integrations/outbound/form.html", {"form": form}, status=400)
    return render(request, "integrations/outbound/form.html", {"form": form})


@managers_only
@require_http_methods(["GET", "POST"])
def webhook_edit(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(OutboundWebhook, pk=webhook_id)
    form = OutboundWebhookForm(request.POST or None, instance=webhook)
    context = {"form": form, "webhook": webhook}
    if request.method == "POST":
        if form.is_valid():
            form.save()
            state = "enabled" if webhook.enabled else "disabled: nothing is sent until enabled"
            messages.success(request, f"Saved {webhook.name} ({state}).")
            return redirect("outbound-detail", webhook_id=webhook.pk)
        webhook.refresh_from_db()
        return render(request, "integrations/outbound/form.html", context, status=400)
    return render(request, "integrations/outbound/form.html", context)


@managers_only
@require_GET
def webhook_detail(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(OutboundWebhook.objects.prefetch_related("groups"), pk=webhook_id)
    now = clock.now()
    example = payloads.example()
    example_body = signing.body_of(example)
    rows = webhook.deliveries.order_by("-created_at", "-id")
    page = Paginator(rows, DELIVERY_PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.payload_text = json.dumps(row.payload, indent=2, ensure_ascii=False)
    return render(
        request,
        "integrations/outbound/detail.html",
        {
            "webhook": webhook,
            "event_names": event_names(webhook),
            "headers": signing.HEADERS_EXPLAINED,
            "example": json.dumps(example, indent=2, ensure_ascii=False),
            "example_body": example_body.decode(),
            # Signed with the webhook's secret: a receiver's check has a known answer.
            "example_timestamp": payloads.EXAMPLE_TIMESTAMP,
            "example_signature": signing.signature(
                webhook.secret, payloads.EXAMPLE_TIMESTAMP, example_body
            ),
            "snippet": signing.VERIFY_SNIPPET,
            "page": page,
            "retry_minutes": [int(d.total_seconds() // 60) for d in delivery.RETRY_DELAYS],
            "max_attempts": delivery.MAX_ATTEMPTS,
            "timeout": attempts.timeout(),
            "allow_private": settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE,
            "pending": webhook.deliveries.filter(status=DeliveryStatus.PENDING).count(),
            "now": now,
        },
    )


@managers_only
@require_POST
def webhook_test(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(OutboundWebhook, pk=webhook_id)
    sent = delivery.send_test(webhook, clock.now(), request.user)
    if sent.status == DeliveryStatus.DELIVERED:
        messages.success(
            request,
            f"Test delivered: the receiver answered {sent.response_code} in {sent.duration_ms} ms.",
        )
    else:
        messages.error(request, f"Test not delivered: {sent.error}")
    return redirect("outbound-detail", webhook_id=webhook.pk)


@managers_only
@require_POST
def webhook_secret(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(OutboundWebhook, pk=webhook_id)
    webhook.secret = new_key(32)
    webhook.save(update_fields=["secret"])
    messages.success(
        request,
        "New secret made: every delivery from now on is signed with it. "
        "Give it to the receiver now; it no longer accepts the old signatures.",
    )
    return redirect("outbound-detail", webhook_id=webhook.pk)


@managers_only
@require_POST
def delivery_retry(request: HttpRequest, webhook_id: int, delivery_id: int) -> HttpResponse:
    row = get_object_or_404(WebhookDelivery, pk=delivery_id, webhook_id=webhook_id)
    if delivery.redeliver(row, clock.now()):
        outbound_events.wake()
        messages.success(request, f"Delivery of {row.event} queued again; it goes out shortly.")
    else:
        messages.error(request, "Only a failed delivery (not a test) can be tried again.")
    return redirect("outbound-detail", webhook_id=webhook_id)


@managers_only
@require_http_methods(["GET", "POST"])
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(OutboundWebhook, pk=webhook_id)
    if request.method == "POST":
        name = webhook.name
        webhook.delete()
        messages.success(request, f"Deleted {name} and its delivery log.")
        return redirect("outbound-list")
    pending = webhook.deliveries.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    ).count()
    return render(
        request, "integrations/outbound/delete.html", {"webhook": webhook, "pending": pending}
    )
