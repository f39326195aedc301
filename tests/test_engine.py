"""The escalation engine, driven by explicit `now`: who is paged, when, and how often."""

from datetime import timedelta

import pytest

from accounts.models import Channel
from escalation import engine, planner
from escalation.alerts import AlertInput, acknowledge, raise_alert, resolve
from escalation.models import (
    Alert,
    AlertStatus,
    EscalationPolicy,
    EscalationStep,
    EventKind,
    Notification,
    NotificationStatus,
    StepTarget,
)
from escalation.policies import DEFAULT_POLICY_NAME
from groups.models import Group, Membership
from tests.conftest import T0, make_user


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def open_alert(group: Group, key: str = "disk-full", now=T0) -> Alert:
    alert, created = raise_alert(group, AlertInput(summary="Disk full", dedup_key=key), now=now)
    assert created
    return alert


def pages(alert: Alert) -> list[tuple[str, str]]:
    """(username, channel) of every Notification of the alert, in creation order."""
    return [(n.user.username, n.channel) for n in alert.notifications.order_by("id")]


def make_policy(name: str, *steps: dict, repeat_count: int = 0) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name=name, repeat_count=repeat_count)
    for position, step in enumerate(steps):
        EscalationStep.objects.create(
            policy=policy, position=position, **{"channels": [Channel.EMAIL], **step}
        )
    return policy


def events(alert: Alert, kind: str) -> list[str]:
    return list(alert.events.filter(kind=kind).values_list("message", flat=True))


def test_default_policy_pages_primary_then_secondary_then_manager(group):
    alert = open_alert(group)

    assert engine.run_due(T0) == 1
    assert pages(alert) == [("alice", "email")]
    first = alert.notifications.get()
    assert (first.due_at, first.status, first.step_index) == (T0, NotificationStatus.PENDING, 0)

    assert engine.run_due(T0 + minutes(4) + timedelta(seconds=59)) == 0
    assert pages(alert) == [("alice", "email")]

    assert engine.run_due(T0 + minutes(5)) == 1
    assert pages(alert) == [("alice", "email"), ("bob", "email")]

    assert engine.run_due(T0 + minutes(14)) == 0
    assert engine.run_due(T0 + minutes(15)) == 1
    assert pages(alert) == [("alice", "email"), ("bob", "email"), ("carol", "email")]

    alert.refresh_from_db()
    assert alert.next_action_at is None
    assert alert.status == AlertStatus.OPEN
    assert any("run its course" in m for m in events(alert, EventKind.INFO))
    for later in (T0 + minutes(25), T0 + timedelta(days=2)):
        assert engine.run_due(later) == 0
    assert Notification.objects.count() == 3


def test_step_pages_its_target_once_per_channel(group, alice, policy):
    policy.steps.filter(position=0).update(channels=["email", "sms", "voice"])
    policy.touch()
    alert = open_alert(group)

    engine.run_due(T0)

    rows = alert.notifications.order_by("id")
    assert [(n.user, n.channel, n.recipient) for n in rows] == [
        (alice, "email", "alice@example.com"),
        (alice, "sms", "+15550000001"),
        (alice, "voice", "+15550000001"),
    ]
    assert events(alert, EventKind.ESCALATED) == [
        "Paging Alice via Email, SMS, Voice (step 1, Primary)."
    ]


@pytest.mark.parametrize("stop", [acknowledge, resolve])
def test_acknowledge_or_resolve_stops_the_escalation(group, alice, stop):
    alert = open_alert(group)
    engine.run_due(T0)
    assert stop(alert, T0 + minutes(1), by=alice)

    assert alert.notifications.get().status == NotificationStatus.CANCELLED
    for later in (T0 + minutes(5), T0 + minutes(15), T0 + timedelta(hours=3)):
        assert engine.run_due(later) == 0
    assert pages(alert) == [("alice", "email")]
    alert.refresh_from_db()
    assert alert.next_action_at is None


def test_running_twice_at_the_same_instant_pages_once(group):
    alert = open_alert(group)
    assert engine.run_due(T0) == 1
    assert engine.run_due(T0) == 0
    assert pages(alert) == [("alice", "email")]

    # A replayed step (its state rolled back) finds the idempotency keys taken.
    Alert.objects.filter(pk=alert.pk).update(step_index=0, attempt=0, next_action_at=T0)
    assert engine.advance(alert.pk, T0)
    assert pages(alert) == [("alice", "email")]


def test_acknowledgement_racing_a_step_wins_alone(group, alice, monkeypatch):
    alert = open_alert(group)
    real_targets = planner.targets

    def ack_first(*args):
        acknowledge(Alert.objects.get(pk=alert.pk), T0, by=alice)
        return real_targets(*args)

    monkeypatch.setattr(planner, "targets", ack_first)

    assert engine.run_due(T0) == 0
    assert not Notification.objects.exists()
    alert.refresh_from_db()
    assert (alert.status, alert.next_action_at) == (AlertStatus.ACKNOWLEDGED, None)


