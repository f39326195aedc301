"""What a page says, per channel: the same facts, cut to fit."""

import json
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from accounts.timezones import zone_of
from escalation.links import responder_url
from escalation.models import Alert, Notification, NotificationStatus

# Values that mean "not set" in the tools' payloads (Alertmanager's endsAt).
BLANK_VALUES = {"", "0001-01-01T00:00:00Z"}
# What fits in two SMS segments with room to spare; longer texts are cut.
SMS_MAX_LENGTH = 300
# A bundled summary is never cut shorter than this: fewer alerts are named instead.
BUNDLE_MIN_SUMMARY = 12
BUNDLE_VOICE_MAX_ALERTS = 5


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
    rows = bundle_of(notification)
    if len(_alerts(rows)) > 1:
        return bundle_sms(rows)
    alert = notification.alert
    head = f"{alert.group.name} #{alert.pk} [{alert.get_severity_display()}] "
    link = responder_url(alert.pk, notification.user_id)
    room = SMS_MAX_LENGTH - len(head) - len(link) - 1
    summary = alert.summary if len(alert.summary) <= room else alert.summary[: room - 1] + "…"
    return f"{head}{summary} {link}"


def voice(notification: Notification) -> str:
    if notification.alert_id is None:
        return test_page_text(notification)
    rows = bundle_of(notification)
    if len(_alerts(rows)) > 1:
        return bundle_voice(rows)
    alert = notification.alert
    return (
        f"This is AlertOps with an alert for {alert.group.name}. "
        f"{alert.get_severity_display()}: {alert.summary}. "
        "Open the link in your text message or email to acknowledge."
    )


def bundle_of(notification: Notification) -> list[Notification]:
    """The rows one message carries: this one, then those held back by a rate
    limit and bundled into it while it is being sent (see dispatch.deliver)."""
    if notification.pk is None or notification.status != NotificationStatus.SENDING:
        return [notification]
    others = notification.bundled.filter(status=NotificationStatus.SENDING).select_related(
        "alert", "alert__group"
    )
    return [notification, *others.order_by("id")]


def _alerts(rows: list[Notification]) -> list[Alert]:
    """The distinct alerts of `rows`, oldest first."""
    alerts = {row.alert_id: row.alert for row in rows if row.alert_id is not None}
    return [alerts[pk] for pk in sorted(alerts)]


def _headline(alerts: list[Alert]) -> str:
    groups = {alert.group.name for alert in alerts}
    where = f" for {groups.pop()}" if len(groups) == 1 else ""
    return f"{len(alerts)} new alerts{where}"


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: max(length - 1, 0)] + "…"


def _fair_share(texts: list[str], budget: int) -> int:
    """The longest length each text may keep so that all fit in `budget`
    together: short texts keep their length, the long ones share the rest."""
    remaining = budget
    lengths = sorted(len(text) for text in texts)
    for index, length in enumerate(lengths):
        fair = remaining // (len(lengths) - index)
        if length > fair:
            return fair
        remaining -= length
    return lengths[-1] if lengths else 0


def _alert_list(alerts: list[Alert], room: int) -> str:
    """'#12 Disk full; #13 ...' in at most `room` characters: long summaries are
    cut first; if that is not enough, the last alerts become '+N more'."""
    for shown in range(len(alerts), 0, -1):
        rest = len(alerts) - shown
        tail = f"; +{rest} more" if rest else ""
        ids = [f"#{alert.pk} " for alert in alerts[:shown]]
        fixed = sum(map(len, ids)) + 2 * (shown - 1) + len(tail)
        summaries = [alert.summary for alert in alerts[:shown]]
        share = _fair_share(summaries, room - fixed)
        nothing_cut = share >= max(map(len, summaries))
        if share >= BUNDLE_MIN_SUMMARY or nothing_cut or shown == 1:
            items = [i + _cut(summary, share) for i, summary in zip(ids, summaries, strict=True)]
            return _cut("; ".join(items) + tail, room)
    return ""


def bundle_sms(rows: list[Notification]) -> str:
    """One SMS for several alerts: '3 new alerts for Payments: #12 Disk full; ...'
    and the responder link of the newest alert."""
    alerts = _alerts(rows)
    newest = max(alerts, key=lambda alert: (alert.created_at, alert.pk))
    user_id = next(row.user_id for row in rows if row.alert_id == newest.pk)
    head = f"{_headline(alerts)}: "
    link = responder_url(newest.pk, user_id)
    room = SMS_MAX_LENGTH - len(head) - len(link) - 1
    return f"{head}{_alert_list(alerts, room)} {link}"


def bundle_voice(rows: list[Notification]) -> str:
    """One call for several alerts: the first few are read out, the rest counted."""
    alerts = _alerts(rows)
    named = alerts[:BUNDLE_VOICE_MAX_ALERTS]
    told = " ".join(
        f"Alert {alert.pk}, {alert.get_severity_display()}: {alert.summary}." for alert in named
    )
    rest = len(alerts) - len(named)
    more = f" And {rest} more." if rest else ""
    return (
        f"This is AlertOps with {_headline(alerts)}. {told}{more} "
        "Open the link in your text message or email to acknowledge."
    )
