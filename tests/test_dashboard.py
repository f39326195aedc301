"""The dashboard: active alerts, one alert with its timeline, the Outbox, and login."""

import pytest
from django.urls import reverse

from accounts.models import User
from escalation import alerts, engine, ticker
from escalation.alerts import AlertInput, raise_alert
from escalation.models import Alert, AlertStatus, EscalationStep, Notification
from groups.models import Group
from tests.conftest import T0


def open_alert(
    group: Group, key: str = "db-down", summary: str = "Database is down", severity="critical"
) -> Alert:
    data = AlertInput(summary=summary, dedup_key=key, severity=severity)
    return raise_alert(group, data, now=T0)[0]


def action_url(alert_id: int, action: str) -> str:
    return reverse("alert-action", args=[alert_id, action])


def test_pages_need_a_login(client, group):
    alert = open_alert(group)
    for url in ["/", "/alerts/rows/", f"/alerts/{alert.pk}/", "/outbox/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    response = client.post(action_url(alert.pk, "acknowledge"))
    assert response["Location"].startswith("/login/")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_home_lists_active_alerts_with_their_last_action(client, group, alice, bob):
    acked = open_alert(group, key="a", summary="Database is down")
    alerts.acknowledge(acked, T0, by=bob, via="the dashboard")
    open_alert(group, key="b", summary="Disk almost full", severity="warning")
    gone = open_alert(group, key="c", summary="Old cert expiry")
    alerts.resolve(gone, T0)
    client.force_login(alice)

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    active = page.split("Recently resolved")[0]
    assert "Database is down" in active
    assert "Disk almost full" in active
    assert "<td>Payments</td>" in active
    assert '<span class="sev critical">Critical</span>' in active
    assert '<span class="sev warning">Warning</span>' in active
    assert '<span class="badge acknowledged">Acknowledged</span>' in active
    assert '<span class="badge open">Open</span>' in active
    assert "Acknowledged via the dashboard; escalation stopped." in active
    assert "Old cert expiry" not in active
    assert "Old cert expiry" in page.split("Recently resolved")[1]


def test_rows_fragment_is_the_table_body_alone(client, group, alice):
    open_alert(group)
    client.force_login(alice)
    response = client.get("/alerts/rows/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Database is down" in page
    assert "<html" not in page


def test_empty_state_says_what_to_do(client, alice):
    client.force_login(alice)
    assert "No active alerts." in client.get("/").content.decode()
    assert "No active alerts." in client.get("/alerts/rows/").content.decode()
    assert "Nothing resolved yet." in client.get("/").content.decode()


def test_alert_page_shows_timeline_and_notifications(client, group, alice):
    alert = open_alert(group)
    engine.run_due(T0)
    client.force_login(alice)

    response = client.get(f"/alerts/{alert.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Database is down" in page
    assert "Alert created: Database is down" in page
    assert "Paging Alice via Email (step 1, Primary)." in page
    assert "alice@example.com" in page
    assert "Pending" in page
    assert action_url(alert.pk, "acknowledge") in page


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_responders_acknowledge_from_the_dashboard(client, group, who):
    user = User.objects.get(username=who)
    alert = open_alert(group)
    client.force_login(user)

    response = client.post(action_url(alert.pk, "acknowledge"))

    assert response.status_code == 302
    assert response["Location"] == f"/alerts/{alert.pk}/"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == user
    page = client.get(response["Location"]).content.decode()
    assert f"Alert #{alert.pk}: Acknowledged. Escalation has stopped." in page
    entry = "Acknowledged via the dashboard; escalation stopped."
    assert f'{entry} <span class="muted">— {user.display_name}' in page


def test_basic_user_resolves_and_a_second_try_says_already(client, group, bob):
    alert = open_alert(group)
    client.force_login(bob)

    response = client.post(action_url(alert.pk, "resolve"), follow=True)

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_by == bob
    page = response.content.decode()
    assert f"Alert #{alert.pk}: Resolved." in page
    assert 'Resolved via the dashboard. <span class="muted">— Bob' in page
    again = client.post(action_url(alert.pk, "resolve"), follow=True).content.decode()
    assert f"Alert #{alert.pk}: Nothing changed: the alert was already resolved." in again
    assert alert.events.filter(kind="resolved").count() == 1


def test_stakeholder_reads_but_cannot_act(client, group, stakeholder):
    alert = open_alert(group)
    client.force_login(stakeholder)
    for url in ["/", "/alerts/rows/", f"/alerts/{alert.pk}/", "/outbox/"]:
        assert client.get(url).status_code == 200, url
    assert (
        action_url(alert.pk, "acknowledge")
        not in client.get(f"/alerts/{alert.pk}/").content.decode()
    )

    for action in ("acknowledge", "resolve"):
        assert client.post(action_url(alert.pk, action)).status_code == 403
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert alert.acknowledged_by is None


def test_unknown_action_missing_alert_and_wrong_method(client, group, alice):
    alert = open_alert(group)
    client.force_login(alice)
    assert client.post(action_url(alert.pk, "snooze")).status_code == 404
    assert client.post(action_url(alert.pk + 1000, "acknowledge")).status_code == 404
    assert client.get(f"/alerts/{alert.pk + 1000}/").status_code == 404
    assert client.get(action_url(alert.pk, "acknowledge")).status_code == 405
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


@pytest.fixture
def email_and_sms(policy) -> None:
    """Page over email and SMS at every step."""
    EscalationStep.objects.filter(policy=policy).update(channels=["email", "sms"])


def test_outbox_shows_each_sent_message(client, group, alice, email_and_sms, fake_twilio):
    alert = open_alert(group)
    assert ticker.tick(T0) == (1, 2)
    email = Notification.objects.get(alert=alert, channel="email")
    sms = Notification.objects.get(alert=alert, channel="sms")
    assert email.status == sms.status == "sent"
    client.force_login(alice)

    page = client.get("/outbox/").content.decode()

    assert "<b>Email</b> to Alice &lt;alice@example.com&gt;" in page
    assert "<b>SMS</b> to Alice &lt;+15550000001&gt;" in page
    assert f"[Critical] #{alert.pk} Database is down" in page
    assert "Acknowledge or resolve: http://testserver/r/" in page
    assert fake_twilio.requests[0]["data"]["Body"] == sms.body
    assert sms.body.startswith(
        f"Payments #{alert.pk} [Critical] Database is down http://testserver/r/"
    )
    assert sms.body in page
    assert page.count('<span class="badge sent">Sent</span>') == 2
    assert "Not sent yet" not in page


def test_outbox_shows_a_pending_message_as_it_would_be_sent(client, group, alice):
    alert = open_alert(group)
    engine.run_due(T0)  # written, not yet dispatched
    client.force_login(alice)

    page = client.get("/outbox/").content.decode()

    assert '<span class="badge pending">Pending</span>' in page
    assert f"[Critical] #{alert.pk} Database is down" in page
    assert "Acknowledge or resolve: http://testserver/r/" in page
    assert "Not sent yet: shown as it would be sent now." in page


def test_outbox_filters_by_channel(client, group, alice, email_and_sms):
    open_alert(group)
    engine.run_due(T0)
    client.force_login(alice)

    sms_only = client.get("/outbox/?channel=sms").content.decode()
    assert "&lt;+15550000001&gt;" in sms_only
    assert "&lt;alice@example.com&gt;" not in sms_only
    email_only = client.get("/outbox/?channel=email").content.decode()
    assert "&lt;alice@example.com&gt;" in email_only
    assert "&lt;+15550000001&gt;" not in email_only


def test_outbox_empty_state(client, alice):
    client.force_login(alice)
    assert "No messages yet." in client.get("/outbox/").content.decode()


def test_login_with_the_right_password(client, alice):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_with_a_wrong_password(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert client.get("/").status_code == 302


def test_a_forbidden_action_explains_itself(client, group, stakeholder):
    alert = open_alert(group)
    client.force_login(stakeholder)
    response = client.post(action_url(alert.pk, "acknowledge"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Stakeholders can view alerts but not act on them." in page
    assert "Stakeholder (receive-only) role" in page
