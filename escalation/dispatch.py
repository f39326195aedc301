"""Handing due notifications to their transports, at least once.

The ticker claims due pending rows (pending -> sending, by conditional UPDATE)
and enqueues one `deliver` task per row, so a slow provider never holds up the
engine. A row left in `sending` (its worker died, its task was lost) is put
back to `pending` by the reaper: a duplicate page is better than a missed one.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from alertops.lib import clock
from escalation import transports
from escalation.alerts import record
from escalation.models import AlertStatus, EventKind, Notification, NotificationStatus

log = logging.getLogger(__name__)

# A row in `sending` for longer than this is presumed lost (its worker died,
# its task was lost) and retried. The deliver task itself is stopped after
# DELIVER_TASK_TIMEOUT, so a live send is never taken for a lost one.
DELIVER_TASK_TIMEOUT = 45
SENDING_TIMEOUT = timedelta(seconds=60)
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_CAP = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 15 s, 30 s, 1 min, 2 min, ... at most 10 min."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def reap(now: datetime) -> int:
    """Put rows stuck in `sending` back to `pending`."""
    return Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - SENDING_TIMEOUT
    ).update(status=NotificationStatus.PENDING, error="sending timed out; retrying")


def claim_due(now: datetime, limit: int = 200) -> list[int]:
    """Move due pending rows to `sending` and return the ids this caller claimed."""
    ids = list(
        Notification.objects.filter(status=NotificationStatus.PENDING, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return []
    # The token marks this caller's rows: a concurrent claimer's UPDATE
    # matches none of the rows already moved to `sending`.
    token = uuid.uuid4().hex
    Notification.objects.filter(id__in=ids, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENDING,
        claimed_at=now,
        claim_token=token,
        attempts=F("attempts") + 1,
    )
    return list(
        Notification.objects.filter(
            id__in=ids, status=NotificationStatus.SENDING, claim_token=token
        ).values_list("id", flat=True)
    )


def dispatch_due(now: datetime, enqueue) -> int:
    """Reap, claim and hand each claimed row to `enqueue(notification_id)`."""
    reap(now)
    claimed = claim_due(now)
    for notification_id in claimed:
        enqueue(notification_id)
    return len(claimed)


def deliver(notification_id: int, now: datetime | None = None) -> str:
    """Send one claimed notification. Safe to call again: only a `sending` row is sent."""
    now = now or clock.now()
    notification = (
        Notification.objects.select_related("alert", "alert__group", "user")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.status != NotificationStatus.SENDING:
        return "skipped"
    alert = notification.alert
    who = notification.user.display_name if notification.user else notification.recipient
    channel = notification.get_channel_display()
    if alert is not None and alert.status != AlertStatus.OPEN:
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            status=NotificationStatus.CANCELLED, error=f"alert {alert.status} before sending"
        )
        return "cancelled"
    try:
        result = transports.send(notification)
    except transports.TransportError as error:
        return _failed(notification, who, channel, str(error), error.permanent, now)
    except Exception as error:
        # A bug or an unexpected library error: log it and retry like a
        # temporary failure, so the worker lives and the page is not lost.
        log.exception("transport %s crashed on notification %s", channel, notification.pk)
        return _failed(notification, who, channel, f"unexpected error: {error!r}", False, now)
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.SENT,
        sent_at=now,
        provider_ref=result.provider_ref[:255],
        subject=result.subject[:255],
        body=result.body,
        error="",
    )
    _record(
        notification,
        EventKind.NOTIFIED,
        f"Notified {who} via {channel} ({notification.recipient}).",
        now,
    )
    return "sent"


def _record(notification: Notification, kind: str, message: str, now: datetime) -> None:
    """A line on the alert's timeline; test pages belong to no alert and only log."""
    if notification.alert_id is None:
        log.info("test page %s: %s", notification.pk, message)
        return
    record(notification.alert, kind, message, now, notification=notification)


def _failed(
    notification: Notification, who: str, channel: str, error: str, permanent: bool, now: datetime
) -> str:
    attempts = notification.attempts
    limit = settings.NOTIFICATION_MAX_ATTEMPTS
    if permanent or attempts >= limit:
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            status=NotificationStatus.FAILED, error=error
        )
        why = "permanent failure" if permanent else f"gave up after {attempts} attempts"
        _record(
            notification,
            EventKind.FAILED,
            f"Could not notify {who} via {channel} ({notification.recipient}): {error} ({why}).",
            now,
        )
        return "failed"
    retry_at = now + backoff(attempts)
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.PENDING, due_at=retry_at, error=error
    )
    _record(
        notification,
        EventKind.WARNING,
        f"Sending {channel} to {who} failed (attempt {attempts} of {limit}): {error}. "
        f"Retrying at {retry_at:%H:%M:%S} UTC.",
        now,
    )
    return "retrying"
