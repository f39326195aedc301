"""Sending deliveries: claim, POST, record the attempt, retry with backoff.

A q task (`sweep`) runs every minute from a Schedule (alertops/qcluster.py)
and right after a transaction that wrote deliveries commits
(events.wake_after_commit). django-q has no ETA, so a retry is simply a
pending row whose next_attempt_at has come; the sweep finds it.

Each row is claimed by a conditional UPDATE (pending and due -> sending),
one row at a time, and only the caller whose UPDATE matched sends it: two
workers, on SQLite or PostgreSQL, never send the same attempt twice. The
result is written back under the same claim (status sending, same attempt
count and claim time). A row left in sending by a worker that died is put
back by `reap`; receivers drop the repeat by its id if the lost attempt had
in fact arrived.

A temporary failure (attempts.py: 408, 429, 5xx, a timeout, a connection
error) is retried after RETRY_DELAYS (1, 2, 5, 10, 30 minutes, 1, 2, 4 and
8 hours: ten attempts over about 16 hours; a longer Retry-After is honoured
up to the last delay), then the row fails. A permanent one (a redirect, any
other 4xx, a refused target) fails at once. A test delivery is tried once.

No task runs long: a sweep starts no attempt after SWEEP_BUDGET_SECONDS,
each attempt is bounded by OUTBOUND_WEBHOOK_TIMEOUT (at most
attempts.MAX_TIMEOUT_SECONDS), and within one sweep a webhook whose attempt failed
temporarily gets no further attempts, so a slow target costs others at most
one timeout per sweep.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import F

from accounts.models import User
from alertops.lib import clock
from integrations.models import DeliveryStatus, OutboundWebhook, WebhookDelivery
from integrations.outbound import attempts, payloads
from integrations.outbound.attempts import Outcome

log = logging.getLogger(__name__)

RETRY_DELAYS = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10, 30, 60, 120, 240, 480))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TEST_ATTEMPTS = 1
SWEEP_BUDGET_SECONDS = 25.0
# Longer than a sweep task may live (its timeout), so a live attempt is never
# taken for a lost one.
STUCK_AFTER = timedelta(minutes=3)
BATCH = 50
LOG_EXCERPT_CHARS = 300


def max_attempts(delivery: WebhookDelivery) -> int:
    return TEST_ATTEMPTS if delivery.event == payloads.TEST_EVENT else MAX_ATTEMPTS


def retry_delay(made: int, retry_after: str = "") -> timedelta:
    """The wait after attempt number `made` failed; Retry-After (seconds) if longer."""
    delay = RETRY_DELAYS[min(max(made, 1), len(RETRY_DELAYS)) - 1]
    if retry_after.strip().isdigit():
        asked = timedelta(seconds=int(retry_after.strip()))
        delay = min(max(delay, asked), RETRY_DELAYS[-1])
    return delay


def claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Move one due pending row to sending; the row if this caller won it."""
    won = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not won:
        return None
    return WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)


def finish(delivery: WebhookDelivery, outcome: Outcome, at: datetime, ms: int) -> str:
    """Write the attempt's result under this caller's claim; the row's new status."""
    entry = {
        "attempt": delivery.attempts,
        "at": payloads.iso(at),
        "response_code": outcome.response_code,
        "duration_ms": ms,
        "error": outcome.error,
        "response": outcome.excerpt[:LOG_EXCERPT_CHARS],
    }
    limit = max_attempts(delivery)
    changes: dict = {
        "last_attempt_at": at,
        "response_code": outcome.response_code,
        "duration_ms": ms,
        "log": [*delivery.log, entry],
        "next_attempt_at": None,
    }
    if outcome.delivered:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=at, error="")
    elif outcome.permanent or delivery.attempts >= limit:
        why = "not retried" if outcome.permanent else f"gave up after {delivery.attempts} attempts"
        changes.update(status=DeliveryStatus.FAILED, error=f"{outcome.error} ({why})")
    else:
        retry_at = at + retry_delay(delivery.attempts, outcome.retry_after)
        changes.update(status=DeliveryStatus.PENDING, next_attempt_at=retry_at)
        changes["error"] = (
            f"{outcome.error} (attempt {delivery.attempts} of {limit}; "
            f"retrying at {retry_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
    ours = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        status=DeliveryStatus.SENDING,
        attempts=delivery.attempts,
        claimed_at=delivery.claimed_at,
    )
    if not ours.update(**changes):
        log.warning("delivery %s was taken over while it was being sent", delivery.pk)
        return "taken over"
    return changes["status"]


