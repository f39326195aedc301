"""POST /in/<key>/ errors: the status, a JSON message naming the problem, a log row.

Alertmanager retries 5xx and drops 4xx, so a bad payload must answer 4xx and
only a failure to store may answer 5xx.
"""

import json

import pytest
from django.conf import settings
from django.core import mail
from django.db import OperationalError

from escalation import alerts
from escalation.models import Alert, AlertEvent, Notification
from integrations import ingest
from integrations.models import InboundEvent
from tests.conftest import am_alert, am_payload, post_json


def send(client, integration, raw: bytes, **extra):
    return client.post(integration.url_path, data=raw, content_type="application/json", **extra)


def error_of(response) -> str:
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def assert_rejected(integration, raw: bytes, message: str) -> None:
    """The request was logged as rejected, with its body, and changed nothing else."""
    inbound = InboundEvent.objects.get()
    assert inbound.integration == integration
    assert inbound.outcome == "rejected"
    assert inbound.message == message
    assert inbound.body == raw.decode("utf-8", errors="replace")
    assert inbound.alert is None
    assert Alert.objects.count() == 0
    assert AlertEvent.objects.count() == 0
    integration.refresh_from_db()
    assert integration.last_received_at is None


def test_unknown_key_is_404(client, alertmanager):
    response = client.post(
        "/in/no-such-key/",
        data=json.dumps(am_payload(am_alert("fp1"))),
        content_type="application/json",
    )

    assert response.status_code == 404
    assert "Unknown or disabled integration key" in error_of(response)
    assert Alert.objects.count() == 0
    assert not InboundEvent.objects.filter(integration__isnull=False).exists()


def test_disabled_integration_is_404(client, alertmanager):
    alertmanager.enabled = False
    alertmanager.save()
    raw = json.dumps(am_payload(am_alert("fp1"))).encode()

    response = send(client, alertmanager, raw)

    assert response.status_code == 404
    assert "disabled" in error_of(response)
    assert_rejected(alertmanager, raw, "integration is disabled")


def test_body_over_the_cap_is_413(client, webhook):
    cap = settings.INGEST_MAX_BODY_BYTES
    assert cap == 512 * 1024
    raw = b"x" * (cap + 1)

    response = send(client, webhook, raw)

    assert response.status_code == 413
    assert f"body of {cap + 1} bytes is over the 512 KB limit" in error_of(response)
    inbound = InboundEvent.objects.get()
    assert inbound.outcome == "rejected"
    assert inbound.body == ""
    assert inbound.body_size == cap + 1
    assert Alert.objects.count() == 0


def test_body_of_exactly_the_cap_is_accepted(client, webhook):
    cap = settings.INGEST_MAX_BODY_BYTES
    head = b'{"summary": "Big", "details": {"pad": "'
    raw = head + b"a" * (cap - len(head) - 3) + b'"}}'
    assert len(raw) == cap

    response = send(client, webhook, raw)

    assert response.status_code == 202, response.content
    assert len(Alert.objects.get().details["pad"]) == cap - len(head) - 3
    assert InboundEvent.objects.get().body_size == cap


def test_body_just_under_the_cap_fails_only_on_content(client, webhook):
    raw = b"{" * (settings.INGEST_MAX_BODY_BYTES - 1)

    response = send(client, webhook, raw)

    assert response.status_code == 400
    assert "JSON" in error_of(response)


def test_huge_declared_length_is_413_without_reading(client, webhook):
    response = send(client, webhook, b'{"summary": "x"}', CONTENT_LENGTH="3000000000")

    assert response.status_code == 413
    assert "3000000000 bytes" in error_of(response)
    inbound = InboundEvent.objects.get()
    assert inbound.outcome == "rejected"
    assert inbound.body_size == 2**31 - 1  # the most the column holds
    assert Alert.objects.count() == 0


AM = "alertmanager"
WH = "webhook"
am_ok = am_payload(am_alert("fp1"))


def am_without(field, **changes):
    entry = {k: v for k, v in am_alert("fp1").items() if k != field}
    return json.dumps(am_payload({**entry, **changes})).encode()


