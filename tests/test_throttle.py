"""Rate limits per number for SMS and voice: held back, then bundled, never dropped.

Time is passed in; the fake Twilio records every request. The Payments group
pages Alice (Primary, +15550000001) by SMS at its first step unless a test
says otherwise.
"""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import mail

from escalation import dispatch, links, messages, throttle, ticker
from escalation.alerts import AlertInput, acknowledge, raise_alert
from escalation.models import (
    Alert,
    AlertStatus,
    EventKind,
    Notification,
    NotificationStatus,
    StepTarget,
)
from escalation.selftest import send_test_page
from groups.models import Group, Membership
from tests.conftest import T0

ALICE = "+15550000001"
BOB = "+15550000002"
PENDING, SENT = NotificationStatus.PENDING, NotificationStatus.SENT
CANCELLED, FAILED = NotificationStatus.CANCELLED, NotificationStatus.FAILED
LIMIT = "(rate limit: 1 per minute per number)"
HELD_A_MINUTE = f"held back until 09:01:00 UTC {LIMIT}."


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


@pytest.fixture
def sms_first(policy) -> None:
    """The first step pages the Primary by SMS only."""
    policy.steps.filter(position=0).update(channels=["sms"])


@pytest.fixture(autouse=True)
def default_limits(settings) -> None:
    settings.THROTTLE_SMS_VOICE_PER_MINUTE = 1
    settings.THROTTLE_SMS_VOICE_PER_15_MINUTES = 5


def tick(now) -> tuple[int, int]:
    """One ticker pass at `now`, delivering what it claims at once, at `now`."""
    return ticker.tick(now, lambda notification_id: dispatch.deliver(notification_id, now=now))


def page(group: Group, summary: str, at) -> Alert:
    """Raise an alert at `at` and run the ticker then: its first step pages and dispatches."""
    alert, created = raise_alert(group, AlertInput(summary=summary, dedup_key=summary), at)
    assert created
    tick(at)
    return alert


def row(alert: Alert, channel: str = "sms", recipient: str = ALICE) -> Notification:
    return alert.notifications.get(channel=channel, recipient=recipient)


def timeline(alert: Alert, kind: str | None = None) -> list[str]:
    events = alert.events.all()
    if kind:
        events = events.filter(kind=kind)
    return list(events.values_list("message", flat=True))


def held_lines(alert: Alert) -> list[str]:
    return [m for m in timeline(alert) if "held back until" in m]


def bodies(fake_twilio) -> list[str]:
    """The text of every SMS sent, in order."""
    return [r["data"]["Body"] for r in fake_twilio.requests if r["uri"].endswith("/Messages.json")]


# The rule itself: a pure function of the sends so far and `now`.


def test_earliest_is_now_without_recent_sends():
    limits = [throttle.Limit(1, minutes(1), "minute"), throttle.Limit(5, minutes(15), "15 min")]

    assert throttle.earliest([], T0, limits) == throttle.Verdict(T0, None)
    assert throttle.earliest([T0 - minutes(1)], T0, limits).at == T0  # just left the window


def test_earliest_waits_for_the_binding_limit():
    per_minute = throttle.Limit(1, minutes(1), "minute")
    per_quarter = throttle.Limit(5, minutes(15), "15 minutes")
    limits = [per_minute, per_quarter]

    assert throttle.earliest([T0 - seconds(20)], T0, limits) == throttle.Verdict(
        T0 + seconds(40), per_minute
    )
    five = [T0 - minutes(m) for m in (14, 10, 6, 3, 2)]
    assert throttle.earliest(five, T0, limits) == throttle.Verdict(T0 + minutes(1), per_quarter)
    assert throttle.earliest(five, T0, [per_minute]).at == T0


def test_limits_follow_the_settings(settings):
    assert [str(limit) for limit in throttle.limits()] == [
        "1 per minute per number",
        "5 per 15 minutes per number",
    ]
    settings.THROTTLE_SMS_VOICE_PER_MINUTE = 0
    settings.THROTTLE_SMS_VOICE_PER_15_MINUTES = 3
    assert [str(limit) for limit in throttle.limits()] == ["3 per 15 minutes per number"]


