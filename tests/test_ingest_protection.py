"""Who may send and how much: the per-minute rate limit, key rotation with a grace
period, disabled integrations, and JSON answers to failures (never a traceback)."""

import json
from datetime import timedelta

import pytest
from django.db import DatabaseError

from escalation import alerts
from escalation.models import Alert
from integrations import ingest, protection
from integrations.models import InboundEvent
from integrations.parsers import PARSERS
from tests.conftest import T0, am_alert, am_payload, last_inbound, post_json


def fire(client, integration, fingerprint="fp1"):
    return post_json(client, integration, am_payload(am_alert(fingerprint)))


# Rate limit


@pytest.fixture
def limited(alertmanager):
    alertmanager.rate_limit_per_minute = 3
    alertmanager.save()
    return alertmanager


def test_default_limit_is_600_a_minute(alertmanager):
    assert alertmanager.rate_limit_per_minute == 600


def test_requests_over_the_limit_get_429_with_retry_after(client, limited, now):
    now.value = T0 + timedelta(seconds=15)
    for i in range(3):
        assert fire(client, limited, f"fp{i}").status_code == 202
    now.value = T0 + timedelta(seconds=40)

    response = fire(client, limited, "fp3")

    assert response.status_code == 429
    assert response["Retry-After"] == "20"
    assert response.json() == {"error": "rate limit of 3 requests a minute reached; retry in 20 s"}
    assert Alert.objects.count() == 3
    refused = last_inbound()
    assert refused.integration == limited
    assert refused.outcome == "rejected"
    assert refused.status_code == 429
    assert refused.received_at == T0 + timedelta(seconds=40)
    assert json.loads(refused.body) == am_payload(am_alert("fp3"))


@pytest.mark.parametrize("second, retry_after", [(0, "60"), (1, "59"), (59, "1")])
def test_retry_after_counts_to_the_next_minute(client, limited, now, second, retry_after):
    now.value = T0
    for i in range(3):
        fire(client, limited, f"fp{i}")
    now.value = T0 + timedelta(seconds=second, microseconds=500_000)

    response = fire(client, limited, "fp3")

    assert response.status_code == 429
    assert response["Retry-After"] == retry_after


def test_next_minute_is_accepted_again(client, limited, now):
    now.value = T0 + timedelta(seconds=50)
    for i in range(3):
        fire(client, limited, f"fp{i}")
    assert fire(client, limited, "fp3").status_code == 429

    now.value = T0 + timedelta(minutes=1)
    responses = [fire(client, limited, f"fp{i}").status_code for i in range(3, 7)]

    assert responses == [202, 202, 202, 429]
    assert Alert.objects.count() == 6


def test_refused_requests_do_not_count(client, limited, now):
    """A sender that keeps retrying is not locked out by its own retries."""
    limited.rate_limit_per_minute = 1
    limited.save()
    assert fire(client, limited, "fp1").status_code == 202
    for _ in range(5):
        assert fire(client, limited, "fp2").status_code == 429
    limited.rate_limit_per_minute = 2
    limited.save()

    response = fire(client, limited, "fp2")

    assert response.status_code == 202, response.content
    assert InboundEvent.objects.filter(status_code=429).count() == 5


def test_rejected_requests_count_towards_the_limit(client, limited, now):
    for _ in range(3):
        assert post_json(client, limited, {"version": "4"}).status_code == 400

    assert fire(client, limited).status_code == 429


def test_the_limit_is_per_integration(client, limited, webhook, now):
    for i in range(3):
        fire(client, limited, f"fp{i}")

    response = post_json(client, webhook, {"summary": "x"})

    assert response.status_code == 202, response.content


def test_rate_limit_zero_means_no_limit(client, limited, now):
    limited.rate_limit_per_minute = 0
    limited.save()

    statuses = {fire(client, limited, f"fp{i}").status_code for i in range(20)}

    assert statuses == {202}
    assert Alert.objects.count() == 20


