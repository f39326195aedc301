"""Opsgenie Alert API: GET /v2/alerts/requests/<requestId>, what became of a request."""

import uuid

import pytest

from escalation.models import Alert
from integrations.models import Integration, IntegrationKind
from tests.opsgenie_helpers import (
    act,
    assert_opsgenie_accepted,
    auth,
    create,
    full_alert,
    status_of,
)

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
