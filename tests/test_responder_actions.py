"""Responder actions (acknowledge, assign, escalate now, note, resolve) from the dashboard and
the responder page, and their races with the engine."""

from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import User
from alertops.lib import clock
from escalation import alerts, engine, links, planner
from escalation.alerts import AlertInput, acknowledge, raise_alert
from escalation.models import (
    Alert,
    AlertStatus,
    EventKind,
    Notification,
    NotificationStatus,
)
from groups.models import Group
from tests.conftest import T0, make_user


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


class Now:
    value = T0


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """The views ask alertops.lib.clock for the time; tests set Now.value."""
    Now.value = T0
    monkeypatch.setattr(clock, "now", lambda: Now.value)


def open_alert(group: Group, key: str = "db-down") -> Alert:
    alert, created = raise_alert(group, AlertInput(summary="Database is down", dedup_key=key), T0)
    assert created
    return alert


def via_dashboard(client: Client, alert: Alert, user: User, action: str, data: dict, follow=False):
    client.force_login(user)
    return client.post(f"/alerts/{alert.pk}/{action}/", data, follow=follow)


def via_responder_page(
    client: Client, alert: Alert, user: User, action: str, data: dict, follow=False
):
    token = links.make_token(alert.pk, user.pk)
    return client.post(f"/r/{token}/", {"action": action, **data}, follow=follow)


VIA = {"the dashboard": via_dashboard, "the responder page": via_responder_page}


@pytest.fixture(params=list(VIA))
def act(request, client):
    """act(alert, user, action, at, **fields): post the action at instant `at` from one page."""
    post = VIA[request.param]

    def act(alert, user, action, at, follow=False, **data):
        Now.value = at
        return post(client, alert, user, action, data, follow=follow)

    act.via = request.param
    return act


def pages(alert: Alert) -> list[tuple[str, object, str]]:
    rows = alert.notifications.order_by("id")
    return [(n.user.username, n.due_at, n.status) for n in rows]


def events(alert: Alert, kind: str):
    return list(alert.events.filter(kind=kind).select_related("actor"))


def test_acknowledge_stops_the_escalation_and_cancels_pending_pages(act, group, alice):
    alert = open_alert(group)
    engine.run_due(T0)

    response = act(alert, alice, "acknowledge", T0 + minutes(1))

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, alice)
    assert pages(alert) == [("alice", T0, NotificationStatus.CANCELLED)]
    [event] = events(alert, EventKind.ACKNOWLEDGED)
    assert (event.actor, event.at) == (alice, T0 + minutes(1))
    assert f"via {act.via}" in event.message
    assert engine.run_due(T0 + minutes(5)) == 0
    assert engine.run_due(T0 + minutes(15)) == 0
    assert alert.notifications.count() == 1


def test_assign_pages_the_assignee_now_and_at_every_later_step(act, group, alice, bob, carol):
    alert = open_alert(group)
    engine.run_due(T0)
    engine.run_due(T0 + minutes(5))  # Bob already paged once as Secondary

    response = act(alert, alice, "assign", T0 + minutes(6), assignee=str(bob.pk))

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.assigned_to == bob
    # Nothing sent yet: Alice's page (and Bob's own earlier one) are cancelled.
    assert pages(alert) == [
        ("alice", T0, NotificationStatus.CANCELLED),
        ("bob", T0 + minutes(5), NotificationStatus.CANCELLED),
    ]
    [event] = events(alert, EventKind.ASSIGNED)
    assert event.message.startswith(f"Assigned to Bob via {act.via}")
    assert (event.actor, event.at) == (alice, T0 + minutes(6))

    for m in (6, 11, 21):
        assert engine.run_due(T0 + minutes(m)) == 1
    bob_pages = alert.notifications.filter(user=bob).order_by("id")
    assert [n.due_at for n in bob_pages] == [
        T0 + minutes(5),
        T0 + minutes(6),  # at once
        T0 + minutes(11),  # step 2, his own step again
        T0 + minutes(21),  # step 3, the Manager's, pages Bob instead
    ]
    assert not alert.notifications.filter(user=carol, status=NotificationStatus.PENDING).exists()

    assert acknowledge(alert, T0 + minutes(22), by=bob)
    assert engine.run_due(T0 + timedelta(hours=2)) == 0
    assert alert.notifications.filter(user=bob).count() == 4


