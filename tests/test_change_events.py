"""Change events: shown on the group's page and on alerts open around them; they page nobody."""

import html
from datetime import timedelta

from django.utils.html import strip_tags

from escalation import alerts
from escalation.models import Alert, Notification
from integrations.models import ChangeEvent
from tests.conftest import T0


def words(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def change(pagerduty, at, summary, **extra) -> ChangeEvent:
    return ChangeEvent.objects.create(
        integration=pagerduty,
        group=pagerduty.group,
        happened_at=at,
        received_at=at,
        summary=summary,
        **extra,
    )


def open_alert(group, at) -> Alert:
    return alerts.raise_alert(group, alerts.AlertInput(summary="Checkout 500s", dedup_key="k"), at)[
        0
    ]


def test_group_page_lists_recent_changes(client, alice, pagerduty):
    change(
        pagerduty,
        T0,
        "Deployed checkout v42",
        source="ci",
        links=[{"href": "https://ci.example/42", "text": "Build 42"}],
    )
    client.force_login(alice)
    page = client.get(f"/groups/{pagerduty.group_id}/")
    text = words(page)
    assert "Recent changes" in text
    assert "Deployed checkout v42 · ci · via PagerDuty · Build 42" in text
    assert 'href="https://ci.example/42"' in page.content.decode()
    assert not Notification.objects.exists()


def test_alert_page_shows_changes_from_an_hour_before_until_resolved(client, alice, pagerduty):
    alert = open_alert(pagerduty.group, T0)
    change(pagerduty, T0 - timedelta(minutes=90), "Too early")
    change(pagerduty, T0 - timedelta(minutes=20), "Deploy before")
    change(pagerduty, T0 + timedelta(minutes=5), "Rollback while open")
    alerts.resolve(alert, T0 + timedelta(minutes=10))
    change(pagerduty, T0 + timedelta(minutes=15), "After resolve")
    client.force_login(alice)

    text = words(client.get(f"/alerts/{alert.pk}/"))

    assert "Changes around this alert" in text
    assert "Deploy before · via PagerDuty (before it opened)" in text
    assert "Rollback while open" in text
    assert "Too early" not in text
    assert "After resolve" not in text


def test_a_javascript_link_from_a_tool_is_never_clickable(client, alice, pagerduty):
    alert = open_alert(pagerduty.group, T0)
    Alert.objects.filter(pk=alert.pk).update(
        links=[{"href": "javascript:alert(1)", "text": "Click"}]
    )
    change(pagerduty, T0, "Deploy", links=[{"href": "JavaScript:evil()", "text": "Evil"}])
    client.force_login(alice)

    alert_page = client.get(f"/alerts/{alert.pk}/").content.decode()
    group_page = client.get(f"/groups/{pagerduty.group_id}/").content.decode()

    assert 'href="javascript' not in alert_page.lower()
    assert "Click" in alert_page
    assert 'href="javascript' not in group_page.lower()
    assert "Evil" in group_page
