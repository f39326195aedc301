"""The email integration's part of its page: the rules form with a preview
(against the last email received, or the example), and the test email.
"""

from typing import Any

from anymail.inbound import AnymailInboundMessage
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from alertops.lib import clock
from integrations.email import decide, parse, rules, setup
from integrations.email.forms import EmailRulesForm
from integrations.models import Integration

SAMPLE_FIELDS = ("sample_from", "sample_subject", "sample_body")


def page_context(integration: Integration, forms: dict[str, Any]) -> dict[str, Any]:
    """The email parts of an integration's page: the rules form and its preview."""
    form = forms.get("email_rules_form")
    found, broken = rules.load(integration.email_rules)
    shown = forms.get("email_preview")
    if form is None:
        initial = EmailRulesForm.initial_of(integration.email_rules)
        sample = _sample(integration)
        initial.update(zip(SAMPLE_FIELDS, sample, strict=True))
        form = EmailRulesForm(initial=initial)
        shown = preview(found, *sample)
    return {
        "email_rules_form": form,
        "email_preview": shown,
        "email_rules_broken": broken,
        "email_secret_set": setup.secret_is_set(),
    }


def _sample(integration: Integration) -> tuple[str, str, str]:
    """(from, subject, body) of the last email received, else of the example email."""
    rows = integration.inbound_events.filter(endpoint__startswith="email:").exclude(body="")
    for row in rows.order_by("-received_at", "-id")[:5]:
        try:
            email = parse.read(AnymailInboundMessage.parse_raw_mime(row.body))
        except parse.Unreadable:  # an old row that is no email: the preview takes the next one
            continue
        return email.sender, email.subject, email.body[:2000]
    sample = setup.example(integration, "Disk full on db-1", "db-1/disk", clock.now())
    return f"Monitoring <{setup.SAMPLE_SENDER}>", sample.subject, sample.body


def preview(found: rules.Rules, sender: str, subject: str, body: str) -> dict[str, Any]:
    """What `found` would do with a sample email, for the page."""
    address = parse.plain_address(sender) or sender.strip().lower()
    mail = decide.Mail(sender=sender, subject=subject, body=body, sender_address=address.lower())
    decision = decide.decide(found, mail)
    does = {
        "trigger": "Opens an alert (or counts as a duplicate of the open one with this key)",
        "resolve": "Resolves the open alert with this dedup key",
        "note": "Adds the email to the timeline of the open alert with this dedup key",
    }
    return {
        "action": does.get(decision.action or "", "Ignored"),
        "ignored": decision.action is None,
        "summary": subject or f"Email from {sender or 'an unknown sender'} (no subject)",
        "dedup_key": decision.dedup_key,
        "explanation": decision.explanation,
    }


def send_test(request: HttpRequest, integration: Integration) -> HttpResponse:
    """The page's "send test email": a sample email through the path every email takes."""
    summary = f"Test alert from {integration.name}, sent by {request.user.display_name}"
    received = setup.send_test(integration, summary, clock.now(), request.META.get("REMOTE_ADDR"))
    row = received.rows[0]
    if row.alert_id and row.outcome == "created":
        url = reverse("alert-detail", args=[row.alert_id])
        messages.success(
            request,
            f"Test email opened alert #{row.alert_id} ({url}); it escalates like any other. "
            "Resolve it from its page.",
        )
    else:
        messages.error(
            request, f"The test email was {row.get_outcome_display().lower()}: {row.message}"
        )
    return redirect("integration-detail", integration_id=integration.pk)
