"""Each option of an escalation step and policy, driven through the engine with explicit `now`."""

from datetime import timedelta

import pytest

from accounts.models import Channel, NotificationRule, Urgency
from escalation import engine, planner
from escalation.alerts import AlertInput, acknowledge, raise_alert
from escalation.models import (
    Alert,
    AlertStatus,
    EscalationPolicy,
    EscalationStep,
    EventKind,
    NotificationStatus,
    NotificationType,
    StepTarget,
)
from groups.models import Group
from tests.conftest import T0, make_user


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def open_alert(group: Group, key: str = "disk", severity: str = "critical", now=T0) -> Alert:
    data = AlertInput(summary="Disk full", dedup_key=key, severity=severity)
    alert, created = raise_alert(group, data, now=now)
    assert created
    return alert


def make_policy(*steps: dict, **options) -> EscalationPolicy:
    """A policy of `steps` (email only unless a step says otherwise) set as nobody's yet."""
    policy = EscalationPolicy.objects.create(name=options.pop("name", "Custom"), **options)
    for position, step in enumerate(steps):
        users = step.pop("users", [])
        row = EscalationStep.objects.create(
            policy=policy, position=position, **{"channels": [Channel.EMAIL], **step}
        )
        for user in users:  # one by one: the order they are added is the order they are paged
            row.users.add(user)
    return policy


def use(group: Group, policy: EscalationPolicy) -> Group:
    group.escalation_policy = policy
    group.save()
    return group


def pages(alert: Alert) -> list[tuple[str, str, object]]:
    """(username, channel, due_at) of every Notification of the alert, in creation order."""
    return [(n.user.username, n.channel, n.due_at) for n in alert.notifications.order_by("id")]


def events(alert: Alert, kind: str) -> list[str]:
    return list(alert.events.filter(kind=kind).values_list("message", flat=True))


def run(*instants) -> None:
    for at in instants:
        engine.run_due(at)


def test_named_users_are_paged_in_the_given_order_and_inactive_ones_skipped(group, alice, carol):
    dave = make_user("dave")
    erin = make_user("erin")
    erin.is_active = False
    erin.save()
    use(group, make_policy({"target": StepTarget.USERS, "users": [dave, erin, carol, alice]}))
    alert = open_alert(group)

    assert engine.run_due(T0) == 1

    assert [u for u, _, _ in pages(alert)] == ["dave", "carol", "alice"]
    assert events(alert, EventKind.ESCALATED)[0] == "Paging Dave via Email (step 1, Named users)."


def test_all_members_are_paged_at_once_without_a_member_wait(group):
    use(group, make_policy({"target": StepTarget.ALL_MEMBERS}))
    alert = open_alert(group)

    run(T0)

    assert pages(alert) == [("alice", "email", T0), ("bob", "email", T0), ("carol", "email", T0)]


def test_member_wait_staggers_members_then_the_step_wait_follows_the_last(group):
    use(
        group,
        make_policy(
            {"target": StepTarget.ALL_MEMBERS, "member_wait_minutes": 2, "wait_minutes": 5},
            {"target": StepTarget.MANAGER},
        ),
    )
    alert = open_alert(group)

    run(T0)
    assert pages(alert) == [
        ("alice", "email", T0),
        ("bob", "email", T0 + minutes(2)),
        ("carol", "email", T0 + minutes(4)),
    ]
    assert "Paging Carol via Email from 09:04:00 (step 1, All members of the group)." in events(
        alert, EventKind.ESCALATED
    )
    # The next step waits its 5 minutes after the last member was paged, not after the first.
    assert engine.run_due(T0 + minutes(9) - timedelta(seconds=1)) == 0
    assert engine.run_due(T0 + minutes(9)) == 1
    assert pages(alert)[-1] == ("carol", "email", T0 + minutes(9))


