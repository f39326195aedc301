"""The ticker: one lease holder at a time, handover after a crash, the watchdog."""

from datetime import timedelta

import pytest
from django.core import mail

from alertops.lib import clock
from escalation import dispatch, ticker
from escalation.alerts import AlertInput, raise_alert
from escalation.models import Alert, EngineLease, Notification
from tests.conftest import T0

TTL = ticker.LEASE_TTL


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def deliver_at(now):
    """An `enqueue` that delivers at once, at the tick's instant."""
    return lambda notification_id: dispatch.deliver(notification_id, now=now)


def lease() -> EngineLease:
    return EngineLease.objects.get(name=ticker.LEASE_NAME)


def open_alert(group) -> Alert:
    alert, _ = raise_alert(group, AlertInput(summary="Disk full", dedup_key="disk"), now=T0)
    return alert


class FakeClock:
    """Time that moves only when the ticker sleeps or a tick does work."""

    def __init__(self, start):
        self.at = start
        self.slept: list[float] = []

    def now(self):
        return self.at

    def sleep(self, duration: float) -> None:
        self.slept.append(duration)
        self.at += seconds(duration)


@pytest.fixture
def started(monkeypatch) -> list[str]:
    """Records start_ticker calls instead of running a ticker loop inline."""
    calls: list[str] = []
    monkeypatch.setattr(
        ticker,
        "start_ticker",
        lambda after="": calls.append(f"start after {after}" if after else "start"),
    )
    return calls


def test_acquire_a_free_lease(db):
    assert ticker.acquire("a", T0)

    assert (lease().holder, lease().expires_at) == ("a", T0 + TTL)
    assert ticker.lease_is_live(T0 + TTL - seconds(1))
    assert not ticker.lease_is_live(T0 + TTL)


def test_live_lease_refuses_others_until_it_expires(db):
    assert ticker.acquire("a", T0)

    assert not ticker.acquire("b", T0 + TTL - seconds(1))
    assert lease().holder == "a"
    assert ticker.acquire("a", T0 + seconds(5))  # the holder may take it again
    assert not ticker.acquire("b", T0 + TTL)  # extended by the line above

    assert ticker.acquire("b", T0 + seconds(5) + TTL)
    assert (lease().holder, lease().expires_at) == ("b", T0 + seconds(5) + 2 * TTL)


def test_renew_fails_after_takeover(db):
    assert ticker.acquire("a", T0)
    assert ticker.renew("a", T0 + seconds(5))
    assert lease().expires_at == T0 + seconds(5) + TTL

    assert ticker.acquire("b", T0 + seconds(15))

    assert not ticker.renew("a", T0 + seconds(16))
    assert (lease().holder, lease().expires_at) == ("b", T0 + seconds(15) + TTL)


def test_release_frees_the_lease_only_for_its_holder(db):
    assert ticker.acquire("a", T0)

    ticker.release("b", T0 + seconds(1))
    assert ticker.lease_is_live(T0 + seconds(1))

    ticker.release("a", T0 + seconds(2))
    assert not ticker.lease_is_live(T0 + seconds(2))
    assert ticker.acquire("b", T0 + seconds(2))


def test_expired_ticker_is_replaced_and_resumes_without_duplicates(group, alice, bob):
    alert = open_alert(group)
    assert ticker.acquire("A", T0)
    assert ticker.tick(T0, deliver_at(T0)) == (1, 1)
    # Ticker A dies here: it never renews again.

    assert not ticker.acquire("B", T0 + TTL - seconds(1))
    assert ticker.acquire("B", T0 + TTL)
    assert ticker.tick(T0 + TTL, deliver_at(T0 + TTL)) == (0, 0)
    five = T0 + timedelta(minutes=5)
    assert ticker.renew("B", five)
    assert ticker.tick(five, deliver_at(five)) == (1, 1)

    assert alert.notifications.filter(user=alice).count() == 1
    assert alert.notifications.filter(user=bob).count() == 1
    assert [m.to for m in mail.outbox] == [["alice@example.com"], ["bob@example.com"]]
    assert set(alert.notifications.values_list("status", flat=True)) == {"sent"}