def deliver(delivery: WebhookDelivery, now: datetime | None = None) -> str:
    """Send a row this caller has claimed and record the result; its new status."""
    at = now or clock.now()
    started = time.monotonic()
    outcome = attempts.post(delivery.webhook, delivery, at)
    ms = int((time.monotonic() - started) * 1000)
    return finish(delivery, outcome, at, ms)


def reap(now: datetime) -> int:
    """Put rows stuck in sending (their worker died) back to pending, or fail them
    when that was their last attempt. Returns how many were put back or failed."""
    stuck = WebhookDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - STUCK_AFTER
    )
    moved = 0
    for delivery in stuck.order_by("id")[:BATCH]:
        error = "The attempt was cut off (its worker stopped)"
        entry = {"attempt": delivery.attempts, "at": payloads.iso(now), "response_code": None}
        entry.update(duration_ms=None, error=error, response="")
        changes: dict = {"log": [*delivery.log, entry], "last_attempt_at": now}
        if delivery.attempts >= max_attempts(delivery):
            changes.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            changes["error"] = f"{error} (gave up after {delivery.attempts} attempts)"
        else:
            changes.update(status=DeliveryStatus.PENDING, next_attempt_at=now)
            changes["error"] = f"{error}; retrying"
        moved += WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, claimed_at=delivery.claimed_at
        ).update(**changes)
    return moved


def due(now: datetime, skip_webhooks: set[int], limit: int = BATCH) -> list[tuple[int, int]]:
    """(delivery id, webhook id) of pending rows due at `now`, oldest first."""
    rows = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__enabled=True
    ).exclude(webhook_id__in=skip_webhooks)
    return list(rows.order_by("next_attempt_at", "id").values_list("id", "webhook_id")[:limit])


def send_due(
    now: datetime | None = None,
    budget: float = SWEEP_BUDGET_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Send every due delivery, until none is left or `budget` seconds have passed.

    Returns how many attempts were made. A webhook whose attempt failed
    temporarily is left alone for the rest of this sweep (its other rows wait
    for the next one), so one slow receiver does not hold up the others.
    """
    started = monotonic()
    troubled: set[int] = set()
    made = 0
    while True:
        batch = due(now or clock.now(), troubled)
        if not batch:
            return made
        for delivery_id, webhook_id in batch:
            if monotonic() - started >= budget:
                return made
            if webhook_id in troubled:
                continue
            at = now or clock.now()
            delivery = claim(delivery_id, at)
            if delivery is None:
                continue  # another worker has it
            status = deliver(delivery, at)
            made += 1
            if status == DeliveryStatus.PENDING:
                troubled.add(webhook_id)


def sweep(now: datetime | None = None) -> str:
    """The q task: put back stuck rows, then send what is due."""
    reaped = reap(now or clock.now())
    made = send_due(now)
    return f"{made} attempt(s) made, {reaped} stuck row(s) put back"


def send_test(webhook: OutboundWebhook, now: datetime, by: User | None) -> WebhookDelivery:
    """Create a test delivery and send it at once, the way every delivery is sent.

    The row is created already claimed, so no sweep can take it meanwhile;
    it is tried once.
    """
    event_id = str(uuid.uuid4())
    who = payloads.actor(by)
    name = by.display_name if by else "AlertOps"
    message = f"Test delivery to {webhook.name}, sent by {name}."
    document = payloads.document(
        event_id, payloads.TEST_EVENT, now, message, who, payloads.example_alert(now)
    )
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        event=payloads.TEST_EVENT,
        event_id=event_id,
        payload=document,
        status=DeliveryStatus.SENDING,
        attempts=1,
        claimed_at=now,
        next_attempt_at=now,
        created_at=now,
    )
    deliver(delivery, now)
    delivery.refresh_from_db()
    return delivery


def redeliver(delivery: WebhookDelivery, now: datetime) -> bool:
    """Try a failed delivery again from its first attempt (kept in its log)."""
    return bool(
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED)
        .exclude(event=payloads.TEST_EVENT)
        .update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, error="")
    )