def test_policy_channel_sequence_gives_each_channel_its_delay(group, alice):
    sequence = [
        {"channel": "sms", "delay_minutes": 0},
        {"channel": "voice", "delay_minutes": 2},
        {"channel": "email", "delay_minutes": 0},
    ]
    use(group, make_policy({"target": StepTarget.PRIMARY, "channels": sequence}))
    alert = open_alert(group)

    run(T0)

    rows = alert.notifications.order_by("id")
    assert [(n.channel, n.recipient, n.due_at) for n in rows] == [
        ("sms", "+15550000001", T0),
        ("voice", "+15550000001", T0 + minutes(2)),
        ("email", "alice@example.com", T0),
    ]
    # Acknowledging before the call is due means the call is never made.
    assert acknowledge(alert, T0 + minutes(1), by=alice)
    assert alert.notifications.get(channel="voice").status == NotificationStatus.CANCELLED


def test_retries_repeat_the_step_at_its_interval_before_the_wait(group):
    use(
        group,
        make_policy(
            {
                "target": StepTarget.PRIMARY,
                "retries": 1,
                "retry_interval_minutes": 3,
                "wait_minutes": 4,
            },
            {"target": StepTarget.SECONDARY},
        ),
    )
    alert = open_alert(group)

    for at in (T0, T0 + minutes(3), T0 + minutes(7)):
        assert engine.run_due(at - timedelta(seconds=1)) == 0
        assert engine.run_due(at) == 1

    assert pages(alert) == [
        ("alice", "email", T0),
        ("alice", "email", T0 + minutes(3)),
        ("bob", "email", T0 + minutes(7)),
    ]
    assert [n.step_attempt for n in alert.notifications.order_by("id")] == [0, 1, 0]
    assert "Paging Alice via Email (step 1, Primary, attempt 2 of 2)." in events(
        alert, EventKind.ESCALATED
    )


def test_repeat_count_two_runs_three_rounds_then_says_it_has_run_its_course(group):
    use(group, make_policy({"target": StepTarget.PRIMARY, "wait_minutes": 5}, repeat_count=2))
    alert = open_alert(group)

    for m in (0, 5, 10):
        assert engine.run_due(T0 + minutes(m)) == 1
    for later in (T0 + minutes(15), T0 + timedelta(days=1)):
        assert engine.run_due(later) == 0

    rows = alert.notifications.order_by("id")
    assert [(n.round, n.due_at) for n in rows] == [
        (0, T0),
        (1, T0 + minutes(5)),
        (2, T0 + minutes(10)),
    ]
    assert events(alert, EventKind.INFO)[-1] == planner.FINISHED
    alert.refresh_from_db()
    assert (alert.status, alert.next_action_at) == (AlertStatus.OPEN, None)


def user_type_policy(**options) -> EscalationPolicy:
    return make_policy(
        {"target": StepTarget.PRIMARY, "channels": [Channel.SMS]},
        notification_type=NotificationType.USER,
        **options,
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", [("email", 0), ("sms", 1), ("voice", 3)]),
        ("warning", [("email", 0)]),
    ],
)
def test_user_type_without_rules_follows_the_default_rules(group, severity, expected):
    use(group, user_type_policy())
    alert = open_alert(group, severity=severity)

    run(T0)

    assert pages(alert) == [("alice", channel, T0 + minutes(m)) for channel, m in expected]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", [("voice", 0), ("sms", 10)]), ("warning", [("sms", 5)])],
)
def test_user_type_with_own_rules_follows_exactly_those(group, alice, severity, expected):
    phone = {c.channel: c for c in alice.contact_methods.all()}
    for urgency, channel, delay in [
        (Urgency.HIGH, "sms", 10),
        (Urgency.HIGH, "voice", 0),
        (Urgency.LOW, "sms", 5),
    ]:
        NotificationRule.objects.create(
            user=alice, urgency=urgency, contact_method=phone[channel], delay_minutes=delay
        )
    use(group, user_type_policy())
    alert = open_alert(group, severity=severity)

    run(T0)

    assert pages(alert) == [("alice", channel, T0 + minutes(m)) for channel, m in expected]


