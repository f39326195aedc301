"""Sending outbound webhook deliveries to a real receiver on 127.0.0.1: the
signature, retries with backoff, giving up, timeouts, stuck rows, refused
targets, and two senders at once."""

import hashlib
import hmac
import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection

from escalation import alerts
from integrations.models import WebhookDelivery
from integrations.outbound import delivery, targets
from integrations.outbound import events as outbound_events
from tests.conftest import T0
from tests.outbound_helpers import HANG, Receiver, deliveries, make_webhook, open_alert


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def allow_private(settings):
    """The receiver listens on 127.0.0.1, which webhooks may reach only when allowed."""
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def test_a_500_is_retried_after_the_backoff_and_every_attempt_is_signed(
    receiver, allow_private, group
):
    receiver.answers = [500, 200]
    webhook = make_webhook(receiver.url)
    alert = open_alert(group)
    (row,) = deliveries()

    assert delivery.sweep(now=T0) == "1 attempt(s) made, 0 stuck row(s) put back"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code) == ("pending", 1, 500)
    assert row.next_attempt_at == T0 + timedelta(minutes=1)
    assert "HTTP 500 Internal Server Error (attempt 1 of 10; retrying at" in row.error

    delivery.sweep(now=T0 + timedelta(seconds=59))  # not due yet
    assert len(receiver.requests) == 1

    delivery.sweep(now=T0 + timedelta(minutes=1))
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code) == ("delivered", 2, 200)
    assert row.delivered_at == T0 + timedelta(minutes=1)
    assert row.error == ""
    assert [(a["attempt"], a["response_code"]) for a in row.log] == [(1, 500), (2, 200)]
    assert row.log[0]["error"] == "HTTP 500 Internal Server Error"
    assert row.log[1]["response"] == "answer 200"

    first, second = receiver.requests
    assert first.path == "/hooks/alertops"
    assert first.body == second.body  # the same document, retried
    assert first.json["id"] == second.json["id"] == row.event_id
    assert first.json["event"] == "alert.created"
    assert first.json["alert"]["id"] == alert.pk
    for request, at in ((first, T0), (second, T0 + timedelta(minutes=1))):
        headers = request.headers
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"].startswith("AlertOps")
        assert headers["X-AlertOps-Event"] == "alert.created"
        assert headers["X-AlertOps-Delivery"] == row.event_id
        assert headers["X-AlertOps-Timestamp"] == str(int(at.timestamp()))
        assert headers["X-AlertOps-Signature"] == expected_signature(
            webhook.secret, headers["X-AlertOps-Timestamp"], request.body
        )
    assert first.headers["X-AlertOps-Attempt"] == "1"
    assert second.headers["X-AlertOps-Attempt"] == "2"
    # Signed over the timestamp too: the first attempt's signature is not the second's.
    assert first.headers["X-AlertOps-Signature"] != second.headers["X-AlertOps-Signature"]


def test_backoff_grows_and_gives_up_after_the_last_attempt(receiver, allow_private, group):
    receiver.answers = [503]
    make_webhook(receiver.url)
    open_alert(group)
    (row,) = deliveries()
    at = T0
    waits = []
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.sweep(now=at)
        row.refresh_from_db()
        if row.next_attempt_at is None:
            break
        waits.append(row.next_attempt_at - at)
        at = row.next_attempt_at
    assert [int(w.total_seconds() // 60) for w in waits] == [1, 2, 5, 10, 30, 60, 120, 240, 480]
    assert row.status == "failed"
    assert row.attempts == delivery.MAX_ATTEMPTS == 10
    assert row.error == "HTTP 503 Service Unavailable (gave up after 10 attempts)"
    assert len(receiver.requests) == 10
    delivery.sweep(now=at + timedelta(days=1))
    assert len(receiver.requests) == 10


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_4xx_gives_up_at_once(receiver, allow_private, group, status):
    receiver.answers = [status]
    make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("failed", 1, status)
    assert "refused by the receiver (not retried)" in row.error
    delivery.sweep(now=T0 + timedelta(hours=1))
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 502])
def test_408_429_and_5xx_are_retried(receiver, allow_private, group, status):
    receiver.answers = [status, 204]
    make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    assert deliveries()[0].status == "pending"
    delivery.sweep(now=T0 + timedelta(minutes=1))
    assert deliveries()[0].status == "delivered"


