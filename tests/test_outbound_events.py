"""Which alert events become outbound webhook deliveries, for which webhooks,
in the same transaction as the event, and what the document says."""

from datetime import timedelta

import pytest
from django.db import transaction

from accounts.models import Channel
from escalation import alerts, engine, signals
from escalation.models import AlertEvent, EscalationPolicy, EscalationStep, EventKind, StepTarget
from groups.models import Group
from integrations.models import WebhookDelivery
from integrations.outbound import delivery, payloads
from tests.conftest import T0, am_alert, am_payload, post_json
from tests.outbound_helpers import Receiver, deliveries, events_sent, make_webhook, open_alert

URL = "https://tickets.example.com/hooks/alertops"


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def messages_of(event: str) -> list[str]:
    return [d.payload["message"] for d in deliveries(event=event)]


def test_filters_by_event_and_group(group, alice, policy):
    other = Group.objects.create(name="Search", escalation_policy=policy)
    everything = make_webhook(URL, name="Everything")
    acks = make_webhook(URL, name="Acks", events=["acknowledged"])
    search_only = make_webhook(URL, name="Search only", groups=[other])
    payments_resolved = make_webhook(URL, name="Payments", events=["resolved"], groups=[group])
    make_webhook(URL, name="Disabled", enabled=False)

    alert = open_alert(group)
    alerts.acknowledge(alert, T0 + minutes(1), by=alice)
    alerts.resolve(alert, T0 + minutes(2), by=alice)
    search_alert = open_alert(other, "search/down", at=T0 + minutes(3))

    assert events_sent(webhook=everything) == ["created", "acknowledged", "resolved", "created"]
    assert events_sent(webhook=acks) == ["acknowledged"]
    assert events_sent(webhook=search_only) == ["created"]
    assert deliveries(webhook=search_only)[0].alert_id == search_alert.pk
    assert events_sent(webhook=payments_resolved) == ["resolved"]
    assert WebhookDelivery.objects.count() == 7


def test_every_kind_of_event_is_told(group, alice, bob):
    make_webhook(URL)
    alert = open_alert(group)
    alerts.add_note(alert, "Looking into it", T0 + minutes(1), by=bob)
    alerts.assign(alert, bob, T0 + minutes(2), by=alice)
    alerts.acknowledge(alert, T0 + minutes(3), by=bob)
    alerts.resolve(alert, T0 + minutes(4), by=bob)
    assert events_sent() == ["created", "note", "assigned", "acknowledged", "resolved"]
    assert [d.payload["event"] for d in deliveries()] == [
        "alert.created",
        "alert.note",
        "alert.assigned",
        "alert.acknowledged",
        "alert.resolved",
    ]
    assert messages_of("note") == ["Looking into it"]
    assigned = deliveries(event="assigned")[0].payload
    assert assigned["alert"]["assigned_to"]["name"] == "Bob"  # as after the change


def test_duplicates_notifications_and_info_entries_are_not_told(group, webhook, client, now):
    make_webhook(URL)
    body = {"summary": "Disk full", "dedup_key": "db-1/disk"}
    post_json(client, webhook, body)
    post_json(client, webhook, body)  # a duplicate
    alert = webhook.alerts.get()
    assert alert.events.filter(kind=EventKind.DUPLICATE).exists()
    assert alert.events.filter(kind=EventKind.INFO).exists()
    assert events_sent() == ["created"]


def test_the_document_describes_the_alert_after_the_event(group, alertmanager, alice, client, now):
    make_webhook(URL)
    post_json(client, alertmanager, am_payload(am_alert("fp1", team="storage")))
    alert = alertmanager.alerts.get()
    alerts.acknowledge(alert, T0 + minutes(3), by=alice)

    created, acked = deliveries()
    assert created.payload["actor"] == {"type": "tool", "name": "Alertmanager", "email": None}
    assert created.payload["alert"]["status"] == "open"
    assert acked.alert_id == alert.pk
    assert acked.next_attempt_at == T0 + minutes(3)
    assert acked.event_id != created.event_id
    document = acked.payload
    assert document == {
        "version": 1,
        "id": acked.event_id,
        "event": "alert.acknowledged",
        "occurred_at": "2026-03-02T09:03:00.000Z",
        "message": "Acknowledged; escalation stopped.",
        "actor": {"type": "user", "name": "Alice", "email": "alice@example.com"},
        "alert": {
            "id": alert.pk,
            "url": f"http://testserver/alerts/{alert.pk}/",
            "summary": "HighLatency: p99 latency high (fp1)",
            "status": "acknowledged",
            "severity": "critical",
            "group": {"id": group.pk, "name": "Payments"},
            "integration": {"id": alertmanager.pk, "name": "Alertmanager"},
            "dedup_key": "fp1",
            "source": alert.source,
            "created_at": "2026-03-02T09:00:00.000Z",
            "acknowledged_at": "2026-03-02T09:03:00.000Z",
            "acknowledged_by": {"id": alice.pk, "name": "Alice", "email": "alice@example.com"},
            "resolved_at": None,
            "resolved_by": None,
            "assigned_to": None,
            "duplicate_count": 0,
            "labels": {"alertname": "HighLatency", "severity": "critical", "team": "storage"},
            "links": [{"href": "http://prometheus.local/graph?g0.expr=up", "text": "Source"}],
            "details": alert.details,
            "held_until": None,
            "hold_reason": "",
        },
    }
    assert alert.details  # the tool's own fields travel along


