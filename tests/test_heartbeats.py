"""Heartbeats: a ping every N minutes with a grace of G; a missed ping opens an
alert for the group, the next ping resolves it. Time is passed in, never slept."""

import html
from datetime import timedelta

import pytest
from django.utils.html import strip_tags

from escalation.models import Alert
from integrations import heartbeats
from integrations.models import InboundEvent, Integration, IntegrationKind
from tests.conftest import T0


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def beat(group, now) -> Integration:
    integration = Integration.objects.create(
        name="Nightly backup",
        kind=IntegrationKind.HEARTBEAT,
        group=group,
        heartbeat_minutes=10,
        heartbeat_grace_minutes=2,
    )
    Integration.objects.filter(pk=integration.pk).update(created_at=T0)
    integration.refresh_from_db()
    return integration


@pytest.mark.parametrize("method", ["get", "post"])
def test_get_or_post_is_a_ping(client, beat, now, method):
    response = getattr(client, method)(beat.url_path)

    assert response.status_code == 202
    assert response.json()["outcome"] == "ping"
    beat.refresh_from_db()
    assert beat.last_received_at == T0
    assert InboundEvent.objects.get().outcome == "ping"


def test_a_ping_body_is_not_read(client, beat, now):
    response = client.post(beat.url_path, data=b"\xff not json", content_type="text/plain")
    assert response.status_code == 202


def test_missed_ping_opens_one_alert_and_the_next_ping_resolves_it(client, beat, now):
    client.get(beat.url_path)  # T0

    assert heartbeats.check(T0 + minutes(11)) == 0  # due at +10, grace until +12
    assert heartbeats.check(T0 + minutes(12)) == 1
    assert heartbeats.check(T0 + minutes(13)) == 0  # one alert, not one a minute

    alert = Alert.objects.get()
    assert alert.summary == "Heartbeat missed: Nightly backup"
    assert alert.group == beat.group
    assert alert.status == "open"
    assert "No ping within 10 min and 2 min of grace" in alert.details["why"]
    assert "the last one came at 2026-03-02 09:00 UTC" in alert.details["why"]

    now.value = T0 + minutes(20)
    response = client.post(beat.url_path)

    alert.refresh_from_db()
    assert response.json()["outcome"] == "resolved"
    assert alert.status == "resolved"
    assert "Resolved via a ping to Nightly backup" in alert.events.last().message
    assert heartbeats.check(T0 + minutes(31)) == 0  # due again at +30, grace to +32
    assert heartbeats.check(T0 + minutes(32)) == 1


def test_a_heartbeat_that_never_pinged_is_late_from_its_creation(beat):
    assert heartbeats.check(T0 + minutes(11)) == 0
    assert heartbeats.check(T0 + minutes(12)) == 1
    assert "none has come since it was set up" in Alert.objects.get().details["why"]


def test_a_disabled_heartbeat_is_not_checked(beat):
    beat.enabled = False
    beat.save()
    assert heartbeats.check(T0 + minutes(60)) == 0
    assert not Alert.objects.exists()


def test_a_missed_alert_resolved_by_hand_opens_again_while_pings_stay_missing(beat):
    from escalation import alerts

    assert heartbeats.check(T0 + minutes(12)) == 1
    alerts.resolve(Alert.objects.get(), T0 + minutes(13))
    assert heartbeats.check(T0 + minutes(14)) == 1
    assert Alert.objects.filter(status="open").count() == 1


def test_the_page_shows_the_last_ping_and_when_the_next_is_due(client, alice, beat, now):
    client.get(beat.url_path)
    client.force_login(alice)

    page = client.get(f"/integrations/{beat.pk}/")
    text = " ".join(html.unescape(strip_tags(page.content.decode())).split())

    assert "Expecteda ping every 10 min, 2 min of grace" in text
    assert "Last pingMon 2 Mar 09:00:00 (0 minutes ago)" in text
    assert "Next dueMon 2 Mar 09:10; an alert opens if none has come by 09:12" in text
    assert "*/10 * * * * /path/to/job && curl -fsS -m 10 --retry 3" in text

    now.value = T0 + minutes(15)
    page = client.get(f"/integrations/{beat.pk}/")
    assert "missed: an alert is open for Payments until the next ping" in html.unescape(
        page.content.decode()
    )


def test_the_page_button_sends_a_ping(client, alice, beat, now):
    client.force_login(alice)
    response = client.post(f"/integrations/{beat.pk}/test/", follow=True)
    assert "Ping received; the next is expected by 09:10 UTC." in html.unescape(
        response.content.decode()
    )
    assert InboundEvent.objects.get().outcome == "ping"


def test_timing_is_set_on_the_page_and_refused_when_wrong(client, alice, beat):
    client.force_login(alice)
    form = {"name": beat.name, "group": beat.group_id, "rate_limit_per_minute": 600}

    response = client.post(
        f"/integrations/{beat.pk}/settings/",
        {**form, "heartbeat_minutes": 0, "heartbeat_grace_minutes": -1},
    )
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "A heartbeat needs at least 1 minute between pings." in page
    assert "The grace cannot be negative." in page

    client.post(
        f"/integrations/{beat.pk}/settings/",
        {**form, "enabled": "on", "heartbeat_minutes": 60, "heartbeat_grace_minutes": 5},
    )
    beat.refresh_from_db()
    assert (beat.heartbeat_minutes, beat.heartbeat_grace_minutes) == (60, 5)