def test_allowed_at_counts_sent_and_sending_messages_not_bundled_ones(
    group, sms_first, fake_twilio
):
    first = page(group, "Disk full", T0)
    assert throttle.allowed_at("sms", ALICE, T0 + seconds(10)) == T0 + seconds(60)
    assert throttle.allowed_at("voice", ALICE, T0 + seconds(10)) == T0 + seconds(10)
    assert throttle.allowed_at("sms", BOB, T0 + seconds(10)) == T0 + seconds(10)
    assert throttle.allowed_at("email", "alice@example.com", T0) == T0

    # A message being sent counts from its claim; rows riding in a bundle do not.
    Notification.objects.filter(pk=row(first).pk).update(
        status=NotificationStatus.SENDING, claimed_at=T0 + seconds(30), sent_at=None
    )
    assert throttle.allowed_at("sms", ALICE, T0 + seconds(40)) == T0 + seconds(90)
    Notification.objects.filter(pk=row(first).pk).update(bundled_into=row(first))
    assert throttle.allowed_at("sms", ALICE, T0 + seconds(40)) == T0 + seconds(40)


# Through the ticker, with the fake Twilio.


def test_second_sms_within_a_minute_is_held_then_sent(group, sms_first, fake_twilio):
    first = page(group, "Disk full", T0)
    assert row(first).status == SENT
    assert len(fake_twilio.requests) == 1

    second = page(group, "CPU hot", T0 + seconds(20))

    held = row(second)
    assert (held.status, held.due_at) == (PENDING, T0 + seconds(60))
    assert held.error.startswith(throttle.HELD)
    assert held_lines(second) == [f"SMS to Alice {HELD_A_MINUTE}"]
    assert len(fake_twilio.requests) == 1

    for at in (30, 45, 59):
        tick(T0 + seconds(at))
    assert row(second).status == PENDING
    assert len(fake_twilio.requests) == 1

    tick(T0 + seconds(60))

    sent = row(second)
    assert (sent.status, sent.sent_at, sent.bundled_into) == (SENT, T0 + seconds(60), None)
    assert len(fake_twilio.requests) == 2
    assert bodies(fake_twilio)[1].startswith(f"Payments #{second.pk} [Error] CPU hot ")
    assert timeline(second, EventKind.NOTIFIED) == [f"Notified Alice via SMS ({ALICE})."]
    assert len(held_lines(second)) == 1  # said once, not every tick


def test_three_held_rows_go_as_one_message(group, sms_first, fake_twilio):
    page(group, "Disk full", T0)
    held = [
        page(group, summary, T0 + seconds(s))
        for summary, s in [("Disk full on db-2", 10), ("Replica lag", 20), ("Queue backlog", 30)]
    ]
    assert {row(a).due_at for a in held} == {T0 + seconds(60)}
    assert len(fake_twilio.requests) == 1

    tick(T0 + seconds(60))

    assert len(fake_twilio.requests) == 2
    body = bodies(fake_twilio)[1]
    a, b, c = held
    assert body.startswith(
        f"3 new alerts for Payments: #{a.pk} Disk full on db-2; #{b.pk} Replica lag; "
        f"#{c.pk} Queue backlog http://testserver/r/"
    )
    assert len(body) <= messages.SMS_MAX_LENGTH
    token = body.rsplit("/r/", 1)[1].strip("/")
    assert links.read_token(token).alert_id == c.pk  # the newest alert's link

    carrier, *riders = (row(x) for x in held)
    assert carrier.bundled_into is None
    assert carrier.body == body
    for rider in riders:
        assert rider.bundled_into_id == carrier.pk
    for r in (carrier, *riders):
        assert (r.status, r.sent_at) == (SENT, T0 + seconds(60))
        assert r.provider_ref == carrier.provider_ref
    for alert in held:
        assert timeline(alert, EventKind.NOTIFIED) == [
            "Notified Alice via SMS (bundled with 2 other alerts)."
        ]
    # The bundle counts as one message: the next one is a minute later.
    assert throttle.allowed_at("sms", ALICE, T0 + seconds(61)) == T0 + seconds(120)


