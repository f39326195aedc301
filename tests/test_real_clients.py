"""Real clients against the live test server: Prometheus Alertmanager (its
webhook, PagerDuty and Opsgenie receivers), PagerDuty's `pagerduty` library
and Opsgenie's `opsgenie-sdk`. Each test asserts the rows the server wrote and
what the client returned; the server handles each request synchronously, so a
library call's answer means its alert already exists. Alertmanager sends on
its own schedule, so those tests wait (up to a deadline) for the rows."""

from datetime import UTC, datetime, timedelta

import opsgenie_sdk
import pagerduty
import pytest

from escalation.models import Alert, AlertEvent
from groups.models import Group
from integrations.models import ChangeEvent, InboundEvent, Integration, IntegrationKind
from tests.real_clients import (
    ALERTMANAGER_BINARY,
    INSTALL_HINT,
    Alertmanager,
    alertmanager_config,
    close_opsgenie_alert_api,
    iso,
    opsgenie_alert_api,
    pagerduty_client,
    prometheus_alert,
)

pytestmark = pytest.mark.django_db(transaction=True)


def make_integration(group: Group, kind: str) -> Integration:
    return Integration.objects.create(name=f"{kind} (real client)", kind=kind, group=group)


def outcomes(integration: Integration) -> list[str]:
    return list(
        InboundEvent.objects.filter(integration=integration)
        .order_by("id")
        .values_list("outcome", flat=True)
    )


def alerts_of(integration: Integration, count: int | None = None) -> list[Alert]:
    """The integration's alerts; with `count`, an empty list unless there are that many."""
    alerts = list(Alert.objects.filter(integration=integration).order_by("id"))
    return alerts if count is None or len(alerts) == count else []


# Prometheus Alertmanager ---------------------------------------------------


@pytest.fixture
def receivers(group) -> dict[str, Integration]:
    """One integration per Alertmanager receiver, keyed by the `kind` label that routes to it."""
    return {
        "webhook": make_integration(group, IntegrationKind.ALERTMANAGER),
        "pagerduty": make_integration(group, IntegrationKind.PAGERDUTY),
        "opsgenie": make_integration(group, IntegrationKind.OPSGENIE),
    }


