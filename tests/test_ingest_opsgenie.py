"""Opsgenie Alert API: POST /v2/alerts, acknowledge / close / notes by alias or id,
and GET /v2/alerts/requests/<requestId>.

Opsgenie's SDK raises unless a 2xx answer carries `requestId` and `took`, and
authenticates with `Authorization: GenieKey <key>`.
"""

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from escalation.models import Alert, AlertEvent
from integrations.models import InboundEvent, Integration, IntegrationKind
from tests.conftest import T0, last_inbound

CREATE = "/v2/alerts"


def auth(integration: Integration) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"GenieKey {integration.key}"}


def create(client, integration, body: dict[str, Any], **headers):
    return client.post(
        CREATE,
        data=json.dumps(body),
        content_type="application/json",
        **(headers or auth(integration)),
    )


def act(client, integration, identifier, action: str, body=None, alias: bool = False, **headers):
    """POST /v2/alerts/<identifier>/<action>; without `body` no body at all is sent."""
    path = f"/v2/alerts/{identifier}/{action}"
    if alias:
        path += "?identifierType=alias"
    raw = "" if body is None else json.dumps(body)
    return client.post(
        path, data=raw, content_type="application/json", **(headers or auth(integration))
    )


def status_of(client, integration, request_id: str):
    return client.get(f"/v2/alerts/requests/{request_id}", **auth(integration))


def assert_opsgenie_accepted(response) -> str:
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"result", "took", "requestId"}
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float)
    assert body["took"] >= 0
    uuid.UUID(body["requestId"])
    return body["requestId"]


def full_alert(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": "Disk full on db-1",
        "alias": "db-1-disk",
        "description": "Only 0 B left on /var/lib/postgresql",
        "priority": "P1",
        "tags": ["db", "prod"],
        "details": {"region": "eu-west-1", "free": "0 B"},
        "entity": "db-1",
        "source": "nagios.local",
        "note": "Started after the 09:00 backup",
        "user": "Monitoring",
        "responders": [{"type": "team", "name": "Payments"}],
    }
    body.update(changes)
    return body


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


# Acknowledge, close and notes


@pytest.fixture
def disk_alert(client, opsgenie, now) -> Alert:
    create(client, opsgenie, {"message": "Disk full", "alias": "db-1-disk"})
    return Alert.objects.get()


@pytest.mark.parametrize("body", [None, {}, {"user": "jane", "source": "cli"}])
def test_acknowledge_by_alias(client, opsgenie, disk_alert, now, body):
    now.value = T0 + timedelta(minutes=2)

    response = act(client, opsgenie, "db-1-disk", "acknowledge", body, alias=True)

    request_id = assert_opsgenie_accepted(response)
    disk_alert.refresh_from_db()
    assert disk_alert.status == "acknowledged"
    assert disk_alert.acknowledged_at == T0 + timedelta(minutes=2)
    assert disk_alert.next_action_at is None
    acked = disk_alert.events.get(kind="acknowledged")
    assert acked.actor_label == ("Opsgenie (jane)" if body and body.get("user") else "Opsgenie")
    inbound = last_inbound()
    assert inbound.request_id == request_id
    assert inbound.endpoint == "/v2/alerts/{identifier}/acknowledge"
    assert inbound.outcome == "acknowledged"
    assert inbound.alert == disk_alert


@pytest.mark.parametrize("body", [None, {"note": "Fixed by cleaning /tmp", "user": "jane"}])
def test_close_by_alias(client, opsgenie, disk_alert, now, body):
    now.value = T0 + timedelta(minutes=4)

    response = act(client, opsgenie, "db-1-disk", "close", body, alias=True)

    assert_opsgenie_accepted(response)
    disk_alert.refresh_from_db()
    assert disk_alert.status == "resolved"
    assert disk_alert.resolved_at == T0 + timedelta(minutes=4)
    notes = list(disk_alert.events.filter(kind="note").values_list("message", flat=True))
    assert notes == ([] if body is None else ["Fixed by cleaning /tmp"])
    assert last_inbound().outcome == "resolved"