def test_an_event_rolled_back_leaves_no_delivery(group, alice, django_capture_on_commit_callbacks):
    make_webhook(URL)
    alert = open_alert(group)
    before = WebhookDelivery.objects.count()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        alerts.acknowledge(alert, T0 + minutes(1), by=alice)
        assert WebhookDelivery.objects.count() == before + 1  # written with the event
        raise RuntimeError("the request failed after the acknowledgement")
    alert.refresh_from_db()
    assert alert.status == "open"
    assert WebhookDelivery.objects.count() == before
    assert callbacks == []  # and nobody is woken for it


def test_a_committed_event_wakes_the_sender_once_per_transaction(
    webhook, client, now, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(200) as receiver:
        make_webhook(receiver.url)
        body = {"summary": "Disk full", "dedup_key": "db-1/disk"}
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = post_json(client, webhook, body)
        assert response.status_code == 202
        assert len(callbacks) == 1
        # The wake-up ran the sweep inline (the test q cluster is synchronous).
        assert [r.json["event"] for r in receiver.requests] == ["alert.created"]
    assert deliveries()[0].status == "delivered"


def test_many_alerts_in_one_request_wake_the_sender_once(
    alertmanager, client, now, django_capture_on_commit_callbacks
):
    make_webhook(URL)
    body = am_payload(am_alert("fp1"), am_alert("fp2"), am_alert("fp3"))
    with django_capture_on_commit_callbacks() as callbacks:
        assert post_json(client, alertmanager, body).status_code == 202
    assert events_sent() == ["created"] * 3
    assert len(callbacks) == 1


def test_many_alerts_in_one_request_read_the_webhooks_once(alertmanager, client, now, monkeypatch):
    from integrations.outbound import events

    make_webhook(URL)
    reads = []
    real = events.subscribers
    monkeypatch.setattr(events, "subscribers", lambda: reads.append(1) or real())
    body = am_payload(am_alert("fp1"), am_alert("fp2"), am_alert("fp3"))

    assert post_json(client, alertmanager, body).status_code == 202

    assert events_sent() == ["created"] * 3
    assert len(reads) == 1


def test_a_batch_that_fails_announces_nothing(group):
    make_webhook(URL)
    with pytest.raises(RuntimeError), transaction.atomic(), signals.batched():
        open_alert(group)
        raise RuntimeError("the request failed")
    assert not WebhookDelivery.objects.exists()
    with signals.batched(), signals.batched():  # nested: the outer one sends
        open_alert(group, key="other")
        assert not WebhookDelivery.objects.exists()
    assert events_sent() == ["created"]


def test_nothing_to_tell_costs_no_query_and_no_webhook_one(group, django_assert_num_queries):
    alert = open_alert(group)
    info = AlertEvent(alert=alert, kind=EventKind.INFO, message="fyi", at=T0)
    with django_assert_num_queries(0):
        signals.announce([info])
    note = AlertEvent(alert=alert, kind=EventKind.NOTE, message="a note", at=T0)
    with django_assert_num_queries(1):
        signals.announce([note])
    assert not WebhookDelivery.objects.exists()


def test_a_failure_to_queue_does_not_undo_the_alert(group, monkeypatch, caplog):
    make_webhook(URL)

    def broken(alert):
        raise ValueError("cannot describe the alert")

    monkeypatch.setattr(payloads, "alert_document", broken)
    alert = open_alert(group)
    assert alert.pk is not None
    assert not WebhookDelivery.objects.exists()
    warning = alert.events.get(kind=EventKind.WARNING)
    assert "Outbound webhooks were not told of this change" in warning.message
    assert "could not queue outbound webhook deliveries" in caplog.text


# Escalations: one alert.escalated when the escalation moves on, not for every page.


def test_the_first_paging_is_not_an_escalation_the_next_step_is(group):
    make_webhook(URL, events=["escalated"])
    alert = open_alert(group)
    assert engine.run_due(T0) == 1  # pages Alice, the Primary
    assert alert.events.filter(kind=EventKind.ESCALATED).count() == 1
    assert deliveries() == []
    assert engine.run_due(T0 + minutes(5)) == 1  # pages Bob, the Secondary
    (escalated,) = deliveries()
    assert escalated.payload["event"] == "alert.escalated"
    assert escalated.payload["message"].startswith("Paging Bob via Email")
    assert escalated.payload["actor"]["type"] == "system"
    engine.run_due(T0 + minutes(15))  # Carol, the Manager
    assert len(deliveries()) == 2


def make_policy(name: str, *steps: dict, **fields) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name=name, **fields)
    for position, step in enumerate(steps):
        EscalationStep.objects.create(
            policy=policy, position=position, **{"channels": [Channel.EMAIL], **step}
        )
    return policy