@pytest.fixture
def am(live_server, receivers, tmp_path):
    """A running Prometheus Alertmanager whose receivers send to the live server."""
    if not ALERTMANAGER_BINARY:
        pytest.skip(INSTALL_HINT)
    process = Alertmanager(
        tmp_path,
        alertmanager_config(
            webhook_url=live_server.url + receivers["webhook"].url_path,
            pagerduty=(live_server.url + "/v2/enqueue", receivers["pagerduty"].key),
            opsgenie=(live_server.url + "/", receivers["opsgenie"].key),
        ),
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


def test_alertmanager_webhook_opens_one_alert_per_fingerprint_and_resolves_each(am, receivers):
    integration = receivers["webhook"]
    started = datetime.now(UTC) - timedelta(minutes=5)
    db1 = prometheus_alert("DiskFull", "webhook", "db-1", started)
    db2 = prometheus_alert("DiskFull", "webhook", "db-2", started)

    am.post_alerts([db1, db2])

    alerts = am.wait_for(lambda: alerts_of(integration, 2), "two alerts")
    fingerprints = {a["labels"]["instance"]: a["fingerprint"] for a in am.alerts()}
    by_key = {alert.dedup_key: alert for alert in alerts}
    assert set(by_key) == {fingerprints["db-1"], fingerprints["db-2"]}
    first = by_key[fingerprints["db-1"]]
    assert first.status == "open"
    assert first.group == integration.group
    assert first.severity == "critical"
    assert first.summary == "DiskFull: DiskFull on db-1"
    assert first.labels["instance"] == "db-1"
    # Grouped by alertname: one request, or (when the first flush caught one
    # alert alone) a second that repeats it beside the other.
    inbound = list(InboundEvent.objects.filter(integration=integration).order_by("id"))
    assert inbound[0].outcome == "created"
    assert {r["dedup_key"] for row in inbound for r in row.results} == set(by_key)
    assert {r["outcome"] for row in inbound for r in row.results} <= {"created", "duplicate"}
    assert all(row.status_code == 202 for row in inbound)

    am.post_alerts([{**db1, "endsAt": iso(datetime.now(UTC))}])

    am.wait_for(lambda: _status(first) == "resolved", "db-1's alert to be resolved")
    assert _status(by_key[fingerprints["db-2"]]) == "open"


def test_alertmanager_pagerduty_receiver_opens_one_alert_per_group(am, receivers):
    integration = receivers["pagerduty"]
    started = datetime.now(UTC) - timedelta(minutes=5)
    api1 = prometheus_alert("HighLatency", "pagerduty", "api-1", started)
    api2 = prometheus_alert("HighLatency", "pagerduty", "api-2", started)

    am.post_alerts([api1])

    (alert,) = am.wait_for(lambda: alerts_of(integration), "the group's alert")
    assert alert.status == "open"
    assert "HighLatency" in alert.summary
    assert alert.group == integration.group
    # PagerDuty's dedup key is the group's, not an alert's fingerprint.
    assert len(alert.dedup_key) == 64
    assert alert.dedup_key not in {a["fingerprint"] for a in am.alerts()}

    am.post_alerts([api2])  # the group changes: it notifies again

    am.wait_for(lambda: _refresh(alert).duplicate_count == 1, "the re-notification")
    assert alerts_of(integration) == [alert]
    assert outcomes(integration) == ["created", "duplicate"]

    now = iso(datetime.now(UTC))
    am.post_alerts([{**api1, "endsAt": now}, {**api2, "endsAt": now}])

    am.wait_for(lambda: _status(alert) == "resolved", "the group's alert to be resolved")
    assert outcomes(integration) == ["created", "duplicate", "resolved"]


def test_alertmanager_opsgenie_receiver_opens_one_alert_per_group(am, receivers):
    integration = receivers["opsgenie"]
    started = datetime.now(UTC) - timedelta(minutes=5)
    q1 = prometheus_alert("QueueBacklog", "opsgenie", "worker-1", started)
    q2 = prometheus_alert("QueueBacklog", "opsgenie", "worker-2", started)

    am.post_alerts([q1])

    (alert,) = am.wait_for(lambda: alerts_of(integration), "the group's alert")
    assert alert.status == "open"
    assert "QueueBacklog" in alert.summary
    assert alert.severity == "critical"  # the receiver's priority: P1
    assert len(alert.dedup_key) == 64  # Opsgenie's alias: the group key's hash

    am.post_alerts([q2])

    am.wait_for(lambda: _refresh(alert).duplicate_count == 1, "the re-notification")
    assert alerts_of(integration) == [alert]

    now = iso(datetime.now(UTC))
    am.post_alerts([{**q1, "endsAt": now}, {**q2, "endsAt": now}])

    # Alertmanager closes it by alias: POST /v2/alerts/<alias>/close?identifierType=alias.
    am.wait_for(lambda: _status(alert) == "resolved", "the group's alert to be closed")
    assert outcomes(integration) == ["created", "duplicate", "resolved"]


def _refresh(alert: Alert) -> Alert:
    alert.refresh_from_db()
    return alert


def _status(alert: Alert) -> str:
    return _refresh(alert).status


# PagerDuty's `pagerduty` library -------------------------------------------


@pytest.fixture
def pagerduty_integration(group) -> Integration:
    return make_integration(group, IntegrationKind.PAGERDUTY)


@pytest.fixture
def events_api_for(live_server):
    """PagerDuty's client for a routing key; closed after the test."""
    clients = []

    def make(routing_key: str) -> pagerduty.EventsApiV2Client:
        clients.append(pagerduty_client(live_server.url, routing_key))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def events_api(events_api_for, pagerduty_integration) -> pagerduty.EventsApiV2Client:
    return events_api_for(pagerduty_integration.key)


def test_pagerduty_trigger_duplicate_acknowledge_resolve(events_api, pagerduty_integration):
    links = [{"href": "https://grafana.test/d/db", "text": "Dashboard"}]
    images = [{"src": "https://grafana.test/render/db.png", "alt": "p99"}]
    payload = {
        "summary": "Payments DB replication lag over 30 s",
        "source": "db-primary-1",
        "severity": "warning",
        "custom_details": {"lag_seconds": 42, "replica": "db-replica-2"},
    }

    key = events_api.send_event(
        "trigger", dedup_key="payments/db-lag", payload=payload, links=links, images=images
    )

    assert key == "payments/db-lag"
    alert = Alert.objects.get(integration=pagerduty_integration)
    assert alert.dedup_key == key
    assert alert.status == "open"
    assert alert.summary == payload["summary"]
    assert alert.source == "db-primary-1"
    assert alert.severity == "warning"
    assert alert.group == pagerduty_integration.group
    assert alert.details["custom_details"] == {"lag_seconds": 42, "replica": "db-replica-2"}
    assert {"href": "https://grafana.test/d/db", "text": "Dashboard"} in alert.links

    assert events_api.send_event("trigger", dedup_key=key, payload=payload) == key
    alert.refresh_from_db()
    assert alert.duplicate_count == 1
    assert Alert.objects.filter(integration=pagerduty_integration).count() == 1

    assert events_api.acknowledge(key) == key
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_at is not None

    assert events_api.resolve(key) == key
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.resolved_at is not None
    assert outcomes(pagerduty_integration) == ["created", "duplicate", "acknowledged", "resolved"]


def test_pagerduty_trigger_without_dedup_key_gets_one_from_the_server(
    events_api, pagerduty_integration
):
    key = events_api.trigger("Checkout error rate 5%", "checkout-api", severity="critical")

    assert key
    alert = Alert.objects.get(integration=pagerduty_integration)
    assert alert.dedup_key == key
    assert alert.severity == "critical"
    # The key the server chose is the one later events use.
    assert events_api.resolve(key) == key
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_pagerduty_change_events_are_recorded_and_open_no_alert(events_api, pagerduty_integration):
    # submit() without a timestamp fails inside pagerduty 7.2.0 itself
    # (datetime.timezone looked up on the datetime class), so pass one.
    events_api.submit(
        "Deployed payments-api v2.4.1",
        source="ci.payments.test",
        custom_details={"commit": "ab12cd3", "by": "alice"},
        links=[{"href": "https://ci.test/builds/981", "text": "Build 981"}],
        timestamp="2026-03-02T08:55:00Z",
    )
    events_api.send_change_event(
        payload={
            "summary": "Feature flag new-checkout on",
            "source": "flags.test",
            "timestamp": "2026-03-02T08:58:00+00:00",
            "custom_details": {"flag": "new-checkout"},
        },
        links=[{"href": "https://flags.test/new-checkout", "text": "Flag"}],
    )

    deploy, flag = ChangeEvent.objects.order_by("happened_at")
    assert deploy.summary == "Deployed payments-api v2.4.1"
    assert deploy.source == "ci.payments.test"
    assert deploy.integration == pagerduty_integration
    assert deploy.group == pagerduty_integration.group
    assert deploy.happened_at == datetime(2026, 3, 2, 8, 55, tzinfo=UTC)
    assert deploy.details == {"commit": "ab12cd3", "by": "alice"}
    assert deploy.links == [{"href": "https://ci.test/builds/981", "text": "Build 981"}]
    assert flag.summary == "Feature flag new-checkout on"
    assert flag.happened_at == datetime(2026, 3, 2, 8, 58, tzinfo=UTC)
    assert flag.details == {"flag": "new-checkout"}
    assert not Alert.objects.exists()
    assert outcomes(pagerduty_integration) == ["change", "change"]


def test_pagerduty_unknown_routing_key_is_refused(events_api_for, pagerduty_integration):
    client = events_api_for("not-a-key-of-ours")

    with pytest.raises(pagerduty.HttpError) as refused:
        client.trigger("Disk full", "db-1")

    assert 400 <= refused.value.response.status_code < 500
    assert not Alert.objects.exists()


# Opsgenie's `opsgenie-sdk` -------------------------------------------------


@pytest.fixture
def opsgenie_integration(group) -> Integration:
    return make_integration(group, IntegrationKind.OPSGENIE)


@pytest.fixture
def alert_api_for(live_server):
    """Opsgenie's AlertApi for an API key; its connections are closed after the test."""
    apis = []

    def make(api_key: str) -> opsgenie_sdk.AlertApi:
        apis.append(opsgenie_alert_api(live_server.url, api_key))
        return apis[-1]

    yield make
    for api in apis:
        close_opsgenie_alert_api(api)


@pytest.fixture
def alert_api(alert_api_for, opsgenie_integration) -> opsgenie_sdk.AlertApi:
    return alert_api_for(opsgenie_integration.key)


def test_opsgenie_create_status_duplicate_acknowledge_note_close(alert_api, opsgenie_integration):
    payload = opsgenie_sdk.CreateAlertPayload(
        message="Payments API 5xx above 2%",
        alias="payments-api-5xx",
        description="Error rate over the last 5 minutes",
        priority="P1",
        tags=["payments", "api"],
        details={"region": "eu-west-1", "rate": "2.4%"},
        entity="payments-api",
        source="synthetics",
    )

    created = alert_api.create_alert(create_alert_payload=payload)

    assert created.result == "Request will be processed"
    assert isinstance(created.took, float)
    assert created.request_id
    alert = Alert.objects.get(integration=opsgenie_integration)
    assert alert.dedup_key == "payments-api-5xx"
    assert alert.status == "open"
    assert alert.summary == "Payments API 5xx above 2%"
    assert alert.severity == "critical"
    assert alert.source == "synthetics"
    assert alert.group == opsgenie_integration.group
    assert alert.details["description"] == "Error rate over the last 5 minutes"
    assert alert.details["details"] == {"region": "eu-west-1", "rate": "2.4%"}
    assert alert.details["tags"] == ["payments", "api"]

    status = alert_api.get_request_status(request_id=created.request_id)

    assert status.request_id
    assert status.data.is_success is True
    assert status.data.action == "Create"
    assert status.data.alias == "payments-api-5xx"
    assert status.data.alert_id == str(alert.pk)
    assert status.data.processed_at is not None
    # The SDK's own short polling reads the same request status.
    assert created.id == str(alert.pk)

    again = alert_api.create_alert(create_alert_payload=payload)

    assert again.request_id != created.request_id
    assert alert_api.get_request_status(request_id=again.request_id).data.alert_id == str(alert.pk)
    alert.refresh_from_db()
    assert alert.duplicate_count == 1
    assert Alert.objects.filter(integration=opsgenie_integration).count() == 1

    acked = alert_api.acknowledge_alert(
        identifier="payments-api-5xx",
        identifier_type="alias",
        acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(
            user="alice@example.com", source="opsgenie-sdk", note="Looking"
        ),
    )

    assert acked.result == "Request will be processed"
    alert.refresh_from_db()
    assert alert.status == "acknowledged"

    alert_api.add_note(
        identifier="payments-api-5xx",
        identifier_type="alias",
        add_note_to_alert_payload=opsgenie_sdk.AddNoteToAlertPayload(
            user="alice@example.com", source="opsgenie-sdk", note="Rolled back v2.4.1"
        ),
    )

    assert AlertEvent.objects.filter(
        alert=alert, kind="note", message__contains="Rolled back v2.4.1"
    ).exists()

    closed = alert_api.close_alert(
        identifier=str(alert.pk),
        identifier_type="id",
        close_alert_payload=opsgenie_sdk.CloseAlertPayload(
            user="alice@example.com", source="opsgenie-sdk", note="Fixed"
        ),
    )

    assert closed.request_id
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert outcomes(opsgenie_integration) == [
        "created",
        "duplicate",
        "acknowledged",
        "noted",
        "resolved",
    ]


def test_opsgenie_wrong_key_is_refused(alert_api_for, opsgenie_integration):
    api = alert_api_for("not-a-key-of-ours")

    with pytest.raises(opsgenie_sdk.OpenApiException) as refused:
        api.create_alert(create_alert_payload=opsgenie_sdk.CreateAlertPayload(message="Disk full"))

    assert 400 <= refused.value.status < 500
    assert not Alert.objects.exists()
