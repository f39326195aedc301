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