def test_paging_several_people_at_once_is_one_escalation(group):
    group.escalation_policy = make_policy(
        "Then everyone",
        {"target": StepTarget.PRIMARY, "wait_minutes": 5},
        {"target": StepTarget.ALL_MEMBERS},
    )
    group.save()
    make_webhook(URL, events=["escalated"])
    alert = open_alert(group)
    engine.run_due(T0)
    engine.run_due(T0 + minutes(5))
    assert alert.events.filter(kind=EventKind.ESCALATED).count() == 1 + 3
    (escalated,) = deliveries()
    message = escalated.payload["message"]
    assert "Paging Alice" in message
    assert "Paging Bob" in message
    assert "Paging Carol" in message


def test_a_step_after_a_zero_minute_wait_is_an_escalation(group):
    group.escalation_policy = make_policy(
        "No wait",
        {"target": StepTarget.PRIMARY, "wait_minutes": 0},
        {"target": StepTarget.SECONDARY},
    )
    group.save()
    make_webhook(URL, events=["escalated"])
    alert = open_alert(group)
    engine.run_due(T0)
    engine.run_due(T0)
    assert alert.notifications.filter(user__username="bob").exists()
    (escalated,) = deliveries()
    assert escalated.payload["message"].startswith("Paging Bob")


def test_retries_of_a_step_are_not_escalations(group):
    group.escalation_policy = make_policy(
        "Retrying",
        {"target": StepTarget.PRIMARY, "wait_minutes": 5},
        {"target": StepTarget.SECONDARY, "retries": 2, "retry_interval_minutes": 2},
        {"target": StepTarget.MANAGER},
    )
    group.save()
    make_webhook(URL, events=["escalated"])
    open_alert(group)
    for at in (T0, T0 + minutes(5), T0 + minutes(7), T0 + minutes(9)):
        assert engine.run_due(at) == 1
    (step_two,) = messages_of("escalated")  # step 2's first paging, not its two retries
    assert step_two.startswith("Paging Bob")
    assert engine.run_due(T0 + minutes(14)) == 1
    assert messages_of("escalated")[1].startswith("Paging Carol")


def test_a_duplicate_before_the_first_page_does_not_make_it_an_escalation(group):
    make_webhook(URL, events=["escalated"])
    alert = open_alert(group)
    open_alert(group, at=T0 + timedelta(seconds=1))  # counted as a duplicate
    alert.refresh_from_db()
    assert alert.duplicate_count == 1
    assert engine.run_due(T0 + timedelta(seconds=2)) == 1  # pages Alice
    assert deliveries() == []


def test_escalate_now_is_told_once_with_who_pressed_it(group, alice):
    make_webhook(URL, events=["escalated"])
    alert = open_alert(group)
    engine.run_due(T0)
    at = T0 + minutes(1)
    assert alerts.escalate_now(alert, at, by=alice)
    (escalated,) = deliveries()
    assert escalated.payload["actor"]["name"] == "Alice"
    assert escalated.payload["message"].startswith("Escalated now to")
    assert engine.run_due(at) == 1  # the engine pages Bob at once
    assert alert.notifications.filter(user__username="bob").exists()
    assert len(deliveries()) == 1  # the same escalation, not told twice
    engine.run_due(at + minutes(10))  # the policy moves on to Carol by itself
    assert len(deliveries()) == 2


@pytest.mark.parametrize("paged_first", [True, False])
def test_reopening_after_the_acknowledgement_timeout_is_one_escalation(
    group, alice, policy, paged_first
):
    policy.ack_timeout_minutes = 10
    policy.save()
    make_webhook(URL, events=["escalated", "acknowledged"])
    alert = open_alert(group)
    if paged_first:
        engine.run_due(T0)
    alerts.acknowledge(alert, T0 + minutes(1), by=alice)  # before anybody was paged, or after
    assert engine.run_due(T0 + minutes(11)) == 1  # re-opened, Alice paged (again)
    assert alert.notifications.filter(user=alice).count() == (2 if paged_first else 1)
    assert events_sent() == ["acknowledged", "escalated"]
    assert "re-opened" in messages_of("escalated")[0]


def test_assigning_pages_the_assignee_without_an_escalation(group, alice, bob):
    make_webhook(URL, events=["escalated", "assigned"])
    alert = open_alert(group)
    engine.run_due(T0)
    alerts.assign(alert, bob, T0 + minutes(1), by=alice)
    engine.run_due(T0 + minutes(1))
    assert alert.notifications.filter(user=bob).exists()
    assert events_sent() == ["assigned"]


def test_a_test_delivery_is_tried_once(db, settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(500) as receiver:
        webhook = make_webhook(receiver.url)
        sent = delivery.send_test(webhook, T0, None)
        delivery.sweep(now=T0 + timedelta(days=1))
        assert len(receiver.requests) == 1
    assert (sent.status, sent.attempts, sent.event) == ("failed", 1, "test")
    assert sent.error == "HTTP 500 Internal Server Error (gave up after 1 attempts)"
    assert sent.payload["event"] == "webhook.test"
