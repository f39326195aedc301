"""Grafana unified alerting's webhook contact point through POST /in/<key>/,
with and without its HMAC-SHA256 signature."""

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest

from escalation.models import Alert
from integrations.models import InboundEvent
from tests.conftest import T0, last_inbound, post_json

SECRET = "s3cret-of-the-contact-point"


def grafana_alert(fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    """One entry of a Grafana webhook's alerts[], as Grafana 10-12 sends it."""
    return {
        "status": status,
        "labels": {
            "alertname": "HighCPU",
            "grafana_folder": "Payments",
            "instance": "web-1:9100",
            "severity": "warning",
            **labels,
        },
        "annotations": {"summary": f"CPU above 90% ({fingerprint})"},
        "startsAt": "2026-03-02T08:58:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-02T09:05:00Z",
        "generatorURL": "https://grafana.local/alerting/grafana/cpu/view?orgId=1",
        "fingerprint": fingerprint,
        "silenceURL": "https://grafana.local/alerting/silence/new?matcher=alertname%3DHighCPU",
        "dashboardURL": "https://grafana.local/d/node?orgId=1",
        "panelURL": "https://grafana.local/d/node?orgId=1&viewPanel=3",
        "values": {"A": 93.5, "C": 1},
        "valueString": "[ var='A' labels={instance=web-1:9100} value=93.5 ]",
    }


def grafana_payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "receiver": "alertops",
        "status": status,
        "orgId": 1,
        "alerts": list(alerts),
        "groupLabels": {"alertname": "HighCPU"},
        "commonLabels": {"alertname": "HighCPU"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.local/",
        "version": "1",
        "groupKey": '{}:{alertname="HighCPU"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] HighCPU Payments",
        "state": "alerting",
        "message": "**Firing**\n\nValue: A=93.5",
    }


def sign(body: bytes, secret: str = SECRET, timestamp: str = "") -> str:
    message = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def send(client, integration, raw: bytes, headers: dict[str, str] | None = None):
    return client.post(
        integration.url_path, data=raw, content_type="application/json", headers=headers or {}
    )


def raw_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# Parsing


def test_each_fingerprint_opens_its_own_alert(client, grafana, now):
    payload = grafana_payload(grafana_alert("fp-a"), grafana_alert("fp-b", instance="web-2"))

    response = post_json(client, grafana, payload)

    assert response.status_code == 202, response.content
    assert [(r["dedup_key"], r["outcome"]) for r in response.json()["results"]] == [
        ("fp-a", "created"),
        ("fp-b", "created"),
    ]
    alerts = {a.dedup_key: a for a in Alert.objects.all()}
    assert set(alerts) == {"fp-a", "fp-b"}
    a = alerts["fp-a"]
    assert a.integration == grafana
    assert a.group == grafana.group
    assert a.summary == "HighCPU: CPU above 90% (fp-a)"
    assert a.severity == "warning"
    assert a.source == "web-1:9100"
    assert alerts["fp-b"].source == "web-2"
    assert a.labels["grafana_folder"] == "Payments"


def test_links_values_and_org_are_kept(client, grafana, now):
    post_json(client, grafana, grafana_payload(grafana_alert("fp1")))

    alert = Alert.objects.get()
    assert alert.links == [
        {"href": "https://grafana.local/alerting/grafana/cpu/view?orgId=1", "text": "Source"},
        {"href": "https://grafana.local/d/node?orgId=1", "text": "Dashboard"},
        {"href": "https://grafana.local/d/node?orgId=1&viewPanel=3", "text": "Panel"},
        {
            "href": "https://grafana.local/alerting/silence/new?matcher=alertname%3DHighCPU",
            "text": "Silence",
        },
    ]
    assert alert.details["values"] == {"A": 93.5, "C": 1}
    assert alert.details["valueString"] == "[ var='A' labels={instance=web-1:9100} value=93.5 ]"
    assert alert.details["orgId"] == 1
    assert alert.details["dashboardURL"] == "https://grafana.local/d/node?orgId=1"
    assert alert.details["externalURL"] == "https://grafana.local/"


def test_image_url_becomes_a_link(client, grafana, now):
    entry = {**grafana_alert("fp1"), "imageURL": "https://grafana.local/render/cpu.png"}

    post_json(client, grafana, grafana_payload(entry))

    links = Alert.objects.get().links
    assert {"href": "https://grafana.local/render/cpu.png", "text": "Image"} in links


def test_entry_without_optional_urls_has_only_its_source_link(client, grafana, now):
    entry = grafana_alert("fp1")
    for name in ("silenceURL", "dashboardURL", "panelURL", "values", "valueString"):
        del entry[name]

    response = post_json(client, grafana, grafana_payload(entry))

    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert [link["text"] for link in alert.links] == ["Source"]
    assert "values" not in alert.details
    assert "valueString" not in alert.details


def test_same_fingerprint_again_is_a_duplicate(client, grafana, now):
    post_json(client, grafana, grafana_payload(grafana_alert("fp1")))

    response = post_json(client, grafana, grafana_payload(grafana_alert("fp1")))

    assert response.json()["outcome"] == "duplicate"
    assert Alert.objects.get().duplicate_count == 1


def test_resolved_entry_resolves_its_alert_only(client, grafana, now):
    post_json(client, grafana, grafana_payload(grafana_alert("fp1"), grafana_alert("fp2")))
    now.value = T0 + timedelta(minutes=5)

    payload = grafana_payload(grafana_alert("fp1", "resolved"), grafana_alert("fp2"))
    payload["status"] = "resolved"  # Grafana, like Alertmanager: the top says little
    response = post_json(client, grafana, payload)

    assert response.status_code == 202, response.content
    assert [r["outcome"] for r in response.json()["results"]] == ["resolved", "duplicate"]
    statuses = dict(Alert.objects.values_list("dedup_key", "status"))
    assert statuses == {"fp1": "resolved", "fp2": "open"}
    assert Alert.objects.get(dedup_key="fp1").resolved_at == T0 + timedelta(minutes=5)


def test_resolved_for_unknown_fingerprint_is_ignored(client, grafana, now):
    response = post_json(client, grafana, grafana_payload(grafana_alert("nope", "resolved")))

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "ignored"
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    "payload, named",
    [
        ({"version": "1", "orgId": 1}, "field 'alerts' is required"),
        ({"version": "1", "alerts": []}, "field 'alerts' is empty"),
        ({"version": "1", "alerts": [{"status": "firing"}]}, "'alerts[0].fingerprint'"),
        (
            {"version": "1", "alerts": [{**grafana_alert("fp"), "dashboardURL": 3}]},
            "field 'alerts[0].dashboardURL' must be a string",
        ),
        (
            {"version": "1", "alerts": [{**grafana_alert("fp"), "status": "pending"}]},
            "field 'alerts[0].status' must be 'firing' or 'resolved'",
        ),
    ],
)
def test_bad_payload_is_400_naming_the_field(client, grafana, payload, named):
    response = post_json(client, grafana, payload)

    assert response.status_code == 400
    assert named in response.json()["error"]
    inbound = InboundEvent.objects.get()
    assert (inbound.outcome, inbound.status_code) == ("rejected", 400)
    assert Alert.objects.count() == 0


