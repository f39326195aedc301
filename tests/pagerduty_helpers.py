"""PagerDuty Events API v2 bodies and answers, for the tests of /v2/enqueue and
/v2/change/enqueue."""

import json
from typing import Any

ENQUEUE = "/v2/enqueue"
CHANGE = "/v2/change/enqueue"


def send(client, raw: bytes, path: str = ENQUEUE):
    return client.post(path, data=raw, content_type="application/json")


def enqueue(client, body: dict[str, Any], path: str = ENQUEUE):
    return send(client, json.dumps(body).encode(), path)


def trigger(integration, **changes: Any) -> dict[str, Any]:
    """A full trigger event for `integration`; `changes` replace top-level fields."""
    body: dict[str, Any] = {
        "routing_key": integration.key,
        "event_action": "trigger",
        "dedup_key": "db-1/disk",
        "payload": {
            "summary": "Disk full on db-1",
            "source": "db-1.example.com",
            "severity": "critical",
            "timestamp": "2026-03-02T08:59:30+00:00",
            "component": "postgres",
            "group": "storage",
            "class": "disk",
            "custom_details": {"free": "0 B", "mount": "/var/lib/postgresql"},
        },
        "links": [{"href": "https://runbooks.local/disk", "text": "Runbook"}],
        "images": [
            {
                "src": "https://grafana.local/render/disk.png",
                "href": "https://grafana.local/d/disk",
                "alt": "Disk usage",
            }
        ],
        "client": "Nagios",
        "client_url": "https://nagios.local/host/db-1",
    }
    body.update(changes)
    return body


def event(integration, action: str, dedup_key: str) -> dict[str, Any]:
    return {"routing_key": integration.key, "event_action": action, "dedup_key": dedup_key}


def with_payload(integration, **fields: Any) -> dict[str, Any]:
    """A trigger whose payload has `fields` changed; a value of None drops the field."""
    body = trigger(integration)
    for name, value in fields.items():
        if value is None:
            del body["payload"][name]
        else:
            body["payload"][name] = value
    return body


def pd_error(response) -> str:
    """The message of a PagerDuty-shaped refusal."""
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "message", "errors"}
    assert body["status"] == "invalid event"
    assert body["errors"] == [body["message"]]
    return body["message"]
