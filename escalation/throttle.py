"""Per-contact-method rate limits for SMS and voice: they delay, never drop.

A number gets at most THROTTLE_SMS_VOICE_PER_MINUTE messages a minute and
THROTTLE_SMS_VOICE_PER_15_MINUTES in any 15 minutes, per channel (an SMS and
a call to the same number are counted apart). Email is not throttled.

The ticker asks `admit` which due rows it may claim. A due SMS or voice row
for a number over its limit is not claimed: its due time moves to the first
instant the limits allow (it stays pending, so nothing is lost) and its alert's
timeline says so once. When that instant comes, one row per number is claimed
and, at delivery, carries every other due row for that number in one message
(dispatch.deliver and messages.bundle_sms).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from accounts.models import Channel
from escalation.alerts import record
from escalation.models import AlertEvent, EventKind, Notification, NotificationStatus

log = logging.getLogger(__name__)

THROTTLED_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})
# A held row's `error` starts with this, so the Outbox can say why it waits.
HELD = "Held back until"
_HELD_EVENT = " held back until "


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta
    label: str

    def __str__(self) -> str:
        return f"{self.count} per {self.label} per number"


@dataclass(frozen=True)
class Verdict:
    """When a new message may go to a number: `at`, and the limit that decided it
    (None when it may go now)."""

    at: datetime
    limit: Limit | None


def limits() -> list[Limit]:
    """The limits in force; a setting of 0 turns its limit off."""
    configured = [
        Limit(settings.THROTTLE_SMS_VOICE_PER_MINUTE, timedelta(minutes=1), "minute"),
        Limit(settings.THROTTLE_SMS_VOICE_PER_15_MINUTES, timedelta(minutes=15), "15 minutes"),
    ]
    return [limit for limit in configured if limit.count > 0]


def is_throttled(channel: str) -> bool:
    return channel in THROTTLED_CHANNELS and bool(limits())


def earliest(sends: Iterable[datetime], now: datetime, in_force: list[Limit]) -> Verdict:
    """The first instant from `now` at which one more message keeps every limit,
    given the instants of the messages already sent.

    A message sent at s counts against a window W until s + W: with N allowed
    per W, the next may go once the N-th most recent send has left the window.
    Waiting only ever lets sends leave windows, so the latest instant any one
    limit asks for satisfies them all.
    """
    verdict = Verdict(now, None)
    ordered = sorted(sends)
    for limit in in_force:
        recent = [s for s in ordered if s > now - limit.window]
        if len(recent) < limit.count:
            continue
        free_at = recent[-limit.count] + limit.window
        if free_at > verdict.at:
            verdict = Verdict(free_at, limit)
    return verdict


def recent_sends(channel: str, recipient: str, now: datetime) -> list[datetime]:
    """When the messages of the last 15 minutes went to this number on this
    channel: sent ones by sent_at, ones being sent by claimed_at. Rows bundled
    into another message are not messages of their own."""
    in_force = limits()
    if not in_force:
        return []
    since = now - max(limit.window for limit in in_force)
    rows = Notification.objects.filter(
        channel=channel, recipient=recipient, bundled_into__isnull=True
    )
    sent = rows.filter(
        status__in=[NotificationStatus.SENT, NotificationStatus.DELIVERED], sent_at__gt=since
    ).values_list("sent_at", flat=True)
    sending = rows.filter(status=NotificationStatus.SENDING, claimed_at__gt=since).values_list(
        "claimed_at", flat=True
    )
    return [*sent, *sending]


def check(channel: str, recipient: str, now: datetime) -> Verdict:
    """When a new message may go to `recipient` on `channel`, and why not sooner."""
    if channel not in THROTTLED_CHANNELS:
        return Verdict(now, None)
    return earliest(recent_sends(channel, recipient, now), now, limits())


def allowed_at(channel: str, recipient: str, now: datetime) -> datetime:
    """The earliest instant (`now` or later) a new message may go to that number."""
    return check(channel, recipient, now).at


def admit(rows: list[Notification], now: datetime) -> list[int]:
    """The ids among due pending `rows` (oldest first) that may be claimed now.

    Email rows are all admitted. Of the SMS or voice rows for one number, the
    oldest is admitted when the limits allow (at delivery it carries the
    others) and all are held back when they do not.
    """
    if not limits():
        return [row.pk for row in rows]
    admitted: set[int] = set()
    by_number: dict[tuple[str, str], list[Notification]] = {}
    for row in rows:
        if row.channel in THROTTLED_CHANNELS:
            by_number.setdefault((row.channel, row.recipient), []).append(row)
        else:
            admitted.add(row.pk)
    for (channel, recipient), waiting in by_number.items():
        verdict = check(channel, recipient, now)
        if verdict.limit is None:
            admitted.add(waiting[0].pk)
            continue
        for row in waiting:
            hold(row, verdict, now)
    return [row.pk for row in rows if row.pk in admitted]


def hold(row: Notification, verdict: Verdict, now: datetime) -> bool:
    """Move a due pending row to `verdict.at`; its alert's timeline says so once."""
    until = f"{verdict.at.astimezone(UTC):%H:%M:%S} UTC (rate limit: {verdict.limit})"
    moved = Notification.objects.filter(
        pk=row.pk, status=NotificationStatus.PENDING, due_at__lte=now
    ).update(due_at=verdict.at, error=f"{HELD} {until}.")
    if not moved:
        return False  # claimed, cancelled or moved by somebody else meanwhile
    who = row.user.display_name if row.user else row.recipient
    message = f"{row.get_channel_display()} to {who}{_HELD_EVENT}{until}."
    if row.alert_id is None:
        log.info("test page %s: %s", row.pk, message)
    elif not AlertEvent.objects.filter(
        notification_id=row.pk, message__contains=_HELD_EVENT
    ).exists():
        record(row.alert, EventKind.INFO, message, now, notification=row)
    return True
