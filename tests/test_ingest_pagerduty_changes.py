"""PagerDuty change events, POST /v2/change/enqueue: kept, shown, paging nobody."""

from datetime import UTC, datetime
from typing import Any

import pytest

from escalation.models import Alert
from integrations.models import ChangeEvent, InboundEvent
from tests.conftest import T0
from tests.pagerduty_helpers import (
    CHANGE,
    ENQUEUE,
    enqueue,
    pd_error,
    trigger,
)

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
