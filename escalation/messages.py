"""What a page says, per channel: the same facts, cut to fit."""

from django.template.loader import render_to_string

from escalation.links import responder_url
from escalation.models import Notification


def _context(notification: Notification) -> dict:
    alert = notification.alert
    return {
        "alert": alert,
        "group": alert.group,
        "user": notification.user,
        "link": responder_url(alert.pk, notification.user_id),
        "details": sorted(alert.details.items()) if isinstance(alert.details, dict) else [],
    }


def email(notification: Notification) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an alert email."""
    alert = notification.alert
    subject = f"[{alert.get_severity_display()}] #{alert.pk} {alert.summary}"[:200]
    context = _context(notification)
    text = render_to_string("escalation/messages/alert_email.txt", context)
    html = render_to_string("escalation/messages/alert_email.html", context)
    return subject, text, html


def sms(notification: Notification) -> str:
    alert = notification.alert
    head = f"{alert.group.name} #{alert.pk} [{alert.get_severity_display()}] "
    link = responder_url(alert.pk, notification.user_id)
    room = 300 - len(head) - len(link) - 1
    summary = alert.summary if len(alert.summary) <= room else alert.summary[: room - 1] + "…"
    return f"{head}{summary} {link}"


def voice(notification: Notification) -> str:
    alert = notification.alert
    return (
        f"This is AlertOps with an alert for {alert.group.name}. "
        f"{alert.get_severity_display()}: {alert.summary}. "
        "Open the link in your text message or email to acknowledge."
    )
