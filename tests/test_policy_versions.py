"""A policy's version rises with every change that alters how it pages."""

from escalation.models import EscalationPolicy, EscalationStep, StepTarget


def version(policy: EscalationPolicy) -> int:
    return EscalationPolicy.objects.get(pk=policy.pk).version


def test_saving_the_policy_and_its_steps_raises_the_version(policy):
    before = version(policy)
    policy.refresh_from_db()
    policy.repeat_count = 2
    policy.save()
    assert version(policy) == before + 1
    step = policy.steps.first()
    step.wait_minutes = 9
    step.save()
    assert version(policy) == before + 2
    step.delete()
    assert version(policy) == before + 3


def test_changing_a_steps_named_users_raises_the_version(policy, alice, bob):
    step = EscalationStep.objects.create(policy=policy, position=5, target=StepTarget.USERS)
    before = version(policy)
    step.users.add(alice, bob)
    assert version(policy) == before + 1
    step.users.remove(bob)
    assert version(policy) == before + 2
    step.users.clear()
    assert version(policy) == before + 3


def test_new_alerts_take_each_new_version_of_the_policy_while_snapshots_are_reused(group, policy):
    """Snapshots are kept per (policy, version) in each process: a change to a
    step raises the version, and the next alert sees it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from escalation.alerts import AlertInput, raise_alert
    from tests.conftest import T0

    first, _ = raise_alert(group, AlertInput(summary="a", dedup_key="a"), T0)
    with CaptureQueriesContext(connection) as reused:
        second, _ = raise_alert(group, AlertInput(summary="b", dedup_key="b"), T0)
    assert second.policy_snapshot == first.policy_snapshot
    assert not [q for q in reused.captured_queries if "escalationstep" in q["sql"]]

    step = policy.steps.get(position=0)
    step.wait_minutes = 42
    step.save()
    third, _ = raise_alert(group, AlertInput(summary="c", dedup_key="c"), T0)

    assert third.policy_snapshot["version"] == first.policy_snapshot["version"] + 1
    assert third.policy_snapshot["steps"][0]["wait"] == 42 * 60
    assert first.policy_snapshot["steps"][0]["wait"] == 5 * 60
