"""PagerDuty Events API v2, refused events: a 4xx is final for PagerDuty's
clients, so every bad event answers 400 (or 404) naming the field, and is logged.
"""

import json

import pytest

from escalation.models import Alert, AlertEvent
from integrations.models import InboundEvent
from tests.pagerduty_helpers import (
    enqueue,
    event,
    pd_error,
    send,
    trigger,
    with_payload,
)

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
