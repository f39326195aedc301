"""Handing due notifications to their transports, at least once.

The ticker claims due pending rows (pending -> sending, by conditional UPDATE)
and enqueues one `deliver` task per row, so a slow provider never holds up the
engine. A row left in `sending` (its worker died, its task was lost) is put
back to `pending` by the reaper: a duplicate page is better than a missed one.

SMS and voice are rate limited per number (escalation.throttle): a row over
the limit is not claimed but held back, and the row that goes when the limit
allows carries every other due row for that number in one message, a bundle.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from alertops.lib import clock
from escalation import throttle, transports
from escalation.alerts import record
from escalation.models import AlertStatus, EventKind, Notification, NotificationStatus

log = logging.getLogger(__name__)

# A row in `sending` for longer than this is presumed lost (its worker died,
# its task was lost) and retried. The deliver task itself is stopped after
# DELIVER_TASK_TIMEOUT, so a live send is never taken for a lost one.
DELIVER_TASK_TIMEOUT = 45
# A batch stops starting new sends after this long (each send may take up to
# the providers' own 10 s timeouts), well inside DELIVER_TASK_TIMEOUT.
DELIVERY_BUDGET_SECONDS = 20.0
SENDING_TIMEOUT = timedelta(seconds=60)
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_CAP = timedelta(minutes=10)
# At most this many held rows ride in one message; the rest go in the next one.
BUNDLE_MAX = 50


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 15 s, 30 s, 1 min, 2 min, ... at most 10 min."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def reap(now: datetime) -> int:
    """Put rows stuck in `sending` back to `pending` (out of any bundle they were in)."""
    return Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - SENDING_TIMEOUT
    ).update(
        status=NotificationStatus.PENDING, error="sending timed out; retrying", bundled_into=None
    )


def claim_due(now: datetime, limit: int = 200) -> list[int]:
    """Move due pending rows to `sending` and return the ids this caller claimed.

    SMS and voice rows for a number over its rate limit are held back instead
    (their due time moves on), and only one row per number is claimed a pass.
    """
    due = list(
        Notification.objects.filter(status=NotificationStatus.PENDING, due_at__lte=now)
        .select_related("user")
        .order_by("due_at", "id")[:limit]
    )
    ids = throttle.admit(due, now)
    if not ids:
        return []
    return list(claim(ids, now).values_list("id", flat=True))


def claim(ids: list[int], now: datetime, **changes):
    """Move those of `ids` still pending to `sending`; the rows this caller won.

    A fresh token marks this caller's rows: a concurrent claimer's UPDATE
    matches none of the rows already moved to `sending`.
    """
    token = uuid.uuid4().hex
    Notification.objects.filter(id__in=ids, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENDING,
        claimed_at=now,
        claim_token=token,
        attempts=F("attempts") + 1,
        **changes,
    )
    return Notification.objects.filter(
        id__in=ids, status=NotificationStatus.SENDING, claim_token=token
    )


def dispatch_due(now: datetime, enqueue) -> int:
    """Reap, claim and hand each claimed row to `enqueue(notification_id)`."""
    reap(now)
    claimed = claim_due(now)
    for notification_id in claimed:
        enqueue(notification_id)
    return len(claimed)


def deliver_many(
    notification_ids: list[int],
    budget: float = DELIVERY_BUDGET_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Send a batch of claimed notifications in order (a q task).

    Past `budget` seconds (a slow provider), the rest go back to pending for
    the next tick instead of waiting here. Returns how many were attempted.
    """
    started = monotonic()
    for done, notification_id in enumerate(notification_ids):
        if monotonic() - started > budget:
            Notification.objects.filter(
                id__in=notification_ids[done:], status=NotificationStatus.SENDING
            ).update(
                status=NotificationStatus.PENDING,
                bundled_into=None,
                attempts=F("attempts") - 1,  # not tried: the claim does not count
            )
            return done
        deliver(notification_id)
    return len(notification_ids)