def test_pagerduty_429_is_shaped_like_pagerduty(client, pagerduty, now):
    pagerduty.rate_limit_per_minute = 1
    pagerduty.save()
    body = {
        "routing_key": pagerduty.key,
        "event_action": "trigger",
        "payload": {"summary": "x", "source": "y", "severity": "info"},
    }

    def send():
        return client.post("/v2/enqueue", data=json.dumps(body), content_type="application/json")

    assert send().status_code == 202
    response = send()

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json()["status"] == "invalid event"
    assert "rate limit of 1 requests a minute" in response.json()["message"]


def test_retry_after_is_none_under_the_limit(limited, now):
    assert protection.retry_after(limited, T0) is None


# Key rotation


def test_rotation_gives_a_new_key_that_works(client, alertmanager, now):
    old = alertmanager.key

    new = protection.rotate(alertmanager, T0)

    assert new != old
    alertmanager.refresh_from_db()
    assert alertmanager.key == new
    assert alertmanager.previous_key == old
    assert alertmanager.previous_key_expires_at == T0 + timedelta(hours=24)
    response = fire(client, alertmanager)
    assert response.status_code == 202, response.content
    assert last_inbound().message == ""


def post_with_key(client, key: str, fingerprint: str = "fp1"):
    return client.post(
        f"/in/{key}/",
        data=json.dumps(am_payload(am_alert(fingerprint))),
        content_type="application/json",
    )


def test_old_key_works_during_the_grace_and_says_so(client, alertmanager, now):
    old = alertmanager.key
    protection.rotate(alertmanager, T0, timedelta(hours=2))
    now.value = T0 + timedelta(hours=1, minutes=59)

    response = post_with_key(client, old)

    assert response.status_code == 202, response.content
    assert Alert.objects.get().integration == alertmanager
    inbound = last_inbound()
    assert inbound.integration == alertmanager
    assert inbound.outcome == "created"
    assert inbound.message == (
        "Sent with the integration's previous key, which stops working at 2026-03-02 11:00 UTC; "
        "give the sender the new one."
    )


def test_old_key_fails_once_the_grace_ends(client, alertmanager, now):
    old = alertmanager.key
    protection.rotate(alertmanager, T0, timedelta(hours=2))

    now.value = T0 + timedelta(hours=2)
    at_the_end = post_with_key(client, old, "fp1")
    now.value = T0 + timedelta(days=3)
    later = post_with_key(client, old, "fp2")

    assert at_the_end.status_code == 404
    assert later.status_code == 404
    assert Alert.objects.count() == 0
    assert last_inbound().integration is None
    assert fire(client, alertmanager).status_code == 202


def test_rotation_without_grace_stops_the_old_key_at_once(client, alertmanager, now):
    old = alertmanager.key

    protection.rotate(alertmanager, T0, timedelta(0))

    alertmanager.refresh_from_db()
    assert alertmanager.previous_key == ""
    assert alertmanager.previous_key_expires_at is None
    assert post_with_key(client, old).status_code == 404
    assert fire(client, alertmanager).status_code == 202


def test_second_rotation_ends_the_first_keys_grace(client, alertmanager, now):
    first = alertmanager.key
    protection.rotate(alertmanager, T0)
    second = alertmanager.key
    protection.rotate(alertmanager, T0 + timedelta(minutes=5))

    assert post_with_key(client, first, "fp1").status_code == 404
    assert post_with_key(client, second, "fp2").status_code == 202