@pytest.mark.parametrize(
    ("email_only", "expected"),
    [(True, [("email", 0)]), (False, [("sms", 0), ("voice", 2), ("email", 0)])],
)
def test_low_urgency_email_only_with_the_policy_type(group, email_only, expected):
    sequence = [
        {"channel": "sms", "delay_minutes": 0},
        {"channel": "voice", "delay_minutes": 2},
        {"channel": "email", "delay_minutes": 0},
    ]
    use(
        group,
        make_policy(
            {"target": StepTarget.PRIMARY, "channels": sequence},
            low_urgency_email_only=email_only,
        ),
    )
    warning = open_alert(group, "warn", severity="warning")
    critical = open_alert(group, "crit", severity="critical")

    run(T0)

    assert pages(warning) == [("alice", channel, T0 + minutes(m)) for channel, m in expected]
    assert [c for _, c, _ in pages(critical)] == ["sms", "voice", "email"]


def test_low_urgency_email_only_falls_back_to_email_for_a_phone_only_step(group):
    use(group, make_policy({"target": StepTarget.PRIMARY, "channels": ["sms", "voice"]}))
    alert = open_alert(group, severity="info")

    run(T0)

    assert pages(alert) == [("alice", "email", T0)]


def test_acknowledgement_timeout_reopens_and_pages_the_primary_again(group, alice, policy):
    policy.ack_timeout_minutes = 30
    policy.save()
    alert = open_alert(Group.objects.get(pk=group.pk))
    run(T0)
    assert acknowledge(alert, T0 + minutes(1), by=alice)
    alert.refresh_from_db()
    assert alert.next_action_at == T0 + minutes(31)

    assert engine.run_due(T0 + minutes(31) - timedelta(seconds=1)) == 0
    assert engine.run_due(T0 + minutes(31)) == 1

    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.acknowledged_at) == (
        AlertStatus.OPEN,
        None,
        None,
    )
    assert (
        "Acknowledged by Alice but not resolved within 30 minutes: re-opened, escalating again "
        "from the first step." in events(alert, EventKind.ESCALATED)
    )
    assert pages(alert) == [("alice", "email", T0), ("alice", "email", T0 + minutes(31))]
    assert alert.notifications.order_by("id").last().status == NotificationStatus.PENDING
    # ...and the escalation carries on from there.
    run(T0 + minutes(36))
    assert pages(alert)[-1] == ("bob", "email", T0 + minutes(36))


def test_acknowledged_without_a_timeout_never_reopens(group, alice):
    alert = open_alert(group)
    run(T0)
    assert acknowledge(alert, T0 + minutes(1), by=alice)

    for later in (T0 + minutes(31), T0 + timedelta(days=3)):
        assert engine.run_due(later) == 0

    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.next_action_at) == (
        AlertStatus.ACKNOWLEDGED,
        alice,
        None,
    )
    assert pages(alert) == [("alice", "email", T0)]


def test_a_running_alert_keeps_its_snapshot_when_the_policy_is_edited(client, group, alice, policy):
    old = open_alert(group, "old")
    run(T0)
    old_version = old.policy_snapshot["version"]

    # Edit: the Secondary step goes, the Manager step pages by SMS after 1 minute.
    policy.steps.filter(target=StepTarget.SECONDARY).delete()
    policy.steps.filter(target=StepTarget.PRIMARY).update(wait_minutes=1)
    policy.steps.filter(target=StepTarget.MANAGER).update(channels=["sms"])
    policy.touch()
    new = open_alert(Group.objects.get(pk=group.pk), "new", now=T0 + minutes(1))
    new_version = new.policy_snapshot["version"]
    assert new_version > old_version
    assert len(new.policy_snapshot["steps"]) == 2

    run(*(T0 + minutes(m) for m in (1, 2, 5, 15, 30)))

    assert pages(old) == [
        ("alice", "email", T0),
        ("bob", "email", T0 + minutes(5)),
        ("carol", "email", T0 + minutes(15)),
    ]
    assert pages(new) == [("alice", "email", T0 + minutes(1)), ("carol", "sms", T0 + minutes(2))]
    old.refresh_from_db()
    assert old.policy_snapshot["version"] == old_version

    client.force_login(alice)
    for alert, version in ((old, old_version), (new, new_version)):
        response = client.get(f"/alerts/{alert.pk}/")
        assert response.status_code == 200
        assert f"version {version}" in response.content.decode()