def test_outbox_shows_held_and_bundled_rows(client, group, alice, sms_first, fake_twilio):
    page(group, "Disk full", T0)
    a = page(group, "Replica lag", T0 + seconds(10))
    b = page(group, "Queue backlog", T0 + seconds(20))
    client.force_login(alice)

    waiting = client.get("/outbox/?channel=sms").content.decode()
    assert waiting.count(f"Held back until 09:01:00 UTC {LIMIT}.") == 2

    tick(T0 + seconds(60))
    sent = client.get("/outbox/?channel=sms").content.decode()

    carrier, rider = row(a), row(b)
    assert rider.bundled_into_id == carrier.pk
    assert f'bundled into <a href="#notification-{carrier.pk}">#{carrier.pk}</a>' in sent
    assert sent.count("bundled into") == 1
    assert carrier.body.startswith("2 new alerts for Payments: ")
    assert carrier.body in sent
    assert "Held back" not in sent


def test_fifteen_minute_cap_holds_the_sixth_message(group, sms_first, fake_twilio):
    alerts = [page(group, f"Alert {m}", T0 + minutes(m)) for m in range(5)]
    assert {row(a).status for a in alerts} == {SENT}

    sixth = page(group, "Alert 5", T0 + minutes(5))

    held = row(sixth)
    assert (held.status, held.due_at) == (PENDING, T0 + minutes(15))
    assert held_lines(sixth) == [
        "SMS to Alice held back until 09:15:00 UTC (rate limit: 5 per 15 minutes per number)."
    ]
    tick(T0 + minutes(15) - seconds(1))
    assert row(sixth).status == PENDING
    assert len(fake_twilio.requests) == 5

    tick(T0 + minutes(15))

    assert (row(sixth).status, row(sixth).sent_at) == (SENT, T0 + minutes(15))
    assert len(fake_twilio.requests) == 6


def test_the_limits_are_configurable(settings, group, sms_first, fake_twilio):
    settings.THROTTLE_SMS_VOICE_PER_MINUTE = 2
    alerts = [page(group, f"Alert {s}", T0 + seconds(s)) for s in (0, 10, 20)]

    assert [row(a).status for a in alerts] == [SENT, SENT, PENDING]
    assert row(alerts[2]).due_at == T0 + seconds(60)
    assert "(rate limit: 2 per minute per number)" in held_lines(alerts[2])[0]

    settings.THROTTLE_SMS_VOICE_PER_MINUTE = 0
    settings.THROTTLE_SMS_VOICE_PER_15_MINUTES = 0
    unlimited = [page(group, f"Later {s}", T0 + minutes(20) + seconds(s)) for s in (0, 1, 2)]
    assert [row(a).status for a in unlimited] == [SENT, SENT, SENT]


def test_email_is_never_throttled(group, fake_twilio):
    alerts = [page(group, f"Alert {s}", T0 + seconds(s)) for s in range(8)]

    assert [m.to for m in mail.outbox] == [["alice@example.com"]] * 8
    assert {row(a, "email", "alice@example.com").status for a in alerts} == {SENT}
    assert all(held_lines(a) == [] for a in alerts)
    assert throttle.allowed_at("email", "alice@example.com", T0 + seconds(8)) == T0 + seconds(8)


def test_numbers_and_channels_are_independent(group, policy, fake_twilio):
    policy.steps.filter(position=0).update(channels=["sms", "voice"])
    alice_alert = page(group, "Disk full", T0)
    # A call and an SMS to the same number count apart.
    assert [row(alice_alert, c).status for c in ("sms", "voice")] == [SENT, SENT]

    policy.steps.filter(position=0).update(target=StepTarget.SECONDARY)
    policy.touch()  # as every change to steps does: new alerts take the new version
    bob_alert = page(group, "Replica lag", T0 + seconds(10))

    assert [row(bob_alert, c, BOB).status for c in ("sms", "voice")] == [SENT, SENT]
    assert held_lines(bob_alert) == []
    assert [r["data"]["To"] for r in fake_twilio.requests] == [ALICE, ALICE, BOB, BOB]


def test_held_calls_are_bundled_into_one_call(group, policy, fake_twilio):
    policy.steps.filter(position=0).update(channels=["voice"])
    page(group, "Disk full", T0)
    a = page(group, "Replica lag", T0 + seconds(10))
    b = page(group, "Queue backlog", T0 + seconds(20))
    assert held_lines(a) == [f"Voice to Alice {HELD_A_MINUTE}"]

    tick(T0 + seconds(60))

    assert len(fake_twilio.requests) == 2
    twiml = fake_twilio.requests[1]["data"]["Twiml"]
    assert twiml.count("This is AlertOps with 2 new alerts for Payments.") == 2
    assert f"Alert {a.pk}, Error: Replica lag." in twiml
    assert f"Alert {b.pk}, Error: Queue backlog." in twiml
    assert row(b, "voice").bundled_into_id == row(a, "voice").pk


