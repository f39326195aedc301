"""The responder page: the signed link in a page opens it, without a login."""

import re
import time
from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from escalation import engine, links, ticker
from escalation.alerts import AlertInput, raise_alert
from escalation.models import Alert, AlertEvent, AlertStatus, EventKind, Notification
from groups.models import Group
from tests.conftest import T0

DAY = 24 * 3600


def open_alert(group: Group, key: str = "db-down", summary: str = "Database is down") -> Alert:
    alert, created = raise_alert(group, AlertInput(summary=summary, dedup_key=key), now=T0)
    assert created
    return alert


def link(alert: Alert, user: User | None) -> str:
    return reverse("responder", args=[links.make_token(alert.pk, user.pk if user else None)])


def signed_days_ago(alert: Alert, user: User, days: float) -> str:
    """A link whose signature carries a timestamp `days` in the past."""
    with mock.patch("time.time", return_value=time.time() - days * DAY):
        return reverse("responder", args=[links.make_token(alert.pk, user.pk)])


def events(alert: Alert, kind: str):
    return AlertEvent.objects.filter(alert=alert, kind=kind)


def test_link_opens_a_phone_page_without_login(client, group, alice):
    alert = open_alert(group)
    response = client.get(link(alert, alice))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Database is down" in page
    assert '<meta name="viewport" content="width=device-width' in page
    assert 'name="action" value="acknowledge"' in page
    assert 'name="action" value="resolve"' in page
    assert "Timeline" in page
    assert "Alert created: Database is down" in page
    assert "for Alice" in page


def test_acknowledge_records_the_responder_and_stops_escalation(client, group, alice):
    alert = open_alert(group)
    assert engine.run_due(T0) == 1
    assert Notification.objects.filter(alert=alert).count() == 1
    url = link(alert, alice)

    response = client.post(url, {"action": "acknowledge"})

    assert response.status_code == 302
    assert response["Location"] == url
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == alice
    event = events(alert, EventKind.ACKNOWLEDGED).get()
    assert event.actor == alice
    assert "via the responder page" in event.message
    assert (
        "Acknowledged. Escalation has stopped." in client.get(response["Location"]).content.decode()
    )
    # Bob (Secondary) would be due five minutes in; nobody is paged any more.
    assert engine.run_due(T0 + timedelta(hours=1)) == 0
    assert Notification.objects.filter(alert=alert).count() == 1


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_basic_and_group_admin_can_resolve(client, group, who):
    responder = User.objects.get(username=who)
    alert = open_alert(group)
    url = link(alert, responder)

    response = client.post(url, {"action": "resolve"})

    assert response.status_code == 302
    assert response["Location"] == url
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_by == responder
    assert events(alert, EventKind.RESOLVED).get().actor == responder
    page = client.get(url).content.decode()
    assert 'value="resolve"' not in page  # a resolved alert offers no buttons


@pytest.mark.parametrize(
    ("action", "kind", "status"),
    [
        ("acknowledge", EventKind.ACKNOWLEDGED, AlertStatus.ACKNOWLEDGED),
        ("resolve", EventKind.RESOLVED, AlertStatus.RESOLVED),
    ],
)
def test_acting_twice_says_it_was_already_done(client, group, alice, action, kind, status):
    alert = open_alert(group)
    url = link(alert, alice)
    client.post(url, {"action": action})

    again = client.post(url, {"action": action})

    assert again["Location"] == url
    page = client.get(again["Location"]).content.decode()
    assert f"Nothing changed: the alert was already {status.label.lower()}." in page
    assert events(alert, kind).count() == 1


def test_unknown_action_is_refused(client, group, alice):
    alert = open_alert(group)
    response = client.post(link(alert, alice), {"action": "snooze"})
    assert response.status_code == 400
    assert "snooze" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_expired_link_shows_an_expired_page(client, group, alice):
    alert = open_alert(group)
    url = signed_days_ago(alert, alice, 8)  # links live 7 days

    response = client.get(url)
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert client.post(url, {"action": "acknowledge"}).status_code == 410
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_link_within_its_lifetime_still_works(client, group, alice):
    alert = open_alert(group)
    assert client.get(signed_days_ago(alert, alice, 6)).status_code == 200


def test_expiry_follows_the_setting(client, group, alice, settings):
    alert = open_alert(group)
    url = signed_days_ago(alert, alice, 2)
    settings.RESPONDER_LINK_MAX_AGE = DAY
    assert client.get(url).status_code == 410


def test_tampered_link_is_not_valid(client, group, alice):
    alert = open_alert(group)
    token = links.make_token(alert.pk, alice.pk)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    url = reverse("responder", args=[tampered])

    response = client.get(url)
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
    assert client.post(url, {"action": "acknowledge"}).status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_link_to_a_deleted_alert_is_not_valid(client, group, alice):
    alert = open_alert(group)
    url = link(alert, alice)
    alert.delete()
    response = client.get(url)
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()


def test_link_of_a_deactivated_user_is_not_valid(client, group, alice):
    alert = open_alert(group)
    url = link(alert, alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert client.post(url, {"action": "acknowledge"}).status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_link_acts_only_on_its_own_alert(client, group, alice):
    mine = open_alert(group, key="a")
    other = open_alert(group, key="b", summary="Disk full")
    client.post(link(mine, alice), {"action": "resolve"})
    other.refresh_from_db()
    assert other.status == AlertStatus.OPEN


def test_stakeholder_can_follow_but_not_act(client, group, stakeholder):
    alert = open_alert(group)
    url = link(alert, stakeholder)

    page = client.get(url)
    assert page.status_code == 200
    assert 'value="acknowledge"' not in page.content.decode()
    assert "cannot acknowledge or resolve it" in page.content.decode()

    for action in ("acknowledge", "resolve"):
        response = client.post(url, {"action": action})
        assert response.status_code == 403
        assert "You cannot act on this alert" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert not events(alert, EventKind.ACKNOWLEDGED).exists()
    assert not events(alert, EventKind.RESOLVED).exists()


def test_link_in_the_sent_email_acknowledges_the_alert(group, alice, mailoutbox):
    alert = open_alert(group)
    assert ticker.tick(T0) == (1, 1)
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["alice@example.com"]
    found = re.search(r"Acknowledge or resolve: (\S+)", email.body)
    assert found, email.body
    url = found.group(1)
    assert url.startswith("http://testserver/r/")
    assert url in email.alternatives[0][0]  # the HTML part carries the same link

    # A phone: no session, and CSRF enforced as in production.
    phone = Client(enforce_csrf_checks=True)
    page = phone.get(urlsplit(url).path)
    assert page.status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert csrf
    response = phone.post(
        urlsplit(url).path, {"action": "acknowledge", "csrfmiddlewaretoken": csrf.group(1)}
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == alice
    assert engine.run_due(T0 + timedelta(hours=1)) == 0
    assert Notification.objects.filter(alert=alert).count() == 1
