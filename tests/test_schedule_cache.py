"""The compiled layers kept in memory never outlive a change to what they say."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from schedules import oncall
from schedules.models import Restriction, Rotation, RotationMember, Schedule, ShiftUnit

AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def schedule(group, alice, bob):
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    layer = Rotation.objects.create(
        schedule=schedule,
        name="Weekly",
        role="primary",
        start_date=date(2026, 3, 2),
        handoff_time=time(9),
        shift_unit=ShiftUnit.WEEKS,
    )
    RotationMember.objects.create(rotation=layer, user=alice, position=0)
    RotationMember.objects.create(rotation=layer, user=bob, position=1)
    return schedule


def fresh(schedule: Schedule) -> Schedule:
    """The row as the engine reads it on its next tick."""
    return Schedule.objects.get(pk=schedule.pk)


def test_a_new_participant_order_is_seen_at_once(schedule, alice, bob):
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == alice
    layer = schedule.rotations.get()
    RotationMember.objects.filter(rotation=layer, user=alice).delete()
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == bob


def test_an_edited_layer_is_seen_at_once(schedule, alice, bob):
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == alice
    layer = schedule.rotations.get()
    layer.start_date = date(2026, 2, 23)  # a week earlier: Bob's turn now
    layer.save()
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == bob


def test_a_new_restriction_is_seen_at_once(schedule, alice):
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == alice
    Restriction.objects.create(
        rotation=schedule.rotations.get(), weekdays="56", start_time=time(0), end_time=time(0)
    )
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) is None


def test_a_deleted_layer_is_seen_at_once(schedule, alice):
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == alice
    schedule.rotations.get().delete()
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) is None


def test_deactivating_a_participant_is_seen_at_once(schedule, alice, bob):
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == alice
    alice.is_active = False
    alice.save()
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == bob
    alice.is_active = True
    alice.save(update_fields=["is_active"])
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == alice


def test_a_login_does_not_recompile(schedule, alice):
    version = fresh(schedule).version
    alice.save(update_fields=["last_login"])
    assert fresh(schedule).version == version


def test_a_schedule_that_reuses_a_deleted_ones_id_is_compiled_anew(schedule, group, bob):
    old = fresh(schedule)
    assert oncall.who_is_on_call(old, "primary", AT) is not None
    schedule.delete()
    # The same id and even the same version: only its creation tells it apart.
    again = Schedule.objects.create(pk=old.pk, group=group, time_zone="UTC", version=old.version)
    assert oncall.who_is_on_call(fresh(again), "primary", AT) is None
    layer = Rotation.objects.create(
        schedule=again,
        name="Bob only",
        role="primary",
        start_date=date(2026, 3, 1),
        handoff_time=time(0),
        shift_unit=ShiftUnit.DAYS,
    )
    RotationMember.objects.create(rotation=layer, user=bob, position=0)
    assert oncall.who_is_on_call(fresh(again), "primary", AT) == bob


def test_saving_a_stale_copy_never_sets_the_version_back(schedule, alice, bob, carol):
    stale = fresh(schedule)
    layer = schedule.rotations.get()
    layer.start_date = date(2026, 2, 23)  # Bob's week now
    layer.save()
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == bob  # compiled
    RotationMember.objects.filter(rotation=layer, user=bob).update(user=carol)
    layer.save()  # Carol holds Bob's place now
    stale.time_zone = "Europe/Berlin"
    stale.save()  # as a form or the admin does, with the version it read first
    assert fresh(schedule).version > stale.version + 2
    assert oncall.who_is_on_call(fresh(schedule), "primary", AT) == carol


def test_a_new_time_zone_recompiles(schedule):
    version = fresh(schedule).version
    copy = fresh(schedule)
    copy.time_zone = "Asia/Tokyo"
    copy.save(update_fields=["time_zone"])
    assert fresh(schedule).version == version + 1


def test_overrides_from_now_on_are_kept_and_follow_every_change(schedule, carol):
    from django.utils import timezone

    from schedules.models import Override

    soon = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    assert soon >= oncall.compiled(fresh(schedule)).covers_from
    layer_person = oncall.who_is_on_call(fresh(schedule), "primary", soon)
    assert layer_person is not None
    override = Override.objects.create(
        schedule=schedule,
        role="primary",
        user=carol,
        starts_at=soon - timedelta(minutes=5),
        ends_at=soon + timedelta(minutes=5),
    )
    assert oncall.who_is_on_call(fresh(schedule), "primary", soon) == carol
    override.ends_at = soon
    override.save()
    assert oncall.who_is_on_call(fresh(schedule), "primary", soon) == layer_person
    override.ends_at = soon + timedelta(minutes=1)
    override.save()
    carol.is_active = False
    carol.save()
    assert oncall.who_is_on_call(fresh(schedule), "primary", soon) == layer_person
    carol.is_active = True
    carol.save()
    assert oncall.who_is_on_call(fresh(schedule), "primary", soon) == carol
    override.delete()
    assert oncall.who_is_on_call(fresh(schedule), "primary", soon) == layer_person
