"""Opsgenie Alert API: acknowledge, close and notes by alias or id."""

import json
from datetime import timedelta

import pytest

from escalation.models import Alert, AlertEvent
from integrations.models import Integration, IntegrationKind
from tests.conftest import T0, last_inbound
from tests.opsgenie_helpers import (
    act,
    assert_opsgenie_accepted,
    auth,
    create,
)

# Acknowledge, close and notes


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
