"""Opsgenie Alert API requests and answers, for the tests of /v2/alerts."""

import json
import uuid
from typing import Any

from integrations.models import Integration

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