def test_a_longer_retry_after_is_honoured(receiver, allow_private, group):
    receiver.answers = [(429, {"Retry-After": "600"})]
    make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    assert deliveries()[0].next_attempt_at == T0 + timedelta(minutes=10)


def test_a_redirect_is_not_followed(receiver, allow_private, group):
    receiver.answers = [(302, {"Location": "http://127.0.0.1:1/elsewhere"})]
    make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert row.status == "failed"
    assert "redirected to http://127.0.0.1:1/elsewhere" in row.error
    assert len(receiver.requests) == 1


def test_a_timeout_is_retried(receiver, allow_private, group, settings):
    settings.OUTBOUND_WEBHOOK_TIMEOUT = 0.3
    receiver.answers = [HANG, 200]
    make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert row.status == "pending"
    assert row.response_code is None
    assert row.log[0]["error"] == "No answer within 0.3 s (timed out)"
    delivery.sweep(now=T0 + timedelta(minutes=1))
    row.refresh_from_db()
    assert row.status == "delivered"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_retried(allow_private, group):
    make_webhook(f"http://127.0.0.1:{free_port()}/")
    open_alert(group)
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert row.status == "pending"
    assert row.log[0]["error"] == "Could not connect: [Errno 111] Connection refused"


def test_proxy_settings_of_the_environment_are_not_used(
    receiver, allow_private, group, monkeypatch
):
    """The connected address must be the target's, the one that was checked."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    assert deliveries()[0].status == "delivered"
    assert len(receiver.requests) == 1


def test_a_slow_receiver_holds_up_no_other_webhook(allow_private, group, settings):
    settings.OUTBOUND_WEBHOOK_TIMEOUT = 0.3
    with Receiver(HANG) as slow, Receiver(200) as fast:
        make_webhook(slow.url, name="Slow")
        make_webhook(fast.url, name="Fast")
        open_alert(group, "a")
        open_alert(group, "b")
        delivery.sweep(now=T0)
        assert len(slow.requests) == 1  # its second delivery waits for the next sweep
        assert len(fast.requests) == 2
    statuses = sorted((d.webhook.name, d.status) for d in deliveries())
    assert statuses == [
        ("Fast", "delivered"),
        ("Fast", "delivered"),
        ("Slow", "pending"),
        ("Slow", "pending"),
    ]
    assert sorted(d.attempts for d in deliveries(webhook__name="Slow")) == [0, 1]


def test_the_sweep_starts_nothing_past_its_budget(receiver, allow_private, group):
    make_webhook(receiver.url)
    open_alert(group, "a")
    open_alert(group, "b")
    ticks = iter([0.0, 0.0, 100.0, 100.0])
    assert delivery.send_due(T0, budget=25, monotonic=lambda: next(ticks)) == 1
    assert sorted(d.status for d in deliveries()) == ["delivered", "pending"]


def test_a_disabled_webhooks_deliveries_wait(receiver, allow_private, group):
    webhook = make_webhook(receiver.url)
    open_alert(group)
    webhook.enabled = False
    webhook.save()
    delivery.sweep(now=T0)
    assert receiver.requests == []
    webhook.enabled = True
    webhook.save()
    delivery.sweep(now=T0)
    assert deliveries()[0].status == "delivered"


def test_a_row_stuck_in_sending_is_put_back_and_sent(receiver, allow_private, group):
    make_webhook(receiver.url)
    open_alert(group)
    (row,) = deliveries()
    # A worker claimed it and died before it could write the result.
    assert delivery.claim(row.pk, T0) is not None
    delivery.sweep(now=T0 + timedelta(minutes=1))
    assert receiver.requests == []  # a live attempt is not taken for a lost one

    later = T0 + delivery.STUCK_AFTER + timedelta(seconds=1)
    assert delivery.sweep(now=later) == "1 attempt(s) made, 1 stuck row(s) put back"
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)
    assert row.log[0]["error"] == "The attempt was cut off (its worker stopped)"
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["X-AlertOps-Attempt"] == "2"


def test_a_row_stuck_on_its_last_attempt_fails(allow_private, group):
    make_webhook("http://127.0.0.1:9/")
    open_alert(group)
    (row,) = deliveries()
    WebhookDelivery.objects.filter(pk=row.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    delivery.claim(row.pk, T0)
    assert delivery.reap(T0 + delivery.STUCK_AFTER + timedelta(seconds=1)) == 1
    row.refresh_from_db()
    assert row.status == "failed"
    assert row.error == "The attempt was cut off (its worker stopped) (gave up after 10 attempts)"


def test_a_claimed_row_cannot_be_claimed_again(allow_private, group):
    make_webhook("http://127.0.0.1:9/")
    open_alert(group)
    (row,) = deliveries()
    assert delivery.claim(row.pk, T0) is not None
    assert delivery.claim(row.pk, T0) is None
    assert delivery.claim(row.pk, T0 + timedelta(hours=1)) is None


def test_a_loopback_target_is_refused_at_send_time(receiver, group, settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    make_webhook(receiver.url)  # saved while allowed
    open_alert(group)
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert row.status == "failed"
    assert row.error.startswith("Refused target: 127.0.0.1, a loopback address")
    assert "OUTBOUND_WEBHOOKS_ALLOW_PRIVATE" in row.error
    assert row.error.endswith("(not retried)")
    assert receiver.requests == []


def test_a_name_that_resolves_differently_at_connect_time_is_refused(
    receiver, group, settings, monkeypatch
):
    """DNS rebinding: the check saw a public address, the connection reached loopback."""
    make_webhook(receiver.url)
    open_alert(group)
    monkeypatch.setattr(targets, "check_url", lambda url: None)
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert row.status == "failed"
    assert "127.0.0.1, a loopback address" in row.error
    assert receiver.requests == []


def test_alert_resolved_after_the_event_still_tells_the_event(receiver, allow_private, group):
    make_webhook(receiver.url)
    alert = open_alert(group)
    alerts.resolve(alert, T0 + timedelta(minutes=2))
    delivery.sweep(now=T0 + timedelta(minutes=2))
    sent = [r.json for r in receiver.requests]
    assert [s["event"] for s in sent] == ["alert.created", "alert.resolved"]
    assert sent[0]["alert"]["status"] == "open"  # as it was after the event
    assert sent[1]["alert"]["status"] == "resolved"


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_each_delivery_once(group, settings, monkeypatch):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    woken = []
    # Each commit wakes a sender; here the two threads below are the senders.
    monkeypatch.setattr(outbound_events, "wake", lambda: woken.append(1))
    with Receiver(200) as server:
        make_webhook(server.url)
        for n in range(12):
            open_alert(group, f"k{n}")
        assert len(woken) == 12
        barrier = threading.Barrier(2, timeout=30)
        errors = []

        def sender():
            try:
                barrier.wait()
                delivery.send_due(T0)
            except Exception as error:  # reported below
                errors.append(repr(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        ids = [r.headers["X-AlertOps-Delivery"] for r in server.requests]
    assert len(ids) == 12
    assert len(set(ids)) == 12
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}


def test_the_q_cluster_sweeps_every_minute(db):
    """django-q has no ETA: retries go out because this sweep finds them due."""
    from django.utils.module_loading import import_string
    from django_q.models import Schedule

    from alertops import qcluster

    qcluster.ensure_schedules()
    qcluster.ensure_schedules()  # idempotent: one schedule, however often the cluster starts
    (schedule,) = Schedule.objects.filter(name=qcluster.OUTBOUND_NAME)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert import_string(schedule.func) is delivery.sweep
