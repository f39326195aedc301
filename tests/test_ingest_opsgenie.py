"""Opsgenie Alert API, POST /v2/alerts: create, and authentication.

Opsgenie's SDK raises unless a 2xx answer carries `requestId` and `took`, and
authenticates with `Authorization: GenieKey <key>`.
"""

import json
from datetime import timedelta

import pytest

from escalation.models import Alert
from integrations.models import InboundEvent
from tests.conftest import T0, last_inbound
from tests.opsgenie_helpers import (
    CREATE,
    assert_opsgenie_accepted,
    create,
    full_alert,
)

# Create


def test_create_answers_like_opsgenie_and_maps_every_field(client, opsgenie, now):
    response = create(client, opsgenie, full_alert())

    request_id = assert_opsgenie_accepted(response)
    alert = Alert.objects.get()
    assert alert.integration == opsgenie
    assert alert.group == opsgenie.group
    assert alert.summary == "Disk full on db-1"
    assert alert.dedup_key == "db-1-disk"
    assert alert.severity == "critical"
    assert alert.source == "nagios.local"
    assert alert.details == {
        "description": "Only 0 B left on /var/lib/postgresql",
        "details": {"region": "eu-west-1", "free": "0 B"},
        "tags": ["db", "prod"],
        "priority": "P1",
        "entity": "db-1",
        "responders": [{"type": "team", "name": "Payments"}],
    }
    assert alert.labels == {
        "region": "eu-west-1",
        "free": "0 B",
        "priority": "P1",
        "tags": ["db", "prod"],
        "entity": "db-1",
    }
    inbound = InboundEvent.objects.get()
    assert inbound.request_id == request_id
    assert inbound.endpoint == "/v2/alerts"
    assert inbound.outcome == "created"
    assert inbound.alert == alert


def test_note_and_user_land_on_the_timeline(client, opsgenie, now):
    create(client, opsgenie, full_alert())

    alert = Alert.objects.get()
    created = alert.events.get(kind="created")
    assert created.actor_label == "Opsgenie (Monitoring)"
    note = alert.events.get(kind="note")
    assert note.message == "Started after the 09:00 backup"
    assert note.actor_label == "Opsgenie (Monitoring)"
    assert note.at == T0


def test_message_alone_opens_an_alert_with_defaults(client, opsgenie, now):
    response = create(client, opsgenie, {"message": "Backup failed"})

    assert_opsgenie_accepted(response)
    alert = Alert.objects.get()
    assert alert.summary == "Backup failed"
    assert alert.severity == "error"  # P3, Opsgenie's default
    assert alert.source == ""
    assert alert.details == {"priority": "P3"}
    assert alert.labels == {"priority": "P3", "tags": []}
    assert len(alert.dedup_key) == 32
    assert not alert.events.filter(kind="note").exists()
    assert alert.events.get(kind="created").actor_label == "Opsgenie"


def test_entity_is_the_source_when_there_is_no_source(client, opsgenie, now):
    create(client, opsgenie, {"message": "Disk full", "entity": "db-1"})

    assert Alert.objects.get().source == "db-1"


@pytest.mark.parametrize(
    "priority, severity",
    [("P1", "critical"), ("P2", "error"), ("P3", "error"), ("P4", "warning"), ("P5", "info")],
)
def test_priority_maps_to_severity(client, opsgenie, now, priority, severity):
    create(client, opsgenie, {"message": "x", "priority": priority})

    alert = Alert.objects.get()
    assert alert.severity == severity
    assert alert.labels["priority"] == priority


@pytest.mark.parametrize(
    "body, named",
    [
        ({"message": "x", "priority": "P6"}, "field 'priority' must be one of P1, P2, P3, P4, P5"),
        ({"message": "x", "priority": "p1"}, "field 'priority' must be one of"),
        ({"message": "x", "priority": 1}, "field 'priority' must be a string"),
        ({}, "field 'message' is required"),
        ({"message": "  "}, "field 'message' is required"),
        ({"message": 5}, "field 'message' must be a string"),
        ({"message": "x", "alias": 5}, "field 'alias' must be a string"),
        ({"message": "x", "alias": "a" * 256}, "field 'alias' is 256 characters long"),
        ({"message": "x", "tags": "db"}, "field 'tags' must be a list"),
        ({"message": "x", "tags": ["db", 1]}, "field 'tags' must be a list of strings"),
        ({"message": "x", "details": ["a"]}, "field 'details' must be a JSON object"),
        ({"message": "x", "entity": {}}, "field 'entity' must be a string"),
    ],
)
def test_bad_create_is_400_naming_the_field(client, opsgenie, body, named):
    response = create(client, opsgenie, body)

    assert response.status_code == 400, response.content
    answer = response.json()
    assert set(answer) == {"message", "took", "requestId"}
    assert named in answer["message"]
    assert Alert.objects.count() == 0
    inbound = InboundEvent.objects.get()
    assert inbound.integration == opsgenie
    assert (inbound.outcome, inbound.status_code) == ("rejected", 400)
    assert inbound.message == answer["message"]
    assert inbound.request_id == answer["requestId"]


def test_same_alias_is_a_duplicate(client, opsgenie, now):
    create(client, opsgenie, {"message": "Disk full", "alias": "db-1-disk"})
    now.value = T0 + timedelta(minutes=1)

    response = create(client, opsgenie, {"message": "Disk still full", "alias": "db-1-disk"})

    assert_opsgenie_accepted(response)
    alert = Alert.objects.get()
    assert alert.summary == "Disk full"
    assert alert.duplicate_count == 1
    assert last_inbound().outcome == "duplicate"


def test_without_alias_every_create_is_a_new_alert(client, opsgenie, now):
    for _ in range(3):
        assert_opsgenie_accepted(create(client, opsgenie, {"message": "Backup failed"}))

    assert Alert.objects.count() == 3
    assert len(set(Alert.objects.values_list("dedup_key", flat=True))) == 3


# Authentication


def test_missing_authorization_is_401(client, opsgenie):
    response = client.post(
        CREATE, data=json.dumps({"message": "x"}), content_type="application/json"
    )

    assert response.status_code == 401
    body = response.json()
    assert "GenieKey" in body["message"]
    assert "requestId" in body
    assert Alert.objects.count() == 0
    inbound = InboundEvent.objects.get()
    assert (inbound.outcome, inbound.status_code, inbound.integration) == ("rejected", 401, None)


@pytest.mark.parametrize("header", [f"Bearer {'x' * 24}", "GenieKey", "GenieKey   "])
def test_authorization_without_a_genie_key_is_401(client, opsgenie, header):
    response = create(client, opsgenie, {"message": "x"}, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert Alert.objects.count() == 0


def test_genie_key_scheme_is_case_insensitive(client, opsgenie, now):
    response = create(
        client, opsgenie, {"message": "x"}, HTTP_AUTHORIZATION=f"genieKey {opsgenie.key}"
    )

    assert_opsgenie_accepted(response)


def test_wrong_key_is_404(client, opsgenie):
    response = create(client, opsgenie, {"message": "x"}, HTTP_AUTHORIZATION="GenieKey wrong")

    assert response.status_code == 404
    assert "Unknown or disabled integration key" in response.json()["message"]
    assert Alert.objects.count() == 0
    assert InboundEvent.objects.get().status_code == 404


def test_key_of_another_kind_is_400(client, pagerduty):
    response = create(client, pagerduty, {"message": "x"})

    assert response.status_code == 400
    assert "PagerDuty Events API v2 integration" in response.json()["message"]
    assert Alert.objects.count() == 0
