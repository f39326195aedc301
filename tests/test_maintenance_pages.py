"""The maintenance windows page: who may use it, creating windows (one that is
already running takes effect at once), ending and deleting them, and the
current / planned / past lists."""

import html
from datetime import datetime, timedelta

import pytest
from django.utils.html import strip_tags

from escalation import engine
from escalation.models import Alert, Notification
from integrations.models import MaintenanceWindow
from tests.conftest import INTEGRATION_MANAGER_ROLES, T0, make_user, post_json
from tests.maintenance_helpers import BERLIN, window

URL = "/integrations/maintenance/"


def text(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def form(**fields) -> dict:
    return {
        "reason": "Database upgrade",
        "time_zone": "Europe/Berlin",
        "start_date": "",
        "start_time": "",
        "duration_hours": "1",
        "duration_minutes": "30",
        "repeat": "once",
        "repeat_until": "",
        **fields,
    }


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.parametrize("role, allowed", INTEGRATION_MANAGER_ROLES)
def test_only_integration_managers_use_the_page(client, group, role, allowed, now):
    w = window(group=group, start=T0 + timedelta(hours=1), minutes=30)
    client.force_login(make_user("someone", role))

    assert client.get(URL).status_code == (200 if allowed else 403)
    response = client.post(URL, form(applies_to=f"group:{group.pk}"))
    assert response.status_code == (302 if allowed else 403)
    assert client.post(f"{URL}{w.pk}/delete/").status_code == (302 if allowed else 403)
    assert MaintenanceWindow.objects.filter(pk=w.pk).exists() is not allowed


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_window_started_now_takes_effect_at_once(owner, webhook, now):
    response = owner.post(URL, form(applies_to=f"integration:{webhook.pk}"))

    assert response.status_code == 302
    w = MaintenanceWindow.objects.get()
    assert (w.integration, w.starts_at, w.duration_minutes) == (webhook, T0, 90)
    assert "runs now" in text(owner.get(URL))

    response = post_json(owner, webhook, {"summary": "Disk full"})
    assert response.json()["outcome"] == "suppressed"
    engine.run_due(T0 + timedelta(minutes=89))
    assert Notification.objects.count() == 0
    engine.run_due(T0 + timedelta(minutes=90))
    assert Notification.objects.count() == 1


def test_a_planned_window_starts_at_its_local_time(owner, group, now):
    response = owner.post(
        URL,
        form(
            applies_to=f"group:{group.pk}",
            start_date="2026-03-30",
            start_time="02:00",
            repeat="weekly",
        ),
    )

    assert response.status_code == 302
    w = MaintenanceWindow.objects.get()
    assert w.starts_at == datetime(2026, 3, 30, 2, 0, tzinfo=BERLIN)
    assert w.time_zone == "Europe/Berlin"
    page = text(owner.get(URL))
    assert "Planned" in page
    assert "Mon 30 Mar 2026 02:00" in page
    assert "Every week" in page


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"reason": ""}, "Say why"),
        ({"applies_to": ""}, "Choose the integration or group"),
        ({"applies_to": "group:999"}, "no longer exists"),
        ({"applies_to": "nonsense"}, "no longer exists"),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
        ({"duration_hours": "0", "duration_minutes": "0"}, "at least one minute"),
        ({"duration_hours": "-1"}, "cannot be negative"),
        ({"duration_minutes": "75"}, "Minutes go up to 59"),
        ({"duration_hours": "800"}, "at most 31 days"),
        ({"repeat": "daily", "duration_hours": "25"}, "at most 24 hours"),
        ({"start_date": "2026-03-02"}, "both the start date and time"),
        ({"start_date": "2026-03-01", "start_time": "08:00"}, "already be over"),
        ({"start_date": "yesterday", "start_time": "08:00"}, "YYYY-MM-DD"),
        ({"repeat_until": "2026-04-01"}, "runs once has no last day"),
        ({"repeat": "daily", "repeat_until": "2026-03-01"}, "before the first start"),
        ({"repeat": "hourly"}, "Select a valid choice"),
    ],
)
def test_a_refused_window_answers_400_and_says_why(owner, group, now, fields, message):
    response = owner.post(URL, form(**{"applies_to": f"group:{group.pk}", **fields}))

    assert response.status_code == 400
    assert message in text(response)
    assert not MaintenanceWindow.objects.exists()


def test_end_now_releases_what_the_window_held(owner, webhook, now):
    w = window(integration=webhook, start=T0, minutes=120)
    post_json(owner, webhook, {"summary": "Disk full"})
    now.value = T0 + timedelta(minutes=10)

    response = owner.post(f"{URL}{w.pk}/end/", follow=True)

    assert "1 alert(s) it held start escalating now" in text(response)
    w.refresh_from_db()
    assert w.ended_at == T0 + timedelta(minutes=10)
    engine.run_due(now.value)
    assert Notification.objects.count() == 1
    assert "ended by hand" in text(owner.get(URL))


def test_the_lists_show_current_planned_and_past(owner, group, webhook, now):
    window(integration=webhook, start=T0 - timedelta(minutes=5), minutes=60, reason="Now one")
    window(group=group, start=T0 + timedelta(days=2), minutes=60, reason="Later one")
    window(group=group, start=T0 - timedelta(days=2), minutes=60, reason="Old one")
    post_json(owner, webhook, {"summary": "Disk full"})

    page = owner.get(URL).content.decode()

    running, rest = page.split("<h2>Planned</h2>")
    planned, past = rest.split("<h2>Past</h2>")
    assert "Now one" in running and "1 alert" in running
    assert "Later one" in planned and "Now one" not in planned
    assert "Old one" in past and "Later one" not in past


def test_empty_lists_say_what_to_do(owner, group):
    page = text(owner.get(URL))
    assert "No window is running" in page
    assert "Nothing planned" in page


def test_the_prefilled_scope_from_a_link(owner, webhook):
    page = owner.get(f"{URL}?integration={webhook.pk}").content.decode()
    assert f'value="integration:{webhook.pk}" selected' in page


def test_held_alerts_are_marked_on_the_dashboard_and_the_alert_page(owner, webhook, now):
    window(integration=webhook, start=T0, minutes=30, reason="Disk swap")
    post_json(owner, webhook, {"summary": "Disk full"})
    alert = Alert.objects.get()

    assert "In maintenance" in text(owner.get("/"))
    group_page = owner.get(f"/groups/{alert.group_id}/").content.decode()
    assert "In maintenance" in group_page
    assert f"/integrations/maintenance/?group={alert.group_id}" in group_page
    detail = text(owner.get(f"/alerts/{alert.pk}/"))
    assert "Arrived during maintenance window 'Disk swap'" in detail
    assert "nobody is paged until" in detail


def test_the_api_says_until_when_an_alert_is_held(owner, webhook, now):
    window(integration=webhook, start=T0, minutes=30, reason="Disk swap")
    post_json(owner, webhook, {"summary": "Disk full"})

    (row,) = owner.get("/api/alerts").json()

    assert row["held_until"].startswith("2026-03-02T09:30")
    assert "Disk swap" in row["hold_reason"]


def test_the_integration_page_says_it_is_in_maintenance(owner, webhook, group, now):
    page = text(owner.get(f"/integrations/{webhook.pk}/"))
    assert "In maintenance" not in page
    assert "Plan maintenance" in page

    window(group=group, start=T0 - timedelta(minutes=5), minutes=60, reason="Rack move")

    page = text(owner.get(f"/integrations/{webhook.pk}/"))
    assert "In maintenance Rack move (group Payments) until Mon 2 Mar 10:55 Europe/Berlin" in page