@pytest.mark.parametrize(
    "kind, raw, named",
    [
        (WH, b'{"summary": "x",}', "malformed JSON"),
        (AM, b"{not json", "malformed JSON"),
        (WH, b"", "the body is empty"),
        (WH, b"[1, 2]", "the body must be a JSON object"),
        (AM, b'"a string"', "the body must be a JSON object"),
        (WH, b'{"summary": "caf\xe9"}', "not UTF-8"),
        (AM, json.dumps({"version": "4"}).encode(), "field 'alerts' is required"),
        (AM, json.dumps({"version": "4", "alerts": {}}).encode(), "'alerts'"),
        (AM, json.dumps({"version": "4", "alerts": []}).encode(), "field 'alerts' is empty"),
        (AM, json.dumps({**am_ok, "version": "3"}).encode(), "field 'version' is '3'"),
        (AM, json.dumps(am_payload("fp1")).encode(), "alerts[0] must be a JSON object"),
        (AM, am_without("fingerprint"), "field 'alerts[0].fingerprint' is required"),
        (AM, am_without("fingerprint", fingerprint=""), "'alerts[0].fingerprint' is required"),
        (AM, am_without("fingerprint", fingerprint=7), "'alerts[0].fingerprint' must be a str"),
        (AM, am_without("status"), "field 'alerts[0].status' must be 'firing' or 'resolved'"),
        (AM, am_without("labels", labels=["x"]), "field 'alerts[0].labels' must be a JSON obj"),
        (WH, b"{}", "field 'summary' is required"),
        (WH, b'{"summary": "   "}', "field 'summary' is required"),
        (WH, b'{"summary": 5}', "field 'summary' must be a string"),
        (WH, b'{"summary": "x", "severity": 1}', "field 'severity' must be a string"),
        (WH, b'{"summary": "x", "severity": "sev1"}', "field 'severity' must be one of"),
        (WH, b'{"summary": "x", "details": "oops"}', "field 'details' must be a JSON object"),
        (WH, b'{"summary": "x", "details": [1]}', "field 'details' must be a JSON object"),
        (WH, b'{"summary": "x", "dedup_key": 12}', "field 'dedup_key' must be a string"),
        (WH, b'{"summary": "x", "source": {}}', "field 'source' must be a string"),
        (WH, b'{"summary": "x", "action": "close"}', "field 'action' must be one of"),
        (WH, b'{"action": "resolve"}', "field 'dedup_key' is required for action 'resolve'"),
        (WH, b'{"action": "acknowledge"}', "'dedup_key' is required for action 'acknowledge'"),
    ],
)
def test_bad_payload_is_400_naming_the_problem(client, request, kind, raw, named):
    integration = request.getfixturevalue(kind)

    response = send(client, integration, raw)

    assert response.status_code == 400, response.content
    message = error_of(response)
    assert named in message
    assert_rejected(integration, raw, message)


def test_one_bad_entry_rejects_the_whole_alertmanager_request(client, alertmanager):
    payload = am_payload(am_alert("fp1"), {**am_alert("fp2"), "fingerprint": None})
    raw = json.dumps(payload).encode()

    response = send(client, alertmanager, raw)

    assert response.status_code == 400
    assert "'alerts[1].fingerprint'" in error_of(response)
    assert_rejected(alertmanager, raw, error_of(response))