def test_retries_notify_the_same_person_then_wait(group):
    group.escalation_policy = make_policy(
        "Retrying",
        {
            "target": StepTarget.PRIMARY,
            "retries": 2,
            "retry_interval_minutes": 2,
            "wait_minutes": 7,
        },
        {"target": StepTarget.SECONDARY},
    )
    group.save()
    alert = open_alert(group)

    for at in (T0, T0 + minutes(2), T0 + minutes(4)):
        assert engine.run_due(at - timedelta(seconds=1)) == 0
        assert engine.run_due(at) == 1
    assert pages(alert) == [("alice", "email")] * 3
    assert [n.step_attempt for n in alert.notifications.order_by("id")] == [0, 1, 2]

    assert engine.run_due(T0 + minutes(10)) == 0
    assert engine.run_due(T0 + minutes(11)) == 1
    assert pages(alert)[-1] == ("bob", "email")


def test_repeat_count_runs_the_policy_again_then_stops(group):
    group.escalation_policy = make_policy(
        "Twice",
        {"target": StepTarget.PRIMARY, "wait_minutes": 5},
        {"target": StepTarget.SECONDARY, "wait_minutes": 10},
        repeat_count=1,
    )
    group.save()
    alert = open_alert(group)

    for at in (T0, T0 + minutes(5), T0 + minutes(15), T0 + minutes(20)):
        assert engine.run_due(at) == 1
    assert engine.run_due(T0 + minutes(30)) == 0
    assert engine.run_due(T0 + timedelta(days=1)) == 0

    rows = alert.notifications.order_by("id")
    assert [(n.user.username, n.round, n.due_at) for n in rows] == [
        ("alice", 0, T0),
        ("bob", 0, T0 + minutes(5)),
        ("alice", 1, T0 + minutes(15)),
        ("bob", 1, T0 + minutes(20)),
    ]
    alert.refresh_from_db()
    assert alert.next_action_at is None


def test_step_whose_role_nobody_holds_is_skipped_at_once(group, bob):
    group.memberships.filter(user=bob).delete()
    alert = open_alert(group)

    engine.run_due(T0)
    assert engine.run_due(T0 + minutes(5)) == 1

    rows = alert.notifications.order_by("id")
    assert [(n.user.username, n.due_at) for n in rows] == [
        ("alice", T0),
        ("carol", T0 + minutes(5)),
    ]
    assert any("Nobody in Payments is Secondary" in m for m in events(alert, EventKind.WARNING))
    alert.refresh_from_db()
    assert alert.next_action_at is None
    assert any("run its course" in m for m in events(alert, EventKind.INFO))


def test_last_step_skipped_ends_the_escalation_without_claiming_nobody_was_paged(group, carol):
    group.memberships.filter(user=carol).delete()
    alert = open_alert(group)

    for m in (0, 5, 15):
        engine.run_due(T0 + minutes(m))
    assert pages(alert) == [("alice", "email"), ("bob", "email")]
    alert.refresh_from_db()
    assert alert.next_action_at is None
    assert any("Nobody in Payments is Manager" in m for m in events(alert, EventKind.WARNING))
    assert not any("Nobody could be paged" in m for m in events(alert, EventKind.WARNING))
    assert any("run its course" in m for m in events(alert, EventKind.INFO))


def test_group_where_nobody_holds_a_targeted_role(policy, alice):
    lonely = Group.objects.create(name="Lonely", escalation_policy=policy)
    Membership.objects.create(group=lonely, user=alice)  # a member without a role
    alert = open_alert(lonely)

    assert engine.run_due(T0) == 1

    assert not Notification.objects.exists()
    assert any("Nobody could be paged" in m for m in events(alert, EventKind.WARNING))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert alert.next_action_at is None


def test_policy_without_steps_says_so_instead_of_failing_every_tick(alice):
    empty = EscalationPolicy.objects.create(name="Empty")
    lonely = Group.objects.create(name="Lonely", escalation_policy=empty)
    Membership.objects.create(group=lonely, user=alice, is_primary=True)
    alert = open_alert(lonely)

    assert engine.run_due(T0) == 1
    assert engine.run_due(T0 + timedelta(seconds=1)) == 0

    assert not Notification.objects.exists()
    assert any("has no steps" in m for m in events(alert, EventKind.WARNING))
    alert.refresh_from_db()
    assert (alert.status, alert.next_action_at) == (AlertStatus.OPEN, None)