def deliver(notification_id: int, now: datetime | None = None) -> str:
    """Send one claimed notification. Safe to call again: only a `sending` row is sent.

    An SMS or voice row for an alert also carries every other due row for the
    same number (held back by the rate limit) in the same message.
    """
    now = now or clock.now()
    notification = (
        Notification.objects.select_related("alert", "alert__group", "user")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.status != NotificationStatus.SENDING:
        return "skipped"
    alert = notification.alert
    who = _who(notification)
    channel = notification.get_channel_display()
    if alert is not None and alert.status != AlertStatus.OPEN:
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            status=NotificationStatus.CANCELLED, error=f"alert {alert.status} before sending"
        )
        return "cancelled"
    bundle = _gather(notification, now)
    try:
        result = transports.send(notification)
    except transports.TransportError as error:
        return _failed(notification, bundle, who, channel, str(error), error.permanent, now)
    except Exception as error:
        # A bug or an unexpected library error: log it and retry like a
        # temporary failure, so the worker lives and the page is not lost.
        log.exception("transport %s crashed on notification %s", channel, notification.pk)
        error_text = f"unexpected error: {error!r}"
        return _failed(notification, bundle, who, channel, error_text, False, now)
    sent = {
        "status": NotificationStatus.SENT,
        "sent_at": now,
        "provider_ref": result.provider_ref[:255],
        "subject": result.subject[:255],
        "body": result.body,
        "error": "",
    }
    # The rows and their timeline entries together: a crash leaves neither.
    with transaction.atomic():
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            **sent
        )
        Notification.objects.filter(
            pk__in=[row.pk for row in bundle],
            status=NotificationStatus.SENDING,
            bundled_into=notification,
        ).update(**sent)
        alerts = {row.alert_id for row in [notification, *bundle]}
        for row in [notification, *bundle]:
            others = len(alerts) - 1
            if others:
                plural = "s" if others > 1 else ""
                how = f"bundled with {others} other alert{plural}"
            else:
                how = row.recipient
            _record(row, EventKind.NOTIFIED, f"Notified {_who(row)} via {channel} ({how}).", now)
    return "sent"


def _who(notification: Notification) -> str:
    return notification.user.display_name if notification.user else notification.recipient


def _gather(carrier: Notification, now: datetime) -> list[Notification]:
    """Claim the other due SMS or voice rows for the carrier's number, to go in
    its message; rows of alerts no longer open are cancelled instead.

    The claim is the same conditional UPDATE and token as claim_due's, so a
    row is either in this bundle or claimed by somebody else, never both.
    Test pages (no alert) are neither bundled nor carry a bundle.
    """
    if carrier.alert_id is None or not throttle.is_throttled(carrier.channel):
        return []
    ids = list(
        Notification.objects.filter(
            channel=carrier.channel,
            recipient=carrier.recipient,
            status=NotificationStatus.PENDING,
            due_at__lte=now,
            alert__isnull=False,
        )
        .exclude(pk=carrier.pk)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:BUNDLE_MAX]
    )
    if not ids:
        return []
    claimed = claim(ids, now, bundled_into=carrier).select_related("alert", "alert__group", "user")
    bundle = []
    for row in claimed.order_by("id"):
        if row.alert.status == AlertStatus.OPEN:
            bundle.append(row)
            continue
        Notification.objects.filter(
            pk=row.pk, status=NotificationStatus.SENDING, claim_token=row.claim_token
        ).update(
            status=NotificationStatus.CANCELLED,
            bundled_into=None,
            error=f"alert {row.alert.status} before sending",
        )
    return bundle


def _record(notification: Notification, kind: str, message: str, now: datetime) -> None:
    """A line on the alert's timeline; test pages belong to no alert and only log."""
    if notification.alert_id is None:
        log.info("test page %s: %s", notification.pk, message)
        return
    record(notification.alert, kind, message, now, notification=notification)


def _failed(
    notification: Notification,
    bundle: list[Notification],
    who: str,
    channel: str,
    error: str,
    permanent: bool,
    now: datetime,
) -> str:
    attempts = notification.attempts
    limit = settings.NOTIFICATION_MAX_ATTEMPTS
    retry_at = now + backoff(attempts)
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
        _bundle_failed(notification, bundle, channel, error, permanent, retry_at, now)
        return "failed"
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
    _bundle_failed(notification, bundle, channel, error, permanent, retry_at, now)
    return "retrying"


def _bundle_failed(
    carrier: Notification,
    bundle: list[Notification],
    channel: str,
    error: str,
    permanent: bool,
    retry_at: datetime,
    now: datetime,
) -> None:
    """The rows a failed message carried: failed with it when the failure is
    permanent (the number cannot be reached), otherwise back to pending, out
    of the bundle, to go again at `retry_at` (in a new bundle, if any)."""
    ours = Notification.objects.filter(status=NotificationStatus.SENDING, bundled_into=carrier)
    for row in bundle:
        mine = ours.filter(pk=row.pk)
        if permanent:
            mine.update(status=NotificationStatus.FAILED, error=error)
            message = (
                f"Could not notify {_who(row)} via {channel} ({row.recipient}): {error} "
                "(permanent failure)."
            )
            _record(row, EventKind.FAILED, message, now)
            continue
        mine.update(
            status=NotificationStatus.PENDING, due_at=retry_at, error=error, bundled_into=None
        )
        message = (
            f"Sending {channel} to {_who(row)} failed (bundled with alert #{carrier.alert_id}): "
            f"{error}. Retrying at {retry_at:%H:%M:%S} UTC."
        )
        _record(row, EventKind.WARNING, message, now)