def test_old_key_works_on_the_pagerduty_endpoint_too(client, pagerduty, now):
    old = pagerduty.key
    protection.rotate(pagerduty, T0, timedelta(minutes=30))
    body = {
        "routing_key": old,
        "event_action": "trigger",
        "payload": {"summary": "x", "source": "y", "severity": "info"},
    }

    response = client.post("/v2/enqueue", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 202, response.content
    assert "previous key" in last_inbound().message


def test_find_tells_the_previous_key_from_the_current_one(alertmanager):
    old = alertmanager.key
    new = protection.rotate(alertmanager, T0)

    assert protection.find(new, T0) == (alertmanager, False)
    assert protection.find(old, T0) == (alertmanager, True)
    assert protection.find(old, T0 + timedelta(hours=24)) == (None, False)
    assert protection.find("", T0) == (None, False)
    assert protection.find("x" * 65, T0) == (None, False)


# Disabled integrations


def test_disabled_integration_is_404_and_opens_nothing(client, alertmanager, now):
    alertmanager.enabled = False
    alertmanager.save()

    response = fire(client, alertmanager)

    assert response.status_code == 404
    assert response.json() == {
        "error": "Unknown or disabled integration key: integration is disabled."
    }
    assert Alert.objects.count() == 0
    inbound = last_inbound()
    assert (inbound.integration, inbound.outcome, inbound.status_code) == (
        alertmanager,
        "rejected",
        404,
    )
    alertmanager.refresh_from_db()
    assert alertmanager.last_received_at is None


def test_disabled_opsgenie_integration_is_404(client, opsgenie, now):
    opsgenie.enabled = False
    opsgenie.save()

    response = client.post(
        "/v2/alerts",
        data=json.dumps({"message": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"GenieKey {opsgenie.key}",
    )

    assert response.status_code == 404
    assert Alert.objects.count() == 0


def test_reenabled_integration_accepts_again(client, alertmanager, now):
    alertmanager.enabled = False
    alertmanager.save()
    fire(client, alertmanager)
    alertmanager.enabled = True
    alertmanager.save()

    assert fire(client, alertmanager).status_code == 202


# Failures inside: JSON, a status the sender knows how to treat, no traceback.


def test_unexpected_exception_is_500_json_without_traceback(client, alertmanager, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals at /srv/alertops/ingest.py line 42")

    monkeypatch.setattr(ingest, "receive", boom)

    response = fire(client, alertmanager)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "The event could not be processed (an internal error); please retry."
    }
    assert b"Traceback" not in response.content
    assert b"secret internals" not in response.content
    assert b"RuntimeError" not in response.content


def test_a_parser_crash_is_500_and_stores_nothing(client, alertmanager, monkeypatch):
    def crash(payload, integration):
        raise RuntimeError("parser bug")

    monkeypatch.setitem(PARSERS, "alertmanager", crash)

    response = fire(client, alertmanager)

    assert response.status_code == 500
    assert set(response.json()) == {"error"}
    assert b"parser bug" not in response.content
    assert Alert.objects.count() == 0


@pytest.mark.parametrize("path", ["/v2/enqueue", "/v2/alerts"])
def test_the_vendor_endpoints_answer_500_in_json_too(client, monkeypatch, path):
    def boom(*args, **kwargs):
        raise RuntimeError("oops")

    monkeypatch.setattr(ingest, "receive", boom)

    response = client.post(path, data="{}", content_type="application/json")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert b"oops" not in response.content


def test_database_error_is_503_with_retry_after(client, alertmanager, monkeypatch, now):
    def unavailable(*args, **kwargs):
        raise DatabaseError("could not connect to server")

    monkeypatch.setattr(alerts, "raise_alert", unavailable)

    response = fire(client, alertmanager)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": "The event could not be stored just now; please retry."}
    assert b"could not connect" not in response.content
    monkeypatch.undo()
    # Nothing half-stored: the retry opens the alert as if for the first time.
    assert InboundEvent.objects.count() == 0
    assert fire(client, alertmanager).json()["outcome"] == "created"


def test_database_error_on_request_status_is_503(client, opsgenie, monkeypatch, now):
    def unavailable(*args, **kwargs):
        raise DatabaseError("server closed the connection")

    monkeypatch.setattr(protection, "find", unavailable)

    response = client.get("/v2/alerts/requests/abc", HTTP_AUTHORIZATION=f"GenieKey {opsgenie.key}")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_nul_in_the_url_key_is_404(client, alertmanager):
    response = client.post("/in/ab%00c/", data="{}", content_type="application/json")

    assert response.status_code == 404, response.content


def test_nul_in_the_genie_key_is_404(client, opsgenie):
    response = client.post(
        "/v2/alerts",
        data=json.dumps({"message": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION="GenieKey ab\x00c",
    )

    assert response.status_code == 404, response.content
