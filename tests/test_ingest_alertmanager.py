"""Alertmanager v4 through POST /in/<key>/: one alert per fingerprint, resolve by entry."""

import json
from datetime import timedelta

import pytest

from escalation.models import Alert, AlertEvent, Notification, NotificationStatus
from integrations.models import InboundEvent
from tests.conftest import T0, am_alert, am_payload, last_inbound, post_json


def test_each_fingerprint_opens_its_own_alert(client, alertmanager, now):
    payload = am_payload(am_alert("fp-a"), am_alert("fp-b", instance="db-2"))

    response = post_json(client, alertmanager, payload)

    assert response.status_code == 202, response.content
    alerts = {a.dedup_key: a for a in Alert.objects.all()}
    assert set(alerts) == {"fp-a", "fp-b"}
    for alert in alerts.values():
        assert alert.group == alertmanager.group
        assert alert.integration == alertmanager
        assert alert.status == "open"
        assert alert.next_action_at == T0
    assert alerts["fp-b"].source == "db-2"
    body = response.json()
    assert body["outcome"] == "created"
    assert [(r["dedup_key"], r["outcome"]) for r in body["results"]] == [
        ("fp-a", "created"),
        ("fp-b", "created"),
    ]


def test_labels_annotations_and_summary_are_kept(client, alertmanager, now):
    entry = am_alert("fp1", team="payments")
    entry["annotations"]["runbook"] = "https://runbooks.local/latency"

    post_json(client, alertmanager, am_payload(entry))

    alert = Alert.objects.get()
    assert alert.labels == {"alertname": "HighLatency", "severity": "critical", "team": "payments"}
    assert alert.details["annotations"] == {
        "summary": "p99 latency high (fp1)",
        "runbook": "https://runbooks.local/latency",
    }
    assert alert.details["receiver"] == "alertops"
    assert alert.summary == "HighLatency: p99 latency high (fp1)"
    assert alert.links == [{"href": "http://prometheus.local/graph?g0.expr=up", "text": "Source"}]


@pytest.mark.parametrize(
    "label, severity",
    [
        ("critical", "critical"),
        ("page", "critical"),
        ("P2", "error"),
        ("warning", "warning"),
        ("Warn", "warning"),
        ("info", "info"),
        ("none", "info"),
        ("something-else", "error"),
    ],
)
def test_severity_label_maps_to_alert_severity(client, alertmanager, now, label, severity):
    post_json(client, alertmanager, am_payload(am_alert("fp1", severity=label)))

    assert Alert.objects.get().severity == severity


def test_missing_severity_label_defaults_to_error(client, alertmanager, now):
    entry = am_alert("fp1")
    del entry["labels"]["severity"]

    post_json(client, alertmanager, am_payload(entry))

    assert Alert.objects.get().severity == "error"


def test_same_fingerprint_again_counts_a_duplicate(client, alertmanager, now):
    post_json(client, alertmanager, am_payload(am_alert("fp1")))
    now.value = T0 + timedelta(minutes=1)

    response = post_json(client, alertmanager, am_payload(am_alert("fp1")))

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "duplicate"
    alert = Alert.objects.get()
    assert alert.duplicate_count == 1
    assert alert.last_event_at == T0 + timedelta(minutes=1)
    assert alert.events.filter(kind="duplicate").count() == 1
    inbound = last_inbound()
    assert inbound.outcome == "duplicate"
    assert inbound.alert == alert
    assert inbound.results[0]["outcome"] == "duplicate"


def test_resolved_entry_resolves_the_alert(client, alertmanager, alice, now):
    post_json(client, alertmanager, am_payload(am_alert("fp1")))
    alert = Alert.objects.get()
    # What the engine would have queued for Alice before the resolve arrived.
    pending = Notification.objects.create(
        alert=alert,
        user=alice,
        channel="email",
        recipient=alice.email,
        due_at=T0,
        idempotency_key="test-pending",
        created_at=T0,
    )
    sent = Notification.objects.create(
        alert=alert,
        user=alice,
        channel="email",
        recipient=alice.email,
        due_at=T0,
        status=NotificationStatus.SENT,
        idempotency_key="test-sent",
        created_at=T0,
    )
    now.value = T0 + timedelta(minutes=3)

    response = post_json(
        client, alertmanager, am_payload(am_alert("fp1", "resolved"), status="resolved")
    )

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "resolved"
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.resolved_at == T0 + timedelta(minutes=3)
    assert alert.next_action_at is None
    assert alert.events.filter(kind="resolved").count() == 1
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert pending.status == "cancelled"
    assert sent.status == "sent"
    inbound = last_inbound()
    assert inbound.outcome == "resolved"
    assert inbound.alert == alert


