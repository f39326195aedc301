"""PagerDuty Events API v2: POST /v2/enqueue (alert events) and /v2/change/enqueue.

Real PagerDuty clients post here with the integration key as `routing_key`
and raise unless a 2xx answer carries `dedup_key`; a 4xx is final for them,
so every bad event must answer 400 naming the field, and be logged.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from escalation.models import Alert, AlertEvent
from integrations.models import ChangeEvent, InboundEvent
from tests.conftest import T0, last_inbound

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


# Errors: each answers 400 (or 404) naming the field, and is logged as rejected.


def assert_rejected(integration, status: int, message: str, raw: bytes | None = None) -> None:
    inbound = InboundEvent.objects.get()
    assert inbound.integration == integration
    assert inbound.endpoint == "/v2/enqueue"
    assert inbound.outcome == "rejected"
    assert inbound.status_code == status
    assert inbound.message == message
    if raw is not None:
        assert inbound.body == raw.decode("utf-8", errors="replace")
    assert inbound.alert is None
    assert Alert.objects.count() == 0
    assert AlertEvent.objects.count() == 0


@pytest.mark.parametrize("routing_key", [None, "", 42])
def test_missing_routing_key_is_400(client, pagerduty, routing_key):
    body = trigger(pagerduty)
    if routing_key is None:
        del body["routing_key"]
    else:
        body["routing_key"] = routing_key
    raw = json.dumps(body).encode()

    response = send(client, raw)

    assert response.status_code == 400
    message = pd_error(response)
    assert "'routing_key'" in message
    assert_rejected(None, 400, message, raw)


def test_unknown_routing_key_is_404(client, pagerduty):
    response = enqueue(client, trigger(pagerduty, routing_key="no-such-key"))

    assert response.status_code == 404
    assert "Unknown or disabled integration key" in pd_error(response)
    assert_rejected(None, 404, "no integration has this key")


def test_disabled_integration_is_404(client, pagerduty):
    pagerduty.enabled = False
    pagerduty.save()

    response = enqueue(client, trigger(pagerduty))

    assert response.status_code == 404
    assert "disabled" in pd_error(response)
    assert_rejected(pagerduty, 404, "integration is disabled")


@pytest.mark.parametrize(
    "kind, label", [("alertmanager", "Prometheus Alertmanager"), ("opsgenie", "Opsgenie Alert API")]
)
def test_key_of_another_kind_is_400_naming_the_kind(client, request, kind, label):
    other = request.getfixturevalue(kind)

    response = enqueue(client, trigger(other))

    assert response.status_code == 400
    message = pd_error(response)
    assert f"this key belongs to a {label} integration" in message
    assert "PagerDuty Events API v2" in message
    assert other.url_path in message
    assert_rejected(other, 400, message)


def test_body_is_not_json_is_400(client, pagerduty):
    raw = b'{"routing_key": "abc",'

    response = send(client, raw)

    assert response.status_code == 400
    message = pd_error(response)
    assert message.startswith("malformed JSON:")
    assert_rejected(None, 400, message, raw)


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"payload": None}, "field 'payload' is required for event_action 'trigger'"),
        ({"payload": "Disk full"}, "field 'payload' must be a JSON object"),
        ({"event_action": "escalate"}, "field 'event_action' must be one of"),
        ({"event_action": None}, "field 'event_action' must be one of"),
        ({"event_action": 1}, "field 'event_action' must be a string"),
        ({"dedup_key": 7}, "field 'dedup_key' must be a string"),
        ({"dedup_key": "k" * 256}, "field 'dedup_key' is 256 characters long"),
        ({"links": "https://x.local"}, "field 'links' must be a list"),
        ({"links": ["https://x.local"]}, "field 'links[0]' must be a JSON object"),
        ({"links": [{"text": "Runbook"}]}, "field 'links[0].href' is required"),
        ({"links": [{"href": 3}]}, "field 'links[0].href' must be a string"),
        ({"links": [{"href": "https://a", "text": 3}]}, "field 'links[0].text' must be a str"),
        ({"images": {}}, "field 'images' must be a list"),
        ({"images": ["https://img"]}, "field 'images[0]' must be a JSON object"),
        ({"images": [{"href": "https://img"}]}, "field 'images[0].src' is required"),
        ({"images": [{"src": "https://a", "alt": 1}]}, "field 'images[0].alt' must be a str"),
        ({"client_url": 5}, "field 'client_url' must be a string"),
    ],
)
def test_bad_event_is_400_naming_the_field(client, pagerduty, changes, named):
    body = trigger(pagerduty)
    for name, value in changes.items():
        if value is None:
            del body[name]
        else:
            body[name] = value
    raw = json.dumps(body).encode()

    response = send(client, raw)

    assert response.status_code == 400, response.content
    message = pd_error(response)
    assert named in message
    assert_rejected(pagerduty, 400, message, raw)


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"summary": None}, "field 'payload.summary' is required"),
        ({"summary": "   "}, "field 'payload.summary' is required"),
        ({"summary": 12}, "field 'payload.summary' must be a string"),
        ({"summary": "x" * 1025}, "field 'payload.summary' is 1025 characters long"),
        ({"source": None}, "field 'payload.source' is required"),
        ({"source": ""}, "field 'payload.source' is required"),
        ({"severity": None}, "field 'payload.severity' is required"),
        ({"severity": "high"}, "field 'payload.severity' must be one of critical, error"),
        ({"severity": "Critical"}, "field 'payload.severity' must be one of"),
        ({"timestamp": "yesterday"}, "field 'payload.timestamp' must be an ISO 8601 time"),
        ({"timestamp": "2026-03-02T08:00:00"}, "field 'payload.timestamp' must be an ISO 8601"),
        ({"component": ["db"]}, "field 'payload.component' must be a string"),
    ],
)
def test_bad_payload_field_is_400_naming_it(client, pagerduty, fields, named):
    raw = json.dumps(with_payload(pagerduty, **fields)).encode()

    response = send(client, raw)

    assert response.status_code == 400, response.content
    message = pd_error(response)
    assert named in message
    assert_rejected(pagerduty, 400, message, raw)


def test_summary_of_1024_characters_is_accepted(client, pagerduty, now):
    response = enqueue(client, with_payload(pagerduty, summary="x" * 1024))

    assert response.status_code == 202, response.content
    assert len(Alert.objects.get().summary) == 1024


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_or_resolve_without_dedup_key_is_400(client, pagerduty, action):
    body = event(pagerduty, action, "")

    response = enqueue(client, body)

    assert response.status_code == 400
    message = pd_error(response)
    assert message == f"field 'dedup_key' is required for event_action '{action}'"
    assert_rejected(pagerduty, 400, message)


def test_one_bad_event_does_not_block_the_next(client, pagerduty, now):
    enqueue(client, with_payload(pagerduty, severity="sev1"))

    response = enqueue(client, trigger(pagerduty))

    assert response.status_code == 202, response.content
    assert Alert.objects.count() == 1
    assert list(InboundEvent.objects.order_by("id").values_list("outcome", "status_code")) == [
        ("rejected", 400),
        ("created", 202),
    ]


# Change events


def change(integration, **payload: Any) -> dict[str, Any]:
    return {
        "routing_key": integration.key,
        "payload": {
            "summary": "Deployed payments-api v2.4.1",
            "source": "github-actions",
            "timestamp": "2026-03-02T08:45:00+01:00",
            "custom_details": {"build": 1234, "commit": "a1b2c3"},
            **payload,
        },
        "links": [{"href": "https://ci.local/builds/1234", "text": "Build"}],
    }


def test_change_event_is_recorded_and_opens_no_alert(client, pagerduty, now):
    response = enqueue(client, change(pagerduty), path=CHANGE)

    assert response.status_code == 202, response.content
    assert response.json() == {"status": "success", "message": "Change event processed"}
    assert Alert.objects.count() == 0
    recorded = ChangeEvent.objects.get()
    assert recorded.integration == pagerduty
    assert recorded.group == pagerduty.group
    assert recorded.summary == "Deployed payments-api v2.4.1"
    assert recorded.source == "github-actions"
    assert recorded.happened_at == datetime(2026, 3, 2, 7, 45, tzinfo=UTC)
    assert recorded.received_at == T0
    assert recorded.details == {"build": 1234, "commit": "a1b2c3"}
    assert recorded.links == [{"href": "https://ci.local/builds/1234", "text": "Build"}]
    inbound = InboundEvent.objects.get()
    assert inbound.endpoint == "/v2/change/enqueue"
    assert inbound.outcome == "change"
    assert inbound.status_code == 202
    assert inbound.alert is None
    assert inbound.results[0]["message"] == f"change #{recorded.pk} for Payments"


def test_change_event_timestamp_in_pagerdutys_documented_format(client, pagerduty, now):
    body = change(pagerduty, timestamp="2015-07-17T08:42:58.315+0000")

    response = enqueue(client, body, path=CHANGE)

    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.get().happened_at == datetime(
        2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC
    )


def test_change_event_without_timestamp_happened_when_received(client, pagerduty, now):
    body = change(pagerduty)
    del body["payload"]["timestamp"]
    del body["payload"]["source"]
    del body["links"]

    response = enqueue(client, body, path=CHANGE)

    assert response.status_code == 202, response.content
    recorded = ChangeEvent.objects.get()
    assert recorded.happened_at == T0
    assert recorded.source == ""
    assert recorded.links == []


def test_change_event_does_not_touch_an_open_alert(client, pagerduty, now):
    enqueue(client, trigger(pagerduty))

    enqueue(client, change(pagerduty), path=CHANGE)

    alert = Alert.objects.get()
    assert alert.status == "open"
    assert alert.duplicate_count == 0
    assert ChangeEvent.objects.count() == 1


@pytest.mark.parametrize(
    "payload, named",
    [
        ({"summary": None}, "field 'payload.summary' is required"),
        ({"summary": ""}, "field 'payload.summary' is required"),
        ({"summary": 1}, "field 'payload.summary' must be a string"),
        ({"timestamp": "soon"}, "field 'payload.timestamp' must be an ISO 8601 time"),
        ({"custom_details": "x"}, "field 'payload.custom_details' must be a JSON object"),
    ],
)
def test_bad_change_event_is_400_naming_the_field(client, pagerduty, payload, named):
    body = change(pagerduty)
    for name, value in payload.items():
        if value is None:
            del body["payload"][name]
        else:
            body["payload"][name] = value

    response = enqueue(client, body, path=CHANGE)

    assert response.status_code == 400, response.content
    message = pd_error(response)
    assert named in message
    assert ChangeEvent.objects.count() == 0
    inbound = InboundEvent.objects.get()
    assert inbound.endpoint == "/v2/change/enqueue"
    assert (inbound.outcome, inbound.status_code, inbound.message) == ("rejected", 400, message)


def test_change_event_without_payload_is_400(client, pagerduty):
    response = enqueue(client, {"routing_key": pagerduty.key}, path=CHANGE)

    assert response.status_code == 400
    assert "field 'payload' must be a JSON object" in pd_error(response)
    assert ChangeEvent.objects.count() == 0


def test_change_event_with_unknown_key_is_404(client, pagerduty):
    response = enqueue(client, change(pagerduty) | {"routing_key": "nope"}, path=CHANGE)

    assert response.status_code == 404
    assert ChangeEvent.objects.count() == 0
    assert InboundEvent.objects.get().status_code == 404


@pytest.mark.parametrize("path", [ENQUEUE, CHANGE])
def test_only_post_is_allowed(client, pagerduty, path):
    response = client.get(path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert InboundEvent.objects.count() == 0