@pytest.mark.parametrize("identifier_type", [None, "id"])
@pytest.mark.parametrize("body", [None, {"user": "jane"}])
def test_acknowledge_and_close_by_id(client, opsgenie, disk_alert, now, identifier_type, body):
    suffix = f"?identifierType={identifier_type}" if identifier_type else ""
    raw = "" if body is None else json.dumps(body)

    acked = client.post(
        f"/v2/alerts/{disk_alert.pk}/acknowledge{suffix}",
        data=raw,
        content_type="application/json",
        **auth(opsgenie),
    )
    disk_alert.refresh_from_db()
    assert_opsgenie_accepted(acked)
    assert disk_alert.status == "acknowledged"

    closed = client.post(
        f"/v2/alerts/{disk_alert.pk}/close{suffix}",
        data=raw,
        content_type="application/json",
        **auth(opsgenie),
    )
    disk_alert.refresh_from_db()
    assert_opsgenie_accepted(closed)
    assert disk_alert.status == "resolved"


def test_note_by_alias_lands_on_the_timeline(client, opsgenie, disk_alert, now):
    now.value = T0 + timedelta(minutes=3)

    response = act(
        client,
        opsgenie,
        "db-1-disk",
        "notes",
        {"note": "Looking into it", "user": "jane"},
        alias=True,
    )

    assert_opsgenie_accepted(response)
    note = AlertEvent.objects.get(kind="note")
    assert note.alert == disk_alert
    assert note.message == "Looking into it"
    assert note.actor_label == "Opsgenie (jane)"
    assert note.at == T0 + timedelta(minutes=3)
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"
    assert disk_alert.last_event_at == T0 + timedelta(minutes=3)
    inbound = last_inbound()
    assert inbound.outcome == "noted"
    assert inbound.alert == disk_alert


def test_note_by_id(client, opsgenie, disk_alert, now):
    response = act(client, opsgenie, disk_alert.pk, "notes", {"note": "Paged the DBA"})

    assert_opsgenie_accepted(response)
    assert disk_alert.events.get(kind="note").message == "Paged the DBA"


def test_note_by_id_on_a_resolved_alert_is_kept(client, opsgenie, disk_alert, now):
    act(client, opsgenie, disk_alert.pk, "close")

    response = act(client, opsgenie, disk_alert.pk, "notes", {"note": "Postmortem: PM-12"})

    assert_opsgenie_accepted(response)
    assert disk_alert.events.get(kind="note").message == "Postmortem: PM-12"
    assert last_inbound().outcome == "noted"


@pytest.mark.parametrize("body", [None, {}, {"note": "   "}])
def test_note_without_text_is_400(client, opsgenie, disk_alert, body):
    response = act(client, opsgenie, "db-1-disk", "notes", body, alias=True)

    assert response.status_code == 400
    assert "field 'note' is required" in response.json()["message"]
    assert not AlertEvent.objects.filter(kind="note").exists()
    assert last_inbound().outcome == "rejected"


@pytest.mark.parametrize("action", ["acknowledge", "close", "notes"])
def test_unknown_alias_is_accepted_and_ignored(client, opsgenie, disk_alert, now, action):
    response = act(client, opsgenie, "db-2-disk", action, {"note": "hello"}, alias=True)

    assert_opsgenie_accepted(response)
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"
    assert not disk_alert.events.filter(kind="note").exists()
    inbound = last_inbound()
    assert inbound.outcome == "ignored"
    assert inbound.results[0]["message"] == "no open alert has dedup key 'db-2-disk'"


def test_unknown_id_is_accepted_and_ignored(client, opsgenie, disk_alert, now):
    response = act(client, opsgenie, disk_alert.pk + 1000, "acknowledge")

    assert_opsgenie_accepted(response)
    assert last_inbound().results[0]["message"] == f"no open alert has id {disk_alert.pk + 1000}"
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"


def test_id_of_another_integrations_alert_is_ignored(client, opsgenie, disk_alert, now):
    other = Integration.objects.create(
        name="Other Opsgenie", kind=IntegrationKind.OPSGENIE, group=opsgenie.group
    )

    response = act(client, other, disk_alert.pk, "close")

    assert_opsgenie_accepted(response)
    assert last_inbound().outcome == "ignored"
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"


