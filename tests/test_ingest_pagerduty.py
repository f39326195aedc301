"""PagerDuty Events API v2, POST /v2/enqueue: trigger, acknowledge and resolve.

Real PagerDuty clients post here with the integration key as `routing_key`
and raise unless a 2xx answer carries `dedup_key`.
"""

from datetime import timedelta

import pytest

from escalation.models import Alert
from integrations.models import InboundEvent
from tests.conftest import T0, last_inbound
from tests.pagerduty_helpers import (
    enqueue,
    event,
    trigger,
)

# Trigger


def test_trigger_opens_an_alert_and_answers_like_pagerduty(client, pagerduty, now):
    response = enqueue(client, trigger(pagerduty))

    assert response.status_code == 202, response.content
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db-1/disk",
    }
    alert = Alert.objects.get()
    assert alert.integration == pagerduty
    assert alert.group == pagerduty.group
    assert alert.status == "open"
    assert alert.dedup_key == "db-1/disk"
    assert alert.summary == "Disk full on db-1"
    assert alert.source == "db-1.example.com"
    assert alert.severity == "critical"
    assert alert.next_action_at == T0
    inbound = InboundEvent.objects.get()
    assert inbound.integration == pagerduty
    assert inbound.endpoint == "/v2/enqueue"
    assert inbound.outcome == "created"
    assert inbound.status_code == 202
    assert inbound.alert == alert


def test_trigger_keeps_details_links_and_images(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))

    alert = Alert.objects.get()
    assert alert.details["custom_details"] == {"free": "0 B", "mount": "/var/lib/postgresql"}
    assert alert.details["timestamp"] == "2026-03-02T08:59:30+00:00"
    assert alert.details["images"] == [
        {
            "src": "https://grafana.local/render/disk.png",
            "href": "https://grafana.local/d/disk",
            "alt": "Disk usage",
        }
    ]
    assert alert.labels == {"component": "postgres", "group": "storage", "class": "disk"}
    assert alert.links == [
        {"href": "https://runbooks.local/disk", "text": "Runbook"},
        {"href": "https://nagios.local/host/db-1", "text": "Nagios"},
        {"href": "https://grafana.local/d/disk", "text": "Disk usage"},
    ]


def test_minimal_trigger_needs_only_summary_source_and_severity(client, pagerduty, now):
    body = {
        "routing_key": pagerduty.key,
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {"summary": "Backup failed", "source": "cron", "severity": "info"},
    }

    response = enqueue(client, body)

    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert (alert.summary, alert.source, alert.severity) == ("Backup failed", "cron", "info")
    assert alert.links == []
    assert alert.labels == {}
    assert "images" not in alert.details


def test_link_without_text_shows_its_href(client, pagerduty, now):
    body = trigger(pagerduty, links=[{"href": "https://x.local/a"}], images=[])
    del body["client_url"]

    enqueue(client, body)

    assert Alert.objects.get().links == [{"href": "https://x.local/a", "text": "https://x.local/a"}]


def test_client_url_without_client_name_shows_the_url(client, pagerduty, now):
    body = trigger(pagerduty, links=[], images=[])
    del body["client"]

    enqueue(client, body)

    assert Alert.objects.get().links == [
        {"href": "https://nagios.local/host/db-1", "text": "https://nagios.local/host/db-1"}
    ]


def test_image_without_href_is_kept_but_not_a_link(client, pagerduty, now):
    body = trigger(pagerduty, links=[], images=[{"src": "https://img.local/a.png"}])
    del body["client_url"]

    enqueue(client, body)

    alert = Alert.objects.get()
    assert alert.details["images"] == [{"src": "https://img.local/a.png", "href": "", "alt": ""}]
    assert alert.links == []