def test_assign_to_somebody_outside_the_group_is_refused(act, group, alice):
    dave = make_user("dave")
    alert = open_alert(group)
    engine.run_due(T0)
    before = Alert.objects.values().get(pk=alert.pk)

    for fields in ({"assignee": str(dave.pk)}, {"assignee": ""}, {}):
        response = act(alert, alice, "assign", T0 + minutes(1), **fields)
        assert response.status_code == 400
        assert "Choose who to assign the alert to" in response.content.decode()

    assert Alert.objects.values().get(pk=alert.pk) == before
    assert events(alert, EventKind.ASSIGNED) == []
    assert pages(alert) == [("alice", T0, NotificationStatus.PENDING)]


def test_escalate_now_fires_the_next_step_on_the_next_run(act, group, alice, bob):
    alert = open_alert(group)
    engine.run_due(T0)

    response = act(alert, alice, "escalate", T0 + minutes(1))

    assert response.status_code == 302
    assert pages(alert) == [("alice", T0, NotificationStatus.CANCELLED)]
    [event] = events(alert, EventKind.ESCALATED)[-1:]
    assert event.message.startswith(f"Escalated now to step 2, Secondary via {act.via}")
    assert (event.actor, event.at) == (alice, T0 + minutes(1))

    assert engine.run_due(T0 + minutes(1)) == 1
    assert pages(alert)[-1] == ("bob", T0 + minutes(1), NotificationStatus.PENDING)
    # The Manager follows Bob's own wait, counted from when he was paged.
    assert engine.run_due(T0 + minutes(11)) == 1
    assert pages(alert)[-1][:2] == ("carol", T0 + minutes(11))


def test_escalate_now_after_the_policy_has_run_its_course_changes_nothing(act, group, alice):
    alert = open_alert(group)
    for m in (0, 5, 15):
        engine.run_due(T0 + minutes(m))
    before = Alert.objects.values().get(pk=alert.pk)
    escalated = len(events(alert, EventKind.ESCALATED))

    response = act(alert, alice, "escalate", T0 + minutes(20), follow=True)

    assert response.status_code == 200
    assert "Nothing changed" in response.content.decode()
    assert Alert.objects.values().get(pk=alert.pk) == before
    assert len(events(alert, EventKind.ESCALATED)) == escalated


def test_note_lands_on_the_timeline_and_an_empty_one_is_refused(act, group, alice):
    alert = open_alert(group)

    response = act(alert, alice, "note", T0 + minutes(2), text="  Restarting the primary  ")
    assert response.status_code == 302
    [note] = events(alert, EventKind.NOTE)
    assert (note.message, note.actor, note.at) == ("Restarting the primary", alice, T0 + minutes(2))

    for fields in ({"text": "   "}, {}):
        response = act(alert, alice, "note", T0 + minutes(3), **fields)
        assert response.status_code == 400
        assert "Write the note's text" in response.content.decode()
    assert len(events(alert, EventKind.NOTE)) == 1


def test_resolve_closes_the_alert_and_cancels_pending_pages(act, group, alice):
    alert = open_alert(group)
    engine.run_due(T0)

    response = act(alert, alice, "resolve", T0 + minutes(3))

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.next_action_at) == (
        AlertStatus.RESOLVED,
        alice,
        None,
    )
    assert pages(alert) == [("alice", T0, NotificationStatus.CANCELLED)]
    [event] = events(alert, EventKind.RESOLVED)
    assert (event.actor, event.at) == (alice, T0 + minutes(3))
    assert engine.run_due(T0 + minutes(30)) == 0


def test_every_action_lands_on_the_timeline_with_its_actor_and_time(act, group, alice, bob):
    alert = open_alert(group)
    engine.run_due(T0)
    steps = [
        ("note", {"text": "Looking"}, EventKind.NOTE),
        ("assign", {"assignee": str(bob.pk)}, EventKind.ASSIGNED),
        ("escalate", {}, EventKind.ESCALATED),
        ("acknowledge", {}, EventKind.ACKNOWLEDGED),
        ("resolve", {}, EventKind.RESOLVED),
    ]
    for m, (action, fields, _) in enumerate(steps, start=1):
        assert act(alert, alice, action, T0 + minutes(m), **fields).status_code == 302

    by_people = alert.events.filter(actor__isnull=False).order_by("at", "id")
    assert [(e.kind, e.actor, e.at) for e in by_people] == [
        (kind, alice, T0 + minutes(m)) for m, (_, _, kind) in enumerate(steps, start=1)
    ]