def test_top_level_resolved_does_not_resolve_a_firing_entry(client, alertmanager, now):
    post_json(client, alertmanager, am_payload(am_alert("fp1"), am_alert("fp2")))
    # Alertmanager with max_alerts: "resolved" on top, yet fp2 still fires.
    payload = am_payload(am_alert("fp1", "resolved"), am_alert("fp2"), status="resolved")

    response = post_json(client, alertmanager, payload)

    assert response.status_code == 202, response.content
    statuses = dict(Alert.objects.values_list("dedup_key", "status"))
    assert statuses == {"fp1": "resolved", "fp2": "open"}
    assert [r["outcome"] for r in response.json()["results"]] == ["resolved", "duplicate"]


def test_top_level_resolved_with_only_firing_entries_opens_alerts(client, alertmanager, now):
    response = post_json(client, alertmanager, am_payload(am_alert("fp1"), status="resolved"))

    assert response.status_code == 202, response.content
    assert Alert.objects.get().status == "open"


def test_resolved_for_unknown_fingerprint_is_ignored(client, alertmanager, now):
    response = post_json(client, alertmanager, am_payload(am_alert("nope", "resolved")))

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "ignored"
    assert Alert.objects.count() == 0
    inbound = InboundEvent.objects.get()
    assert inbound.outcome == "ignored"
    assert inbound.alert is None
    assert inbound.results[0]["outcome"] == "ignored"
    assert "nope" in inbound.results[0]["message"]


def test_firing_again_after_resolve_opens_a_new_alert(client, alertmanager, now):
    post_json(client, alertmanager, am_payload(am_alert("fp1")))
    post_json(client, alertmanager, am_payload(am_alert("fp1", "resolved")))
    now.value = T0 + timedelta(hours=1)

    response = post_json(client, alertmanager, am_payload(am_alert("fp1")))

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "created"
    old, new = Alert.objects.order_by("id")
    assert old.status == "resolved"
    assert new.status == "open"
    assert new.dedup_key == old.dedup_key == "fp1"
    assert new.duplicate_count == 0
    assert new.next_action_at == T0 + timedelta(hours=1)
    assert last_inbound().alert == new


def test_every_request_logs_one_inbound_event(client, alertmanager, now):
    first = am_payload(am_alert("fp1"), am_alert("fp2"))
    second = am_payload(am_alert("fp1", "resolved"), am_alert("fp3"))

    post_json(client, alertmanager, first)
    assert InboundEvent.objects.count() == 1
    post_json(client, alertmanager, second)
    assert InboundEvent.objects.count() == 2

    one, two = InboundEvent.objects.order_by("id")
    alerts = {a.dedup_key: a for a in Alert.objects.all()}
    assert one.integration == two.integration == alertmanager
    assert json.loads(one.body) == first
    assert one.body_size == len(one.body.encode())
    assert one.content_type == "application/json"
    assert one.received_at == T0
    assert one.outcome == "created"
    assert one.alert == alerts["fp1"]
    assert [(r["dedup_key"], r["outcome"], r["alert_id"]) for r in one.results] == [
        ("fp1", "created", alerts["fp1"].pk),
        ("fp2", "created", alerts["fp2"].pk),
    ]
    # A resolve and a new alert in one request: the summary is the most significant.
    assert json.loads(two.body) == second
    assert two.outcome == "created"
    assert [(r["dedup_key"], r["outcome"], r["alert_id"]) for r in two.results] == [
        ("fp1", "resolved", alerts["fp1"].pk),
        ("fp3", "created", alerts["fp3"].pk),
    ]
    assert two.alert == alerts["fp1"]


def test_ingest_marks_the_integration_as_heard_from(client, alertmanager, now):
    assert alertmanager.last_received_at is None

    post_json(client, alertmanager, am_payload(am_alert("fp1")))

    alertmanager.refresh_from_db()
    assert alertmanager.last_received_at == T0


def test_created_alert_has_timeline_entry_from_the_integration(client, alertmanager, now):
    post_json(client, alertmanager, am_payload(am_alert("fp1")))

    created = AlertEvent.objects.get(kind="created")
    assert created.alert == Alert.objects.get()
    assert created.actor_label == "Alertmanager"
    assert "HighLatency" in created.message