@pytest.mark.parametrize("successor", [False, True])
def test_run_ticker_ticks_every_tick_then_hands_over(group, started, monkeypatch, successor):
    open_alert(group)
    fake = FakeClock(T0)
    ticked_at = []
    real_tick = ticker.tick

    def working_tick(now, enqueue):
        ticked_at.append(now)
        result = real_tick(now, enqueue)
        fake.at += seconds(0.25)  # the pass takes a quarter of a second
        return result

    monkeypatch.setattr(ticker, "tick", working_tick)

    outcome = ticker.run_ticker(
        "A",
        seconds=3,
        now=fake.now,
        sleep=fake.sleep,
        enqueue=lambda nid: dispatch.deliver(nid, now=fake.now()),
        successor=successor,
    )

    tick = ticker.TICK_SECONDS
    ticks = int(3 / tick) + 1  # one at the start, then one every tick until 3 s
    assert outcome == "finished"
    assert ticked_at == [T0 + seconds(n * tick) for n in range(ticks)]
    assert fake.slept == [tick - 0.25] * (ticks - 1)
    assert lease().holder == "A"
    assert lease().expires_at == T0 + seconds((ticks - 1) * tick + 0.25)
    assert not ticker.lease_is_live(fake.now())
    assert Notification.objects.get().status == "sent"
    assert started == (["start after A"] if successor else [])


def test_run_ticker_stops_when_its_lease_is_stolen(group, started, monkeypatch):
    fake = FakeClock(T0)
    ticked_at = []
    monkeypatch.setattr(ticker, "tick", lambda now, enqueue: ticked_at.append(now) or (0, 0))

    def sleep_then_lose_the_lease(duration):
        fake.sleep(duration)
        if len(fake.slept) == 2:
            EngineLease.objects.update(holder="thief", expires_at=fake.now() + TTL)

    outcome = ticker.run_ticker(
        "A", seconds=10, now=fake.now, sleep=sleep_then_lose_the_lease, successor=True
    )

    assert outcome == "lease lost"
    tick = seconds(ticker.TICK_SECONDS)
    assert ticked_at == [T0, T0 + tick, T0 + 2 * tick]
    assert (lease().holder, lease().expires_at) == ("thief", T0 + 2 * tick + TTL)
    assert started == []


def test_run_ticker_gives_up_while_a_live_ticker_keeps_renewing(db, started, monkeypatch):
    ticked = []
    monkeypatch.setattr(ticker, "tick", lambda now, enqueue: ticked.append(now))
    fake = FakeClock(T0)
    assert ticker.acquire("other", T0)

    def sleep_while_other_renews(duration):
        fake.sleep(duration)
        assert ticker.renew("other", fake.now())

    outcome = ticker.run_ticker("A", seconds=3, now=fake.now, sleep=sleep_while_other_renews)

    assert outcome == "lease held by another ticker"
    assert ticked == []
    assert lease().holder == "other"
    assert sum(fake.slept) == (TTL + seconds(ticker.TICK_SECONDS)).total_seconds()
    assert started == []


def test_run_ticker_takes_over_once_a_dead_tickers_lease_expires(db, started, monkeypatch):
    ticked = []
    monkeypatch.setattr(ticker, "tick", lambda now, enqueue: ticked.append(now) or (0, 0))
    fake = FakeClock(T0)
    assert ticker.acquire("dead", T0 - seconds(4))  # expires at T0 + 6 s

    outcome = ticker.run_ticker("A", seconds=2, now=fake.now, sleep=fake.sleep, successor=False)

    assert outcome == "finished"
    assert ticked[0] == T0 + seconds(6)
    assert lease().holder == "A"


def test_watchdog_starts_a_ticker_only_without_a_live_lease(db, started, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: T0)
    assert ticker.watchdog() == "ticker started"
    assert started == ["start"]

    assert ticker.acquire("A", T0 - seconds(1))
    assert ticker.watchdog() == "ticker alive"
    assert started == ["start"]

    monkeypatch.setattr(clock, "now", lambda: T0 + TTL)
    assert ticker.watchdog() == "ticker started"
    assert started == ["start", "start"]


def test_start_ticker_enqueues_the_ticker_task(monkeypatch):
    enqueued = []
    monkeypatch.setattr(ticker, "async_task", lambda func, **kw: enqueued.append((func, kw)))

    ticker.start_ticker()
    ticker.start_ticker(after="A")

    assert [(func, kw["after"]) for func, kw in enqueued] == [
        ("escalation.ticker.run_ticker", ""),
        ("escalation.ticker.run_ticker", "A"),
    ]


def test_qcluster_command_starts_the_engine_before_the_cluster(db, started, monkeypatch):
    from django_q.management.commands.qcluster import Command as QClusterCommand
    from django_q.models import Schedule

    from alertops.management.commands.qcluster import Command

    Schedule.objects.all().delete()
    order = []
    monkeypatch.setattr(ticker, "start_ticker", lambda: order.append("ticker"))
    monkeypatch.setattr(QClusterCommand, "handle", lambda self, *a, **kw: order.append("cluster"))

    Command().handle()

    assert order == ["ticker", "cluster"]
    assert Schedule.objects.filter(func="escalation.ticker.watchdog", minutes=1).exists()