def test_held_row_of_an_acknowledged_alert_is_cancelled_not_bundled(
    group, alice, sms_first, fake_twilio
):
    page(group, "Disk full", T0)
    a, b, c = (page(group, s, T0 + seconds(10 * i)) for i, s in enumerate("ABC", 1))
    acknowledge(b, T0 + seconds(40), by=alice)
    # An acknowledgement that lands while the bundle is gathered (after the
    # engine's own cancellation had nothing left to cancel) is honoured too.
    Alert.objects.filter(pk=c.pk).update(status=AlertStatus.ACKNOWLEDGED)

    tick(T0 + seconds(60))

    assert len(fake_twilio.requests) == 2
    assert bodies(fake_twilio)[1].startswith(f"Payments #{a.pk} [Error] A ")
    assert (row(a).status, row(a).bundled_into) == (SENT, None)
    for closed in (b, c):
        assert (row(closed).status, row(closed).bundled_into) == (CANCELLED, None)
        assert timeline(closed, EventKind.NOTIFIED) == []


def test_gathering_a_bundle_races_safely(group, alice, sms_first, fake_twilio, monkeypatch):
    page(group, "Disk full", T0)
    a, b, c, d = (page(group, s, T0 + seconds(10 * i)) for i, s in enumerate("ABCD", 1))
    later = T0 + seconds(60)
    [carrier_id] = dispatch.claim_due(later)
    assert carrier_id == row(a).pk

    def racing_uuid4():
        # Between the bundle's SELECT and its UPDATE: B is acknowledged, and
        # another claimer takes C.
        acknowledge(b, later, by=alice)
        Notification.objects.filter(pk=row(c).pk, status=PENDING).update(
            status=NotificationStatus.SENDING, claimed_at=later, claim_token="other"
        )
        return uuid.uuid4()

    monkeypatch.setattr(dispatch, "uuid", SimpleNamespace(uuid4=racing_uuid4))

    assert dispatch.deliver(carrier_id, now=later) == "sent"

    assert bodies(fake_twilio)[1].startswith(f"2 new alerts for Payments: #{a.pk} A; #{d.pk} D ")
    assert row(d).bundled_into_id == carrier_id
    assert (row(b).status, row(b).bundled_into) == (CANCELLED, None)
    c_row = row(c)
    assert (c_row.status, c_row.claim_token, c_row.bundled_into) == ("sending", "other", None)


def test_alerts_of_different_groups_bundle_without_a_group_name(
    group, alice, policy, sms_first, fake_twilio
):
    storage = Group.objects.create(name="Storage", escalation_policy=policy)
    Membership.objects.create(group=storage, user=alice, is_primary=True, position=0)
    page(group, "Disk full", T0)
    a = page(group, "Replica lag", T0 + seconds(10))
    b = page(storage, "Bucket quota", T0 + seconds(20))

    tick(T0 + seconds(60))

    assert bodies(fake_twilio)[1].startswith(
        f"2 new alerts: #{a.pk} Replica lag; #{b.pk} Bucket quota http://testserver/r/"
    )


def test_a_long_bundle_is_cut_to_fit_one_sms(group, sms_first, fake_twilio):
    page(group, "Disk full", T0)
    held = [page(group, f"{i} " + "x" * 120, T0 + seconds(i)) for i in range(1, 31)]

    tick(T0 + seconds(60))

    assert len(fake_twilio.requests) == 2
    body = bodies(fake_twilio)[1]
    assert len(body) <= messages.SMS_MAX_LENGTH
    assert body.startswith(f"30 new alerts for Payments: #{held[0].pk} 1 xxx")
    assert " more http://testserver/r/" in body
    assert {row(a).status for a in held} == {SENT}


