"""What a page says, per channel: the same facts, cut to fit."""

import json
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from accounts.timezones import zone_of
from escalation.links import responder_url
from escalation.models import Notification

# Values that mean "not set" in the tools' payloads (Alertmanager's endsAt).
BLANK_VALUES = {"", "0001-01-01T00:00:00Z"}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def facts(details: Any) -> list[tuple[str, str]]:
    """An alert's details as readable (name, value) lines: nested objects are
    flattened one level, empty values left out."""
    if not isinstance(details, dict):
        return [("details", _text(details))] if details else []
    lines = []
    for name, value in details.items():
        if isinstance(value, dict):
            lines.extend(
                (str(k), _text(v)) for k, v in value.items() if _text(v) not in BLANK_VALUES
            )
        elif value is not None and _text(value) not in BLANK_VALUES:
            lines.append((str(name), _text(value)))
    return lines


def _context(notification: Notification) -> dict:
    alert = notification.alert
    return {
        "alert": alert,
        "group": alert.group,
        "user": notification.user,
        "link": responder_url(alert.pk, notification.user_id),
        "details": facts(alert.details),
        "labels": ", ".join(f"{k}={v}" for k, v in alert.labels.items()),
    }


def test_page_text(notification: Notification) -> str:
    name = notification.user.display_name if notification.user else "you"
    return (
        f"This is a test page from AlertOps for {name}. If it reached you, "
        f"{notification.get_channel_display()} to {notification.recipient} works. "
        "Nothing needs doing."
    )


def email(notification: Notification) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an alert email."""
    if notification.alert_id is None:
        text = test_page_text(notification)
        return "AlertOps test page", text, f"<p>{escape(text)}</p>"
    alert = notification.alert
    subject = f"[{alert.get_severity_display()}] #{alert.pk} {alert.summary}"[:200]
    context = _context(notification)
    with timezone.override(zone_of(notification.user)):
        text = render_to_string("escalation/messages/alert_email.txt", context)
        html = render_to_string("escalation/messages/alert_email.html", context)
    return subject, text, html


def sms(notification: Notification) -> str:
    if notification.alert_id is None:
        return test_page_text(notification)
    alert = notification.alert
    head = f"{alert.group.name} #{alert.pk} [{alert.get_severity_display()}] "
    link = responder_url(alert.pk, notification.user_id)
    room = 300 - len(head) - len(link) - 1
    summary = alert.summary if len(alert.summary) <= room else alert.summary[: room - 1] + "…"
    return f"{head}{summary} {link}"


def voice(notification: Notification) -> str:
    if notification.alert_id is None:
        return test_page_text(notification)
    alert = notification.alert
    return (
        f"This is AlertOps with an alert for {alert.group.name}. "
        f"{alert.get_severity_display()}: {alert.summary}. "
        "Open the link in your text message or email to acknowledge."
    )