def test_alias_used_as_id_is_400_pointing_at_identifier_type(client, opsgenie, disk_alert):
    response = act(client, opsgenie, "db-1", "acknowledge")

    assert response.status_code == 400
    assert "?identifierType=alias" in response.json()["message"]
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"


@pytest.mark.parametrize("identifier", ["%C2%B2", "%D9%A1%D9%A2", "1" * 19, "-1", "1.0"])
def test_identifier_that_is_not_an_ascii_number_is_400(client, opsgenie, disk_alert, identifier):
    """Not a 500: the sender would retry a 500 forever ("²" is a digit to str.isdigit)."""
    response = act(client, opsgenie, identifier, "close")

    assert response.status_code == 400, response.content
    assert "ids here are numbers" in response.json()["message"]
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"


def test_nul_in_an_alias_finds_the_alert_created_with_it(client, opsgenie, now):
    """Stored text has U+FFFD for NUL; so must the alias from the URL (else 503 on PostgreSQL)."""
    create(client, opsgenie, {"message": "Disk full", "alias": "db\u0000disk"})

    response = act(client, opsgenie, "db%00disk", "close", alias=True)

    assert_opsgenie_accepted(response)
    alert = Alert.objects.get()
    assert alert.dedup_key == "db\ufffddisk"
    assert alert.status == "resolved"


def test_unknown_identifier_type_is_400(client, opsgenie, disk_alert):
    response = client.post(
        "/v2/alerts/db-1/acknowledge?identifierType=name",
        data="",
        content_type="application/json",
        **auth(opsgenie),
    )

    assert response.status_code == 400
    assert "field 'identifierType' must be one of id, alias, tiny" in response.json()["message"]


def test_acknowledge_twice_is_ignored(client, opsgenie, disk_alert, now):
    act(client, opsgenie, "db-1-disk", "acknowledge", alias=True)

    response = act(client, opsgenie, "db-1-disk", "acknowledge", alias=True)

    assert_opsgenie_accepted(response)
    inbound = last_inbound()
    assert inbound.outcome == "ignored"
    assert "already acknowledged" in inbound.results[0]["message"]
    assert disk_alert.events.filter(kind="acknowledged").count() == 1


def test_alias_with_url_escaped_characters(client, opsgenie, now):
    create(client, opsgenie, {"message": "Disk full", "alias": "db 1: disk?"})

    response = act(client, opsgenie, "db%201%3A%20disk%3F", "close", alias=True)

    assert_opsgenie_accepted(response)
    assert Alert.objects.get().status == "resolved"


def test_alias_with_a_slash_can_be_closed(client, opsgenie, now):
    create(client, opsgenie, {"message": "Disk full", "alias": "db-1/disk"})

    response = act(client, opsgenie, "db-1%2Fdisk", "close", alias=True)

    assert_opsgenie_accepted(response)
    assert Alert.objects.get().status == "resolved"


def test_action_without_authorization_is_401(client, opsgenie, disk_alert):
    response = client.post("/v2/alerts/db-1-disk/acknowledge?identifierType=alias")

    assert response.status_code == 401
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"


