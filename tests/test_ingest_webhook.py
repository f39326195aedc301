"""The generic JSON webhook through POST /in/<key>/: trigger, acknowledge, resolve."""

from datetime import timedelta

import pytest

from escalation.models import Alert
from integrations.models import InboundEvent, Integration, IntegrationKind
from tests.conftest import T0, last_inbound, post_json


def test_summary_alone_opens_an_alert_with_defaults(client, webhook, now):
    response = post_json(client, webhook, {"summary": "  Disk full on db-1  "})

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "created"
    alert = Alert.objects.get()
    assert alert.summary == "Disk full on db-1"
    assert alert.severity == "error"
    assert alert.details == {}
    assert alert.source == ""
    assert alert.status == "open"
    assert alert.integration == webhook
    assert alert.group == webhook.group
    assert alert.next_action_at == T0
    assert len(alert.dedup_key) == 32
    inbound = InboundEvent.objects.get()
    assert inbound.outcome == "created"
    assert inbound.alert == alert


def test_optional_fields_are_kept(client, webhook, now):
    response = post_json(
        client,
        webhook,
        {
            "summary": "Disk full on db-1",
            "dedup_key": "db-1/disk",
            "severity": "critical",
            "details": {"free": "0 B", "mount": "/var"},
            "source": "db-1",
            "action": "trigger",
        },
    )

    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert alert.dedup_key == "db-1/disk"
    assert alert.severity == "critical"
    assert alert.details == {"free": "0 B", "mount": "/var"}
    assert alert.source == "db-1"
    assert response.json()["results"][0] == {
        "dedup_key": "db-1/disk",
        "outcome": "created",
        "alert_id": alert.pk,
        "message": "",
        "rule": "",
    }


def test_without_dedup_key_every_post_is_a_new_alert(client, webhook, now):
    for _ in range(3):
        response = post_json(client, webhook, {"summary": "Backup failed"})
        assert response.status_code == 202, response.content
        assert response.json()["outcome"] == "created"

    assert Alert.objects.count() == 3
    assert len(set(Alert.objects.values_list("dedup_key", flat=True))) == 3
    assert sum(a.duplicate_count for a in Alert.objects.all()) == 0


def test_same_dedup_key_is_a_duplicate(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "db-1/disk"})

    response = post_json(client, webhook, {"summary": "Disk full", "dedup_key": "db-1/disk"})

    assert response.json()["outcome"] == "duplicate"
    alert = Alert.objects.get()
    assert alert.duplicate_count == 1
    assert alert.events.filter(kind="duplicate").count() == 1


def test_acknowledge_by_dedup_key(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "db-1/disk"})
    now.value = T0 + timedelta(minutes=2)

    response = post_json(client, webhook, {"action": "acknowledge", "dedup_key": "db-1/disk"})

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "acknowledged"
    alert = Alert.objects.get()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_at == T0 + timedelta(minutes=2)
    assert alert.acknowledged_by is None
    assert alert.next_action_at is None
    assert alert.events.filter(kind="acknowledged").count() == 1
    inbound = last_inbound()
    assert inbound.outcome == "acknowledged"
    assert inbound.alert == alert


def test_resolve_by_dedup_key(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "db-1/disk"})
    now.value = T0 + timedelta(minutes=5)

    response = post_json(client, webhook, {"action": "resolve", "dedup_key": "db-1/disk"})

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "resolved"
    alert = Alert.objects.get()
    assert alert.status == "resolved"
    assert alert.resolved_at == T0 + timedelta(minutes=5)
    assert alert.next_action_at is None
    assert alert.events.filter(kind="resolved").count() == 1
    assert last_inbound().outcome == "resolved"


def test_resolve_an_acknowledged_alert(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})
    post_json(client, webhook, {"action": "acknowledge", "dedup_key": "k"})

    response = post_json(client, webhook, {"action": "resolve", "dedup_key": "k"})

    assert response.json()["outcome"] == "resolved"
    assert Alert.objects.get().status == "resolved"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_action_on_unknown_key_is_ignored(client, webhook, now, action):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "db-1/disk"})

    response = post_json(client, webhook, {"action": action, "dedup_key": "db-2/disk"})

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "ignored"
    assert Alert.objects.get().status == "open"
    inbound = last_inbound()
    assert inbound.outcome == "ignored"
    assert inbound.alert is None
    assert "db-2/disk" in inbound.results[0]["message"]


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_action_on_a_resolved_alert_is_ignored(client, webhook, now, action):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})
    post_json(client, webhook, {"action": "resolve", "dedup_key": "k"})

    response = post_json(client, webhook, {"action": action, "dedup_key": "k"})

    assert response.json()["outcome"] == "ignored"
    alert = Alert.objects.get()
    assert alert.status == "resolved"
    assert alert.events.filter(kind="resolved").count() == 1
    assert alert.events.filter(kind="acknowledged").count() == 0


def test_acknowledge_twice_is_ignored_with_a_message(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})
    post_json(client, webhook, {"action": "acknowledge", "dedup_key": "k"})
    now.value = T0 + timedelta(minutes=9)

    response = post_json(client, webhook, {"action": "acknowledge", "dedup_key": "k"})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["outcome"] == "ignored"
    assert "already acknowledged" in body["results"][0]["message"]
    alert = Alert.objects.get()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_at == T0
    assert alert.events.filter(kind="acknowledged").count() == 1
    inbound = last_inbound()
    assert inbound.outcome == "ignored"
    assert inbound.alert == alert
    assert "already acknowledged" in inbound.results[0]["message"]


def test_trigger_after_acknowledge_is_a_duplicate_not_a_new_alert(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})
    post_json(client, webhook, {"action": "acknowledge", "dedup_key": "k"})

    response = post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})

    assert response.json()["outcome"] == "duplicate"
    alert = Alert.objects.get()
    assert alert.status == "acknowledged"
    assert alert.next_action_at is None


def test_trigger_after_resolve_opens_a_new_alert(client, webhook, now):
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})
    post_json(client, webhook, {"action": "resolve", "dedup_key": "k"})

    response = post_json(client, webhook, {"summary": "Disk full again", "dedup_key": "k"})

    assert response.json()["outcome"] == "created"
    assert list(Alert.objects.order_by("id").values_list("summary", "status")) == [
        ("Disk full", "resolved"),
        ("Disk full again", "open"),
    ]


def test_dedup_keys_are_per_integration(client, webhook, now):
    other = Integration.objects.create(
        name="Other webhook", kind=IntegrationKind.WEBHOOK, group=webhook.group
    )
    post_json(client, webhook, {"summary": "Disk full", "dedup_key": "k"})

    created = post_json(client, other, {"summary": "Disk full", "dedup_key": "k"})
    resolved = post_json(client, other, {"action": "resolve", "dedup_key": "k"})

    assert created.json()["outcome"] == "created"
    assert resolved.json()["outcome"] == "resolved"
    statuses = dict(Alert.objects.values_list("integration__name", "status"))
    assert statuses == {"Webhook": "open", "Other webhook": "resolved"}
