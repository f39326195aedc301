"""The ticker: the q-cluster task that drives the engine twice a second.

One ticker runs at a time, holding a lease row. It loops for about 20 seconds,
every half second firing due escalation steps and dispatching due notifications,
renewing its lease; a few seconds before its end it enqueues its successor,
which waits for the lease and takes over when this one releases it.
A one-minute watchdog Schedule (alertops/qcluster.py) starts a new ticker
whenever the lease has expired, so a killed cluster recovers by itself.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django_q.tasks import async_task

from alertops.lib import clock
from escalation import dispatch, engine
from escalation.models import EngineLease

log = logging.getLogger(__name__)

LEASE_NAME = "engine"
LEASE_TTL = timedelta(seconds=10)
RUN_SECONDS = 20
TICK_SECONDS = 0.5
# How long before its end a ticker enqueues its successor.
HANDOVER_LEAD = timedelta(seconds=5)
# Notifications are handed to q workers this many at a time: one broker round
# trip per batch instead of per message.
DELIVERY_BATCH = 10


def acquire(holder: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Take the lease if it is free or expired (or already ours)."""
    taken = (
        EngineLease.objects.filter(name=LEASE_NAME)
        .filter(Q(expires_at__lte=now) | Q(holder=holder))
        .update(holder=holder, expires_at=now + ttl, acquired_at=now)
    )
    if taken:
        return True
    if EngineLease.objects.filter(name=LEASE_NAME).exists():
        return False
    try:
        with transaction.atomic():
            EngineLease.objects.create(
                name=LEASE_NAME, holder=holder, expires_at=now + ttl, acquired_at=now
            )
    except IntegrityError:
        return False
    return True


def renew(holder: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Extend our lease. False if somebody else has taken it over."""
    return bool(
        EngineLease.objects.filter(name=LEASE_NAME, holder=holder).update(expires_at=now + ttl)
    )


def release(holder: str, now: datetime) -> None:
    EngineLease.objects.filter(name=LEASE_NAME, holder=holder).update(expires_at=now)


def lease_holder() -> str:
    return (
        EngineLease.objects.filter(name=LEASE_NAME).values_list("holder", flat=True).first() or ""
    )


def lease_is_live(now: datetime) -> bool:
    return EngineLease.objects.filter(name=LEASE_NAME, expires_at__gt=now).exists()


def enqueue_deliveries(notification_ids: list[int]) -> None:
    for start in range(0, len(notification_ids), DELIVERY_BATCH):
        batch = notification_ids[start : start + DELIVERY_BATCH]
        async_task(
            "escalation.dispatch.deliver_many",
            batch,
            task_name=f"deliver notifications {batch[0]}..{batch[-1]}",
            q_options={"timeout": dispatch.DELIVER_TASK_TIMEOUT},
        )


def tick(now: datetime, enqueue: Callable[[int], None] | None = None) -> tuple[int, int]:
    """One pass of the engine at `now`: (escalation steps fired, notifications dispatched).

    Claimed notifications go to `enqueue` one by one when given, else to the
    q workers in batches.
    """
    moved = engine.run_due(now)
    if enqueue is not None:
        return moved, dispatch.dispatch_due(now, enqueue)
    claimed: list[int] = []
    dispatched = dispatch.dispatch_due(now, claimed.append)
    enqueue_deliveries(claimed)
    return moved, dispatched


def run_ticker(
    holder: str | None = None,
    seconds: float = RUN_SECONDS,
    now: Callable[[], datetime] = clock.now,
    sleep: Callable[[float], None] = time.sleep,
    enqueue: Callable[[int], None] | None = None,
    successor: bool = True,
    after: str = "",
) -> str:
    """Hold the lease and tick every second for `seconds`, then hand over.

    A lease held by somebody else is waited for, up to its lifetime: a holder
    that died (a killed cluster) is replaced within LEASE_TTL, a live one
    keeps renewing and this ticker gives up. A successor (`after` names the
    ticker that enqueued it) waits for as long as that ticker holds the lease:
    under load its last passes may run well past its deadline, and if the
    successor gave up meanwhile the engine would stop until the watchdog.
    """
    holder = holder or uuid.uuid4().hex
    patience = LEASE_TTL + timedelta(seconds=TICK_SECONDS)
    give_up_at = now() + patience
    while not acquire(holder, now()):
        if after and lease_holder() == after:
            give_up_at = now() + patience  # the predecessor still ticks; it releases when done
        elif now() >= give_up_at:
            return "lease held by another ticker"
        sleep(TICK_SECONDS)
    started = now()
    deadline = started + timedelta(seconds=seconds)
    outcome = "finished"
    handed_over = False
    try:
        while True:
            began = now()
            try:
                tick(began, enqueue)
            except DatabaseError:
                log.exception("ticker pass failed; trying again next tick")
            if not renew(holder, now()):
                outcome = "lease lost"
                break
            if successor and not handed_over and now() >= deadline - HANDOVER_LEAD:
                # Enqueued early, the successor gets through the task queue
                # (behind any deliveries) while this one still ticks; it then
                # waits for the lease and takes over within one tick.
                start_ticker(after=holder)
                handed_over = True
            if now() >= deadline:
                break
            elapsed = (now() - began).total_seconds()
            sleep(max(TICK_SECONDS - elapsed, 0.0))
    finally:
        release(holder, now())
    if successor and outcome == "finished" and not handed_over:
        start_ticker()
    return outcome


def start_ticker(after: str = "") -> None:
    """Enqueue a ticker; `after` makes it the successor of that ticker."""
    async_task("escalation.ticker.run_ticker", after=after, task_name="escalation ticker")


def watchdog(now: datetime | None = None) -> str:
    """Start a ticker when none holds a live lease (run every minute by the q cluster)."""
    if lease_is_live(now or clock.now()):
        return "ticker alive"
    start_ticker()
    return "ticker started"