def test_member_without_a_contact_method_for_the_channels_is_named(group, alice, policy):
    dave = make_user("dave")  # email only
    group.memberships.filter(user=alice).delete()
    Membership.objects.create(group=group, user=dave, is_primary=True)
    policy.steps.filter(position=0).update(channels=["sms", "voice"])
    alert = open_alert(group)

    engine.run_due(T0)
    assert not Notification.objects.exists()
    assert events(alert, EventKind.WARNING) == [
        "Cannot page Dave: no contact method for SMS, Voice (step 1, Primary)."
    ]
    engine.run_due(T0 + minutes(5))
    assert pages(alert) == [("bob", "email")]


def test_all_members_target_pages_everyone(group):
    group.escalation_policy = make_policy("Everyone", {"target": StepTarget.ALL_MEMBERS})
    group.save()
    alert = open_alert(group)

    engine.run_due(T0)
    assert pages(alert) == [("alice", "email"), ("bob", "email"), ("carol", "email")]


def test_editing_the_policy_does_not_change_an_alert_in_flight(group, policy):
    old = open_alert(group, "old")
    engine.run_due(T0)

    policy.steps.filter(target=StepTarget.SECONDARY).delete()
    policy.steps.filter(target=StepTarget.PRIMARY).update(wait_minutes=1)
    EscalationStep.objects.create(
        policy=policy, position=3, target=StepTarget.PRIMARY, channels=["sms"]
    )
    policy.touch()
    new = open_alert(Group.objects.get(pk=group.pk), "new", now=T0 + minutes(1))
    assert new.policy_snapshot["version"] > old.policy_snapshot["version"]

    for m in (1, 2, 3, 5, 12, 15, 30):
        engine.run_due(T0 + minutes(m))

    assert pages(old) == [("alice", "email"), ("bob", "email"), ("carol", "email")]
    new_rows = new.notifications.order_by("id")
    assert [(n.user.username, n.channel, n.due_at) for n in new_rows] == [
        ("alice", "email", T0 + minutes(1)),
        ("carol", "email", T0 + minutes(2)),
        ("alice", "sms", T0 + minutes(12)),
    ]


def test_steps_run_in_position_order(group):
    policy = EscalationPolicy.objects.create(name="Shuffled")
    # Created in reverse, so id order and position order disagree.
    for position, target in [(2, "manager"), (1, "secondary"), (0, "primary")]:
        EscalationStep.objects.create(
            policy=policy, position=position, target=target, channels=["email"], wait_minutes=1
        )
    group.escalation_policy = policy
    group.save()
    alert = open_alert(group)

    for m in range(4):
        engine.run_due(T0 + minutes(m))
    assert [u for u, _ in pages(alert)] == ["alice", "bob", "carol"]


def test_group_without_a_policy_follows_the_built_in_default(group):
    group.escalation_policy = None
    group.save()
    alert = open_alert(group)
    assert alert.policy_snapshot["name"] == DEFAULT_POLICY_NAME
    assert any("no escalation policy" in m for m in events(alert, EventKind.INFO))

    for at in (T0, T0 + minutes(5), T0 + minutes(15)):
        assert engine.run_due(at) == 1

    assert pages(alert) == [
        ("alice", "email"),
        ("alice", "sms"),
        ("bob", "email"),
        ("bob", "sms"),
        ("carol", "email"),
        ("carol", "sms"),
    ]


def test_one_broken_alert_does_not_stop_the_others(group):
    broken = open_alert(group, "broken")
    Alert.objects.filter(pk=broken.pk).update(
        policy_snapshot={"name": "garbled", "steps": [{"target": "nonsense"}]}
    )
    healthy = open_alert(group, "healthy")

    assert engine.run_due(T0) == 1

    assert pages(healthy) == [("alice", "email")]
    broken.refresh_from_db()
    assert broken.next_action_at == T0  # still due, tried again next tick


def test_a_broken_alert_in_a_chunk_does_not_stop_the_others(group, monkeypatch):
    good = [
        raise_alert(group, AlertInput(summary=f"ok {n}", dedup_key=f"ok{n}"), now=T0)[0]
        for n in range(3)
    ]
    broken, _ = raise_alert(group, AlertInput(summary="broken", dedup_key="bad"), now=T0)
    real_plan = engine.plan_firing

    def plan_or_fail(ctx, *args):
        if ctx.alert_id == broken.pk:
            raise RuntimeError("a bug in planning this alert")
        return real_plan(ctx, *args)

    monkeypatch.setattr(engine, "plan_firing", plan_or_fail)

    assert engine.run_due(T0) == 3

    for alert in good:
        assert alert.notifications.count() == 1
        assert alert.events.filter(kind="escalated").count() == 1
    broken.refresh_from_db()
    assert broken.notifications.count() == 0
    assert broken.next_action_at == T0  # still due: tried again next tick
