"""One open alert per integration and dedup key, even when duplicates arrive together."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from escalation.models import Alert
from integrations.models import InboundEvent, Integration, IntegrationKind
from tests.conftest import T0, am_alert, am_payload

SENDERS = 8


def post_together(integration, bodies):
    """POST each body from its own thread and connection, all released at once."""
    barrier = threading.Barrier(len(bodies), timeout=30)
    statuses = [None] * len(bodies)
    errors = []

    def send(i, body):
        try:
            client = Client()
            barrier.wait()
            response = client.post(
                integration.url_path, data=json.dumps(body), content_type="application/json"
            )
            statuses[i] = (response.status_code, response.json().get("outcome"))
        except Exception as error:  # reported below, with the thread's number
            errors.append((i, repr(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sender hung"
    assert errors == []
    return statuses


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_open_one_alert(alertmanager):
    payload = am_payload(am_alert("fp-race"))

    statuses = post_together(alertmanager, [payload] * SENDERS)

    assert sorted(statuses) == [(202, "created")] + [(202, "duplicate")] * (SENDERS - 1)
    alert = Alert.objects.get()
    assert alert.dedup_key == "fp-race"
    assert alert.status == "open"
    assert alert.duplicate_count == SENDERS - 1
    assert alert.events.filter(kind="created").count() == 1
    assert alert.events.filter(kind="duplicate").count() == SENDERS - 1
    outcomes = list(InboundEvent.objects.values_list("outcome", flat=True))
    assert sorted(outcomes) == ["created"] + ["duplicate"] * (SENDERS - 1)
    assert set(InboundEvent.objects.values_list("alert_id", flat=True)) == {alert.pk}


@pytest.mark.django_db(transaction=True)
def test_concurrent_multi_alert_payloads_open_one_alert_per_fingerprint(alertmanager):
    # Each sender lists the fingerprints in a different order, so the races cross.
    fingerprints = ["fp-1", "fp-2", "fp-3"]
    bodies = [
        am_payload(*(am_alert(fp) for fp in fingerprints[i % 3 :] + fingerprints[: i % 3]))
        for i in range(SENDERS)
    ]

    statuses = post_together(alertmanager, bodies)

    assert [status for status, _ in statuses] == [202] * SENDERS
    alerts = Alert.objects.all()
    assert sorted(a.dedup_key for a in alerts) == fingerprints
    assert [a.duplicate_count for a in alerts] == [SENDERS - 1] * 3
    assert InboundEvent.objects.count() == SENDERS


def new_alert(integration, dedup_key="fp1", **fields):
    return Alert.objects.create(
        group=integration.group,
        integration=integration,
        summary="Disk full",
        dedup_key=dedup_key,
        created_at=T0,
        last_event_at=T0,
        next_action_at=fields.pop("next_action_at", T0),
        **fields,
    )


@pytest.mark.parametrize("status", ["open", "acknowledged"])
def test_database_refuses_a_second_active_alert(alertmanager, status):
    new_alert(alertmanager, status=status)

    with pytest.raises(IntegrityError), transaction.atomic():
        new_alert(alertmanager)

    assert Alert.objects.count() == 1


def test_database_allows_a_new_alert_once_the_first_is_resolved(alertmanager):
    first = new_alert(alertmanager)
    Alert.objects.filter(pk=first.pk).update(
        status="resolved", resolved_at=T0 + timedelta(minutes=1), next_action_at=None
    )

    second = new_alert(alertmanager)
    third_resolved = new_alert(alertmanager, status="resolved", next_action_at=None)

    assert Alert.objects.filter(dedup_key="fp1").count() == 3
    assert Alert.objects.filter(dedup_key="fp1", status="open").get() == second
    assert third_resolved.status == "resolved"


def test_database_allows_the_same_key_on_another_integration(alertmanager):
    other = Integration.objects.create(
        name="Other", kind=IntegrationKind.ALERTMANAGER, group=alertmanager.group
    )
    new_alert(alertmanager)

    new_alert(other)

    assert Alert.objects.filter(dedup_key="fp1", status="open").count() == 2


def test_database_refuses_a_resolved_alert_that_would_still_escalate(alertmanager):
    with pytest.raises(IntegrityError), transaction.atomic():
        new_alert(alertmanager, status="resolved", next_action_at=T0)

    assert Alert.objects.count() == 0