# Signatures


@pytest.fixture
def signed(grafana):
    grafana.signing_secret = SECRET
    grafana.save()
    return grafana


def test_unsigned_integration_needs_no_signature(client, grafana, now):
    response = send(client, grafana, raw_of(grafana_payload(grafana_alert("fp1"))))

    assert response.status_code == 202, response.content


def test_signed_body_is_accepted(client, signed, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(client, signed, raw, {"X-Grafana-Alerting-Signature": sign(raw)})

    assert response.status_code == 202, response.content
    assert Alert.objects.get().dedup_key == "fp1"
    assert last_inbound().outcome == "created"


def test_upper_case_hex_signature_is_accepted(client, signed, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(client, signed, raw, {"X-Grafana-Alerting-Signature": sign(raw).upper()})

    assert response.status_code == 202, response.content


def assert_refused(response, integration, raw: bytes, why: str) -> None:
    assert response.status_code == 401
    message = response.json()["error"]
    assert message.startswith("signature refused: ")
    assert why in message
    inbound = InboundEvent.objects.get()
    assert inbound.integration == integration
    assert inbound.outcome == "rejected"
    assert inbound.status_code == 401
    assert inbound.message == message
    assert inbound.body == raw.decode()
    assert Alert.objects.count() == 0


def test_missing_signature_is_401(client, signed, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(client, signed, raw)

    assert_refused(response, signed, raw, "the X-Grafana-Alerting-Signature header is missing")


@pytest.mark.parametrize(
    "signature",
    [
        sign(b"another body"),
        sign(raw_of(grafana_payload(grafana_alert("fp1"))), secret="wrong secret"),
        "sha256=" + sign(raw_of(grafana_payload(grafana_alert("fp1")))),
        "not-hex",
    ],
)
def test_wrong_signature_is_401(client, signed, now, signature):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(client, signed, raw, {"X-Grafana-Alerting-Signature": signature})

    assert_refused(response, signed, raw, "does not match the body")


@pytest.mark.parametrize("signature", ["\u00e9" * 64, "caf\u00e9"])
def test_non_ascii_signature_is_401_not_500(client, signed, now, signature):
    """A header may carry any byte; hmac.compare_digest raises on non-ASCII text."""
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(client, signed, raw, {"X-Grafana-Alerting-Signature": signature})

    assert_refused(response, signed, raw, "does not match the body")


def test_signature_of_a_tampered_body_is_401(client, signed, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))
    tampered = raw.replace(b"fp1", b"fp2")

    response = send(client, signed, tampered, {"X-Grafana-Alerting-Signature": sign(raw)})

    assert_refused(response, signed, tampered, "does not match the body")


def test_custom_signature_header(client, signed, now):
    signed.signature_header = "X-Hub-Signature"
    signed.save()
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    in_default = send(client, signed, raw, {"X-Grafana-Alerting-Signature": sign(raw)})
    in_custom = send(client, signed, raw, {"X-Hub-Signature": sign(raw)})

    assert in_default.status_code == 401
    assert "the X-Hub-Signature header is missing" in in_default.json()["error"]
    assert in_custom.status_code == 202, in_custom.content
    assert Alert.objects.count() == 1


def test_empty_signature_header_setting_means_grafanas_default(client, signed, now):
    signed.signature_header = ""
    signed.save()
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(client, signed, raw, {"X-Grafana-Alerting-Signature": sign(raw)})

    assert response.status_code == 202, response.content


@pytest.fixture
def timestamped(signed):
    signed.timestamp_header = "X-Grafana-Alerting-Signature-Timestamp"
    signed.save()
    return signed


def test_timestamp_variant_signs_timestamp_colon_body(client, timestamped, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))
    ts = "1772442000"

    response = send(
        client,
        timestamped,
        raw,
        {
            "X-Grafana-Alerting-Signature": sign(raw, timestamp=ts),
            "X-Grafana-Alerting-Signature-Timestamp": ts,
        },
    )

    assert response.status_code == 202, response.content
    assert Alert.objects.count() == 1


def test_timestamp_variant_refuses_the_body_only_signature(client, timestamped, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))
    ts = "1772442000"

    response = send(
        client,
        timestamped,
        raw,
        {
            "X-Grafana-Alerting-Signature": sign(raw),
            "X-Grafana-Alerting-Signature-Timestamp": ts,
        },
    )

    assert_refused(response, timestamped, raw, "does not match the body")