def test_test_pages_are_not_bundled_with_alert_pages(group, alice, sms_first, fake_twilio):
    page(group, "Disk full", T0)
    alert = page(group, "Replica lag", T0 + seconds(10))
    [test_sms] = [r for r in send_test_page(alice, T0 + seconds(20)) if r.channel == "sms"]
    tick(T0 + seconds(20))
    test_sms.refresh_from_db()
    assert (test_sms.status, test_sms.due_at) == (PENDING, T0 + seconds(60))

    tick(T0 + seconds(60))
    tick(T0 + seconds(61))

    assert bodies(fake_twilio)[1].startswith(f"Payments #{alert.pk} [Error] Replica lag ")
    test_sms.refresh_from_db()
    assert (test_sms.status, test_sms.due_at) == (PENDING, T0 + seconds(120))

    tick(T0 + seconds(120))

    test_sms.refresh_from_db()
    assert (test_sms.status, test_sms.bundled_into) == (SENT, None)
    assert bodies(fake_twilio)[2].startswith("This is a test page from AlertOps")


def test_a_bundle_that_fails_for_now_is_retried_whole(settings, group, sms_first, fake_twilio):
    page(group, "Disk full", T0)
    a, b = (page(group, s, T0 + seconds(10 * i)) for i, s in enumerate("AB", 1))
    fake_twilio.fail_with = (500, '{"message": "oops"}')

    tick(T0 + seconds(60))

    retry_at = T0 + seconds(75)
    for alert in (a, b):
        r = row(alert)
        assert (r.status, r.due_at, r.bundled_into) == (PENDING, retry_at, None)
        assert f"Retrying at {retry_at:%H:%M:%S} UTC." in timeline(alert, EventKind.WARNING)[-1]

    fake_twilio.fail_with = None
    tick(retry_at)

    assert len(fake_twilio.requests) == 3
    assert bodies(fake_twilio)[2].startswith("2 new alerts for Payments: ")
    assert (row(a).status, row(b).status) == (SENT, SENT)
    assert row(b).bundled_into_id == row(a).pk


def test_a_bundle_that_fails_for_good_fails_every_row_on_its_timeline(
    group, sms_first, fake_twilio
):
    page(group, "Disk full", T0)
    a, b = (page(group, s, T0 + seconds(10 * i)) for i, s in enumerate("AB", 1))
    fake_twilio.fail_with = (400, '{"code": 21211, "message": "Invalid To", "status": 400}')

    tick(T0 + seconds(60))

    for alert in (a, b):
        assert row(alert).status == FAILED
        [failure] = timeline(alert, EventKind.FAILED)
        assert "Invalid To" in failure
        assert "permanent failure" in failure


def test_nothing_is_ever_dropped(group, alice, sms_first, fake_twilio):
    """A storm: 12 alerts in 20 minutes, one acknowledged while held, the ticker
    running every 5 seconds. Every row ends sent (alone or bundled) or cancelled,
    every alert reaches Alice, and no window holds more messages than allowed."""
    times = (0, 5, 10, 40, 65, 90, 130, 200, 260, 300, 420, 1200)
    raised_at = {T0 + seconds(s): f"Alert at {s}s" for s in times}
    alerts: list[Alert] = []
    now = T0
    while now <= T0 + minutes(40):
        if now in raised_at:
            alert, _ = raise_alert(
                group, AlertInput(summary=raised_at[now], dedup_key=raised_at[now]), now
            )
            alerts.append(alert)
        if now == T0 + seconds(75):
            acknowledge(alerts[4], now, by=alice)
        tick(now)
        now += seconds(5)

    rows = Notification.objects.filter(channel="sms")
    assert rows.count() == len(alerts)
    assert set(rows.values_list("status", flat=True)) == {SENT, CANCELLED}
    assert list(rows.filter(status=CANCELLED).values_list("alert_id", flat=True)) == [alerts[4].pk]
    everything = "\n".join(bodies(fake_twilio))
    for alert in alerts:
        if alert != alerts[4]:
            assert f"#{alert.pk} " in everything
    messages_sent = sorted(
        rows.filter(status=SENT, bundled_into__isnull=True).values_list("sent_at", flat=True)
    )
    assert len(messages_sent) == len(bodies(fake_twilio))
    for i, at in enumerate(messages_sent):
        assert sum(at <= later < at + minutes(1) for later in messages_sent[i:]) == 1
        assert sum(at <= later < at + minutes(15) for later in messages_sent[i:]) <= 5