def test_migrate_creates_the_watchdog_and_pruning_schedules(db):
    """post_migrate is sent only for apps with models: the schedules hang on django_q's."""
    from django.core.management.sql import emit_post_migrate_signal
    from django_q.models import Schedule

    Schedule.objects.all().delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert set(Schedule.objects.values_list("func", "schedule_type", "repeats")) == {
        ("escalation.ticker.watchdog", Schedule.MINUTES, -1),
        ("integrations.retention.prune", Schedule.DAILY, -1),
        ("integrations.heartbeats.check", Schedule.MINUTES, -1),
        ("integrations.outbound.delivery.sweep", Schedule.MINUTES, -1),
    }


def test_default_tick_hands_deliveries_to_workers_in_batches(group, monkeypatch):
    batches = []
    monkeypatch.setattr(
        ticker, "async_task", lambda func, ids, **kw: batches.append((func, list(ids)))
    )
    for n in range(ticker.DELIVERY_BATCH + 3):
        raise_alert(group, AlertInput(summary=f"Disk {n}", dedup_key=f"d{n}"), now=T0)

    assert ticker.tick(T0) == (ticker.DELIVERY_BATCH + 3, ticker.DELIVERY_BATCH + 3)

    assert [func for func, _ in batches] == ["escalation.dispatch.deliver_many"] * 2
    assert [len(ids) for _, ids in batches] == [ticker.DELIVERY_BATCH, 3]
    claimed = set(Notification.objects.filter(status="sending").values_list("id", flat=True))
    assert {i for _, ids in batches for i in ids} == claimed


def test_a_batch_past_its_budget_puts_the_rest_back_for_the_next_tick(group, monkeypatch):
    for n in range(3):
        raise_alert(group, AlertInput(summary=f"Disk {n}", dedup_key=f"d{n}"), now=T0)
    ids: list[int] = []
    ticker.tick(T0, enqueue=ids.append)
    delivered = []
    monkeypatch.setattr(dispatch, "deliver", lambda nid: delivered.append(nid))
    clock_values = iter([0.0, 0.0, 30.0])

    assert dispatch.deliver_many(ids, budget=20, monotonic=lambda: next(clock_values)) == 1

    assert delivered == ids[:1]
    rest = Notification.objects.filter(id__in=ids[1:])
    assert set(rest.values_list("status", "attempts")) == {("pending", 0)}


def test_successor_is_enqueued_before_the_end_and_only_once(db, monkeypatch):
    fake = FakeClock(T0)
    events = []
    monkeypatch.setattr(ticker, "tick", lambda now, enqueue: events.append(("tick", now)))
    monkeypatch.setattr(
        ticker, "start_ticker", lambda after="": events.append(("start", fake.now(), after))
    )

    assert ticker.run_ticker("A", seconds=10, now=fake.now, sleep=fake.sleep) == "finished"

    starts = [event[1:] for event in events if event[0] == "start"]
    assert starts == [(T0 + seconds(10) - ticker.HANDOVER_LEAD, "A")]
    later_ticks = [e[1] for e in events if e[0] == "tick" and e[1] > starts[0][0]]
    assert later_ticks, "the ticker keeps ticking after enqueueing its successor"
    assert not ticker.lease_is_live(fake.now())


def test_a_successor_waits_for_its_predecessor_however_long_its_last_passes_take(
    db, started, monkeypatch
):
    """Under load a ticker's last passes can run far past its deadline; the
    successor it enqueued must not give up meanwhile, or nothing ticks."""
    ticked = []
    monkeypatch.setattr(ticker, "tick", lambda now, enqueue: ticked.append(now) or (0, 0))
    fake = FakeClock(T0)
    assert ticker.acquire("A", T0)

    def sleep_while_a_renews_for_30_seconds(duration):
        fake.sleep(duration)
        if fake.now() < T0 + seconds(30):
            assert ticker.renew("A", fake.now())
        elif lease().holder == "A":
            ticker.release("A", fake.now())

    outcome = ticker.run_ticker(
        "B",
        seconds=1,
        now=fake.now,
        sleep=sleep_while_a_renews_for_30_seconds,
        successor=False,
        after="A",
    )

    assert outcome == "finished"
    assert ticked[0] == T0 + seconds(30)
    assert lease().holder == "B"


def test_a_successor_still_gives_up_on_a_ticker_that_is_not_its_predecessor(
    db, started, monkeypatch
):
    monkeypatch.setattr(ticker, "tick", lambda now, enqueue: (0, 0))
    fake = FakeClock(T0)
    assert ticker.acquire("other", T0)

    def sleep_while_other_renews(duration):
        fake.sleep(duration)
        assert ticker.renew("other", fake.now())

    outcome = ticker.run_ticker(
        "B", seconds=1, now=fake.now, sleep=sleep_while_other_renews, after="A"
    )

    assert outcome == "lease held by another ticker"
    assert sum(fake.slept) == (TTL + seconds(ticker.TICK_SECONDS)).total_seconds()