def test_missing_version_is_read_as_version_4(client, alertmanager):
    payload = {k: v for k, v in am_payload(am_alert("fp1")).items() if k != "version"}

    response = post_json(client, alertmanager, payload)

    assert response.status_code == 202, response.content
    assert Alert.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post_is_allowed(client, webhook, method):
    response = getattr(client, method)(webhook.url_path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "POST" in error_of(response)
    assert Alert.objects.count() == 0
    if method == "get":
        # GET is a heartbeat's ping, so the key is looked up first and the refusal logged.
        refused = InboundEvent.objects.get()
        assert (refused.integration, refused.outcome, refused.status_code) == (
            webhook,
            "rejected",
            405,
        )
    else:
        assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize(
    "target, name",
    [(ingest, "receive"), (alerts, "raise_alert"), (InboundEvent.objects, "create")],
)
def test_storage_failure_is_503_with_retry_after(client, alertmanager, monkeypatch, target, name):
    def fail(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(target, name, fail)

    response = post_json(client, alertmanager, am_payload(am_alert("fp1")))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "retry" in error_of(response)
    monkeypatch.undo()
    assert Alert.objects.count() == 0
    assert InboundEvent.objects.count() == 0
    assert AlertEvent.objects.count() == 0


def test_failure_after_the_alert_was_written_rolls_it_back(client, alertmanager, monkeypatch):
    """Alertmanager retries a 503; nothing half-stored may turn its retry into a duplicate."""
    real_create = InboundEvent.objects.create

    def fail_on_log(**fields):
        assert Alert.objects.count() == 1  # the alert was written before the log row
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(InboundEvent.objects, "create", fail_on_log)
    response = post_json(client, alertmanager, am_payload(am_alert("fp1")))
    monkeypatch.setattr(InboundEvent.objects, "create", real_create)

    assert response.status_code == 503
    assert Alert.objects.count() == 0
    retry = post_json(client, alertmanager, am_payload(am_alert("fp1")))
    assert retry.json()["outcome"] == "created"
    assert Alert.objects.get().duplicate_count == 0


@pytest.mark.parametrize("kind", [AM, WH])
def test_ingest_never_pages_anyone(client, request, fake_twilio, anymail_test_backend, kind):
    integration = request.getfixturevalue(kind)
    body = am_payload(am_alert("fp1")) if kind == AM else {"summary": "Disk full"}

    response = post_json(client, integration, body)

    assert response.status_code == 202, response.content
    assert Alert.objects.get().next_action_at is not None
    assert Notification.objects.count() == 0
    assert mail.outbox == []
    assert fake_twilio.requests == []


# A payload problem is permanent: it must never answer 5xx, or the sender retries forever.


@pytest.mark.parametrize(
    "raw, stored",
    [
        (
            b'{"summary": "x", "details": {"r": NaN, "m": -Infinity}}',
            {"r": "NaN", "m": "-Infinity"},
        ),
        (b'{"summary": "x", "details": {"k\\u0000": "a\\u0000b"}}', {"k\ufffd": "a\ufffdb"}),
        (b'{"summary": "x", "details": {"k": "a\\ud800b"}}', {"k": "a\ufffdb"}),
    ],
)
def test_unstorable_values_are_kept_as_text(client, webhook, raw, stored):
    response = send(client, webhook, raw)

    assert response.status_code == 202, response.content
    assert Alert.objects.get().details.items() >= stored.items()


def test_nul_and_surrogate_in_summary_and_dedup_key_are_replaced(client, webhook):
    raw = b'{"summary": "disk\\u0000full\\udfff", "dedup_key": "k\\u0000"}'

    assert send(client, webhook, raw).status_code == 202
    resolve = send(client, webhook, b'{"action": "resolve", "dedup_key": "k\\u0000"}')

    alert = Alert.objects.get()
    assert alert.summary == "disk\ufffdfull\ufffd"
    assert alert.dedup_key == "k\ufffd"
    assert resolve.json()["outcome"] == "resolved"


def test_raw_nul_byte_is_400_and_logged(client, webhook):
    raw = b'{"summary": "a\x00b"}'

    response = send(client, webhook, raw)

    assert response.status_code == 400
    assert "malformed JSON" in error_of(response)
    assert InboundEvent.objects.get().body == '{"summary": "a\ufffdb"}'


@pytest.mark.parametrize("depth, status", [(63, 202), (64, 400), (5000, 400), (100_000, 400)])
def test_nesting_deeper_than_64_levels_is_400(client, webhook, depth, status):
    raw = b'{"summary": "x", "details": {"d": ' + b"[" * depth + b"]" * depth + b"}}"

    response = send(client, webhook, raw)

    assert response.status_code == status
    assert Alert.objects.count() == (1 if status == 202 else 0)
    if status == 400:
        assert "nested more than 64 levels deep" in error_of(response)


@pytest.mark.parametrize("kind, field", [(AM, "alerts[0].fingerprint"), (WH, "dedup_key")])
def test_dedup_key_over_255_characters_is_400(client, request, kind, field):
    integration = request.getfixturevalue(kind)

    def body(key):
        return am_payload(am_alert(key)) if kind == AM else {"summary": "x", "dedup_key": key}

    response = post_json(client, integration, body("k" * 256))
    accepted = post_json(client, integration, body("k" * 255))

    assert response.status_code == 400
    assert f"field '{field}' is 256 characters long" in error_of(response)
    assert accepted.status_code == 202
    assert Alert.objects.get().dedup_key == "k" * 255