# Races: the service's conditional updates let exactly one side win.


def test_acknowledgement_between_the_engine_reading_and_claiming_wins_alone(
    group, alice, monkeypatch
):
    alert = open_alert(group)
    engine.run_due(T0)
    real_plan_firing = engine.plan_firing

    def acknowledge_first(ctx, pos, due, now):
        assert acknowledge(Alert.objects.get(pk=ctx.alert_id), now, by=alice)
        return real_plan_firing(ctx, pos, due, now)

    monkeypatch.setattr(engine, "plan_firing", acknowledge_first)

    assert engine.run_due(T0 + minutes(5)) == 0

    assert not Notification.objects.filter(user__username="bob").exists()
    alert.refresh_from_db()
    assert (alert.status, alert.next_action_at) == (AlertStatus.ACKNOWLEDGED, None)
    assert not any("Bob" in e.message for e in events(alert, EventKind.ESCALATED))


def test_escalate_now_racing_an_acknowledgement_changes_nothing(group, alice, monkeypatch):
    alert = open_alert(group)
    engine.run_due(T0)
    real_position_unchanged = alerts.as_read

    def acknowledge_first(read):
        assert acknowledge(Alert.objects.get(pk=read.pk), T0 + minutes(1), by=alice)
        return real_position_unchanged(read)

    monkeypatch.setattr(alerts, "as_read", acknowledge_first)

    assert not alerts.escalate_now(alert, T0 + minutes(1), by=alice)

    alert.refresh_from_db()
    assert (alert.status, alert.next_action_at) == (AlertStatus.ACKNOWLEDGED, None)
    assert not any(e.message.startswith("Escalated now") for e in events(alert, "escalated"))
    assert engine.run_due(T0 + minutes(30)) == 0
    assert pages(alert) == [("alice", T0, NotificationStatus.CANCELLED)]


@pytest.mark.parametrize("at", [T0, T0 + minutes(5)], ids=["first step", "second step"])
def test_assignment_racing_an_engine_step_wins_alone(group, alice, bob, carol, monkeypatch, at):
    alert = open_alert(group)
    if at > T0:
        engine.run_due(T0)
    real_targets = planner.targets

    def assign_first(ctx, step, now):
        assert alerts.assign(Alert.objects.get(pk=ctx.alert_id), carol, now, by=alice)
        return real_targets(ctx, step, now)

    monkeypatch.setattr(planner, "targets", assign_first)
    assert engine.run_due(at) == 0
    monkeypatch.setattr(planner, "targets", real_targets)

    # Whoever the step was for is not paged; Carol, the assignee, is at once.
    assert not alert.notifications.filter(due_at=at).exclude(user=carol).exists()
    assert engine.run_due(at) == 1
    assert [n.user for n in alert.notifications.filter(due_at=at)] == [carol]
    alert.refresh_from_db()
    assert (alert.assigned_to, alert.step_index, alert.next_action_at) == (
        carol,
        1,
        at + minutes(5),
    )


def test_escalate_now_loses_to_an_assignment_made_while_it_ran(group, alice, bob, monkeypatch):
    # A new alert (first step due now) and a fresh assignment look alike but
    # for the assignee: the guard must tell them apart.
    alert, _ = raise_alert(group, AlertInput(summary="Disk full", dedup_key="disk"), now=T0)
    real_as_read = alerts.as_read

    def assign_first(read):
        monkeypatch.setattr(alerts, "as_read", real_as_read)
        assert alerts.assign(Alert.objects.get(pk=read.pk), bob, T0, by=alice)
        return real_as_read(read)

    monkeypatch.setattr(alerts, "as_read", assign_first)

    assert not alerts.escalate_now(alert, T0, by=alice)
    alert.refresh_from_db()
    assert (alert.assigned_to, alert.step_index, alert.next_action_at) == (bob, 0, T0)
    assert not alert.events.filter(message__startswith="Escalated now").exists()
