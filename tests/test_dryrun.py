"""The dry run shows exactly what the engine then does; "send me a test page" reaches every
contact method without touching any alert."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Channel, NotificationRule, Urgency
from alertops.lib import clock
from escalation import dryrun, engine, planner, selftest, ticker
from escalation.alerts import AlertInput, acknowledge, raise_alert
from escalation.models import (
    Alert,
    AlertEvent,
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationStatus,
    NotificationType,
    StepTarget,
)
from groups.models import Group
from tests.conftest import T0

# More firings than any policy below has; a runaway escalation fails the test.
MAX_FIRINGS = 50


def make_policy(*steps: dict, **options) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name=options.pop("name", "Custom"), **options)
    for position, step in enumerate(steps):
        users = step.pop("users", [])
        row = EscalationStep.objects.create(
            policy=policy, position=position, **{"channels": [Channel.EMAIL], **step}
        )
        for user in users:
            row.users.add(user)
    return policy


def use(group: Group, policy: EscalationPolicy | None) -> None:
    group.escalation_policy = policy
    group.save()


DELAYED = [
    {"channel": "sms", "delay_minutes": 0},
    {"channel": "voice", "delay_minutes": 2},
    {"channel": "email", "delay_minutes": 1},
]


def fixture_policy(group, alice, bob, carol):
    return "critical"


def built_in_default(group, alice, bob, carol):
    use(group, None)
    return "error"


def retries(group, alice, bob, carol):
    use(
        group,
        make_policy(
            {"target": "primary", "retries": 2, "retry_interval_minutes": 3, "wait_minutes": 4},
            {"target": "secondary", "retries": 1, "retry_interval_minutes": 1},
        ),
    )
    return "critical"


def repeat_once(group, alice, bob, carol):
    use(
        group,
        make_policy(
            {"target": "primary", "wait_minutes": 5},
            {"target": "manager", "wait_minutes": 10},
            repeat_count=1,
        ),
    )
    return "critical"


def member_wait_all_members(group, alice, bob, carol):
    use(
        group,
        make_policy(
            {"target": StepTarget.ALL_MEMBERS, "member_wait_minutes": 3, "wait_minutes": 2},
            {"target": "manager", "channels": ["sms"]},
        ),
    )
    return "critical"


def channel_delays(group, alice, bob, carol):
    use(
        group,
        make_policy(
            {"target": "primary", "channels": DELAYED, "wait_minutes": 5},
            {"target": StepTarget.USERS, "users": [carol, bob], "channels": DELAYED},
            low_urgency_email_only=False,
        ),
    )
    return "warning"


def user_type_default_rules(group, alice, bob, carol):
    use(
        group,
        make_policy(
            {"target": "primary"},
            {"target": "secondary"},
            notification_type=NotificationType.USER,
        ),
    )
    return "critical"


def user_type_own_rules(group, alice, bob, carol):
    contacts = {c.channel: c for c in bob.contact_methods.all()}
    for channel, delay in [("voice", 0), ("sms", 4), ("email", 4)]:
        NotificationRule.objects.create(
            user=bob, urgency=Urgency.HIGH, contact_method=contacts[channel], delay_minutes=delay
        )
    user_type_default_rules(group, alice, bob, carol)
    return "error"


def nobody_in_a_role(group, alice, bob, carol):
    group.memberships.filter(user=bob).delete()
    return "critical"


def nobody_in_any_role(group, alice, bob, carol):
    group.memberships.update(is_primary=False, is_secondary=False, is_manager=False)
    return "critical"


CASES = [
    fixture_policy,
    built_in_default,
    retries,
    repeat_once,
    member_wait_all_members,
    channel_delays,
    user_type_default_rules,
    user_type_own_rules,
    nobody_in_a_role,
    nobody_in_any_role,
]


def drive(alert: Alert) -> None:
    """Run the engine at every instant the alert is due, until its escalation is over."""
    for _ in range(MAX_FIRINGS):
        alert.refresh_from_db()
        if alert.next_action_at is None:
            return
        assert engine.run_due(alert.next_action_at) == 1
    pytest.fail(f"the escalation was still going after {MAX_FIRINGS} firings")


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_dry_run_matches_what_the_engine_then_does(group, alice, bob, carol, case):
    severity = case(group, alice, bob, carol)
    group = Group.objects.get(pk=group.pk)

    plan = dryrun.simulate(group, severity, T0)
    alert, _ = raise_alert(group, AlertInput("Disk full", "disk", severity=severity), now=T0)
    started = set(alert.events.values_list("id", flat=True))
    drive(alert)

    def key(row):
        return (row[3], row[0], row[1], row[2])

    expected = sorted(
        ((p.user.pk, p.channel, p.contact.address, p.due_at) for p in plan.pages), key=key
    )
    actual = sorted(
        alert.notifications.values_list("user_id", "channel", "recipient", "due_at"), key=key
    )
    assert actual == expected
    # ...and the timeline the dry run tells is the one the engine writes.
    written = alert.events.exclude(id__in=started).order_by("at", "id")
    assert [(e.at, e.kind, e.message) for e in written] == plan.notes
    assert (plan.policy_name, plan.policy_version) == (
        alert.policy_snapshot["name"],
        alert.policy_snapshot["version"],
    )


def test_dry_run_of_the_default_policy_lists_its_pages(group, alice, bob, carol):
    plan = dryrun.simulate(group, "critical", T0)

    assert [(p.user, p.channel, p.due_at) for p in plan.pages] == [
        (alice, "email", T0),
        (bob, "email", T0 + timedelta(minutes=5)),
        (carol, "email", T0 + timedelta(minutes=15)),
    ]
    assert plan.notes[-1] == (T0 + timedelta(minutes=15), "info", planner.FINISHED)


WRITING_CASES = [fixture_policy, retries, user_type_own_rules, nobody_in_a_role]


@pytest.mark.parametrize("case", WRITING_CASES, ids=[c.__name__ for c in WRITING_CASES])
def test_dry_run_writes_nothing(group, alice, bob, carol, case):
    severity = case(group, alice, bob, carol)

    with CaptureQueriesContext(connection) as queries:
        plan = dryrun.simulate(Group.objects.get(pk=group.pk), severity, T0)

    assert plan.pages
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert not Alert.objects.exists()
    assert not Notification.objects.exists()
    assert not AlertEvent.objects.exists()


def test_test_page_reaches_every_contact_method_without_touching_alerts(
    group, alice, fake_twilio, monkeypatch
):
    monkeypatch.setattr(clock, "now", lambda: T0)
    alert, _ = raise_alert(group, AlertInput("Disk full", "disk"), now=T0 - timedelta(hours=1))
    engine.run_due(T0 - timedelta(hours=1))
    assert acknowledge(alert, T0 - timedelta(minutes=59), by=alice)
    before = Alert.objects.values().get(pk=alert.pk)
    timeline = alert.events.count()

    rows = selftest.send_test_page(alice, T0)

    assert sorted((n.channel, n.recipient) for n in rows) == [
        ("email", "alice@example.com"),
        ("sms", "+15550000001"),
        ("voice", "+15550000001"),
    ]
    test_pages = Notification.objects.filter(alert=None)
    assert test_pages.count() == 3
    assert {(n.user, n.status, n.due_at) for n in test_pages} == {
        (alice, NotificationStatus.PENDING, T0)
    }

    assert ticker.tick(T0) == (0, 3)

    assert {(n.status, n.sent_at) for n in test_pages.all()} == {(NotificationStatus.SENT, T0)}
    assert sorted(r["uri"].rsplit("/", 1)[-1] for r in fake_twilio.requests) == [
        "Calls.json",
        "Messages.json",
    ]
    assert {r["data"]["To"] for r in fake_twilio.requests} == {"+15550000001"}
    sms = next(r for r in fake_twilio.requests if r["uri"].endswith("Messages.json"))
    assert "test page" in sms["data"]["Body"]
    [email] = mail.outbox
    assert (email.to, email.subject) == (["alice@example.com"], "AlertOps test page")
    assert Alert.objects.values().get(pk=alert.pk) == before
    assert alert.events.count() == timeline