def test_trigger_without_dedup_key_returns_a_new_key_that_works_later(client, pagerduty, now):
    body = trigger(pagerduty)
    del body["dedup_key"]

    first = enqueue(client, body)
    second = enqueue(client, body)

    assert first.status_code == second.status_code == 202
    key = first.json()["dedup_key"]
    assert key and key != second.json()["dedup_key"]
    assert Alert.objects.count() == 2
    alert = Alert.objects.get(dedup_key=key)

    now.value = T0 + timedelta(minutes=1)
    acked = enqueue(client, event(pagerduty, "acknowledge", key))
    alert.refresh_from_db()
    assert acked.json() == {"status": "success", "message": "Event processed", "dedup_key": key}
    assert alert.status == "acknowledged"
    assert alert.acknowledged_at == T0 + timedelta(minutes=1)

    now.value = T0 + timedelta(minutes=2)
    resolved = enqueue(client, event(pagerduty, "resolve", key))
    alert.refresh_from_db()
    assert resolved.json()["dedup_key"] == key
    assert alert.status == "resolved"
    assert alert.resolved_at == T0 + timedelta(minutes=2)
    # The other alert was left alone.
    assert Alert.objects.exclude(pk=alert.pk).get().status == "open"


def test_empty_dedup_key_is_treated_as_none(client, pagerduty, now):
    response = enqueue(client, trigger(pagerduty, dedup_key=""))

    assert response.status_code == 202, response.content
    key = response.json()["dedup_key"]
    assert len(key) == 32
    assert Alert.objects.get().dedup_key == key


def test_duplicate_trigger_counts_on_the_open_alert(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))
    now.value = T0 + timedelta(minutes=3)

    response = enqueue(client, trigger(pagerduty))

    assert response.status_code == 202, response.content
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db-1/disk",
    }
    alert = Alert.objects.get()
    assert alert.duplicate_count == 1
    assert alert.last_event_at == T0 + timedelta(minutes=3)
    assert alert.events.filter(kind="duplicate").count() == 1
    inbound = last_inbound()
    assert inbound.outcome == "duplicate"
    assert inbound.alert == alert
    assert inbound.results[0]["message"] == f"duplicate of alert #{alert.pk}"


# Acknowledge and resolve


def test_acknowledge_stops_the_escalation(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))
    now.value = T0 + timedelta(minutes=2)

    response = enqueue(client, event(pagerduty, "acknowledge", "db-1/disk"))

    assert response.status_code == 202, response.content
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db-1/disk",
    }
    alert = Alert.objects.get()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_at == T0 + timedelta(minutes=2)
    assert alert.next_action_at is None
    acked = alert.events.get(kind="acknowledged")
    assert acked.actor_label == "PagerDuty"
    assert "via PagerDuty" in acked.message
    inbound = last_inbound()
    assert inbound.outcome == "acknowledged"
    assert inbound.alert == alert


def test_resolve_closes_the_alert(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))
    now.value = T0 + timedelta(minutes=7)

    response = enqueue(client, event(pagerduty, "resolve", "db-1/disk"))

    assert response.status_code == 202, response.content
    assert response.json()["dedup_key"] == "db-1/disk"
    alert = Alert.objects.get()
    assert alert.status == "resolved"
    assert alert.resolved_at == T0 + timedelta(minutes=7)
    assert alert.next_action_at is None
    assert alert.events.filter(kind="resolved").count() == 1
    assert last_inbound().outcome == "resolved"


def test_acknowledge_and_resolve_need_no_payload(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))
    body = {**event(pagerduty, "resolve", "db-1/disk"), "payload": "ignored"}

    response = enqueue(client, body)

    assert response.status_code == 202, response.content
    assert Alert.objects.get().status == "resolved"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_action_on_unknown_key_is_accepted_and_ignored(client, pagerduty, now, action):
    enqueue(client, trigger(pagerduty))

    response = enqueue(client, event(pagerduty, action, "db-2/disk"))

    assert response.status_code == 202, response.content
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db-2/disk",
    }
    assert Alert.objects.get().status == "open"
    inbound = last_inbound()
    assert inbound.outcome == "ignored"
    assert inbound.status_code == 202
    assert inbound.alert is None
    assert inbound.results[0]["message"] == "no open alert has dedup key 'db-2/disk'"


def test_trigger_after_resolve_opens_a_new_alert(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))
    enqueue(client, event(pagerduty, "resolve", "db-1/disk"))

    response = enqueue(client, trigger(pagerduty))

    assert response.status_code == 202, response.content
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == [
        "resolved",
        "open",
    ]


def test_trailing_slash_is_accepted(client, pagerduty, now):
    response = enqueue(client, trigger(pagerduty), path="/v2/enqueue/")

    assert response.status_code == 202, response.content
    assert Alert.objects.count() == 1