def test_timestamp_variant_refuses_a_changed_timestamp(client, timestamped, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(
        client,
        timestamped,
        raw,
        {
            "X-Grafana-Alerting-Signature": sign(raw, timestamp="1772442000"),
            "X-Grafana-Alerting-Signature-Timestamp": "1772442001",
        },
    )

    assert_refused(response, timestamped, raw, "does not match the body")


def test_timestamp_variant_without_timestamp_header_is_401(client, timestamped, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))

    response = send(
        client, timestamped, raw, {"X-Grafana-Alerting-Signature": sign(raw, timestamp="1")}
    )

    assert_refused(
        response, timestamped, raw, "the X-Grafana-Alerting-Signature-Timestamp header is missing"
    )


def test_signature_is_checked_before_the_body_is_read(client, signed, now):
    """A stranger without the secret learns nothing about our payload rules."""
    raw = b"{not json"

    response = send(client, signed, raw, {"X-Grafana-Alerting-Signature": sign(b"x")})

    assert response.status_code == 401


@pytest.mark.parametrize("ts", ["1772441699", "1772442301"])
def test_timestamp_variant_refuses_a_replay_older_or_newer_than_five_minutes(
    client, timestamped, now, ts
):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))
    headers = {
        "X-Grafana-Alerting-Signature": sign(raw, timestamp=ts),
        "X-Grafana-Alerting-Signature-Timestamp": ts,
    }

    response = send(client, timestamped, raw, headers)

    assert_refused(response, timestamped, raw, "s away from this server's clock")


def test_timestamp_variant_accepts_five_minutes_of_skew(client, timestamped, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))
    ts = "1772441700"  # T0 - 300 s
    headers = {
        "X-Grafana-Alerting-Signature": sign(raw, timestamp=ts),
        "X-Grafana-Alerting-Signature-Timestamp": ts,
    }

    assert send(client, timestamped, raw, headers).status_code == 202


def test_timestamp_variant_refuses_a_timestamp_that_is_not_a_number(client, timestamped, now):
    raw = raw_of(grafana_payload(grafana_alert("fp1")))
    headers = {
        "X-Grafana-Alerting-Signature": sign(raw, timestamp="yesterday"),
        "X-Grafana-Alerting-Signature-Timestamp": "yesterday",
    }

    response = send(client, timestamped, raw, headers)

    assert_refused(response, timestamped, raw, "must be a Unix time in seconds")