def test_action_with_malformed_body_is_400(client, opsgenie, disk_alert):
    response = client.post(
        f"/v2/alerts/{disk_alert.pk}/close",
        data="{oops",
        content_type="application/json",
        **auth(opsgenie),
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("malformed JSON")
    disk_alert.refresh_from_db()
    assert disk_alert.status == "open"


# Request status


def test_request_status_of_a_create(client, opsgenie, now):
    request_id = assert_opsgenie_accepted(create(client, opsgenie, full_alert()))
    alert = Alert.objects.get()

    response = status_of(client, opsgenie, request_id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"data", "took", "requestId"}
    assert body["requestId"] != request_id
    assert body["data"] == {
        "success": True,
        "isSuccess": True,
        "action": "Create",
        "processedAt": "2026-03-02T09:00:00Z",
        "integrationId": str(opsgenie.pk),
        "status": "Created alert",
        "alertId": str(alert.pk),
        "alias": "db-1-disk",
    }


def test_request_status_gives_the_id_that_acknowledges(client, opsgenie, now):
    """The create answer has no alert id; a client learns it from the request status."""
    request_id = assert_opsgenie_accepted(create(client, opsgenie, {"message": "Disk full"}))
    alert_id = status_of(client, opsgenie, request_id).json()["data"]["alertId"]

    assert_opsgenie_accepted(act(client, opsgenie, alert_id, "acknowledge"))

    assert Alert.objects.get(pk=int(alert_id)).status == "acknowledged"


@pytest.mark.parametrize(
    "action, name, outcome_status",
    [
        ("acknowledge", "Acknowledge", "Acknowledged alert"),
        ("close", "Close", "Closed alert"),
        ("notes", "AddNote", "Added note"),
    ],
)
def test_request_status_of_an_action(
    client, opsgenie, disk_alert, now, action, name, outcome_status
):
    response = act(client, opsgenie, "db-1-disk", action, {"note": "n"}, alias=True)
    request_id = assert_opsgenie_accepted(response)

    data = status_of(client, opsgenie, request_id).json()["data"]

    assert data["isSuccess"] is True
    assert data["success"] is True
    assert data["action"] == name
    assert data["status"] == outcome_status
    assert data["alertId"] == str(disk_alert.pk)
    assert data["alias"] == "db-1-disk"


def test_request_status_of_a_duplicate_is_a_success(client, opsgenie, disk_alert, now):
    request_id = assert_opsgenie_accepted(
        create(client, opsgenie, {"message": "Disk full", "alias": "db-1-disk"})
    )

    data = status_of(client, opsgenie, request_id).json()["data"]

    assert data["isSuccess"] is True
    assert data["status"] == "Alert already exists; its count was increased"
    assert data["alertId"] == str(disk_alert.pk)


def test_request_status_of_an_ignored_action_is_not_a_success(client, opsgenie, now):
    response = act(client, opsgenie, "nope", "close", alias=True)
    request_id = assert_opsgenie_accepted(response)

    data = status_of(client, opsgenie, request_id).json()["data"]

    assert data["isSuccess"] is False
    assert data["action"] == "Close"
    assert data["status"] == "no open alert has dedup key 'nope'"
    assert data["alertId"] == ""
    assert data["alias"] == "nope"


def test_request_status_of_a_rejected_create_says_why(client, opsgenie, now):
    response = create(client, opsgenie, {"message": "x", "priority": "P9"})
    request_id = response.json()["requestId"]

    data = status_of(client, opsgenie, request_id).json()["data"]

    assert data["isSuccess"] is False
    assert "field 'priority' must be one of" in data["status"]
    assert data["alertId"] == ""


def test_request_status_of_another_integration_is_404(client, opsgenie, now):
    request_id = assert_opsgenie_accepted(create(client, opsgenie, {"message": "x"}))
    other = Integration.objects.create(
        name="Other Opsgenie", kind=IntegrationKind.OPSGENIE, group=opsgenie.group
    )

    response = status_of(client, other, request_id)

    assert response.status_code == 404
    assert request_id in response.json()["message"]
    assert "data" not in response.json()


def test_request_status_of_an_unknown_request_is_404(client, opsgenie, now):
    response = status_of(client, opsgenie, str(uuid.uuid4()))

    assert response.status_code == 404


def test_request_status_without_key_is_401(client, opsgenie, now):
    request_id = assert_opsgenie_accepted(create(client, opsgenie, {"message": "x"}))

    response = client.get(f"/v2/alerts/requests/{request_id}")

    assert response.status_code == 401
    assert "data" not in response.json()


def test_request_status_only_answers_get(client, opsgenie, now):
    response = client.post("/v2/alerts/requests/abc", **auth(opsgenie))

    assert response.status_code == 405


def test_request_status_of_a_request_id_with_nul_is_404(client, opsgenie, now):
    response = status_of(client, opsgenie, "ab%00c")

    assert response.status_code == 404, response.content
