"""Overrides: a person takes a role for a while, over every layer, and one at a time."""

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from schedules import oncall, overrides
from schedules.models import Override
from tests.conftest import make_user
from tests.schedule_helpers import (
    PRIMARY,
    SECONDARY,
    add_override,
    add_rotation,
    make_schedule,
    utc,
    wall,
    who,
)


@pytest.fixture
def dave(db):
    return make_user("dave")


@pytest.fixture
def erin(db):
    return make_user("erin")


@pytest.fixture
def schedule(group):
    return make_schedule(group, "UTC")


def final(schedule, start, end, role=PRIMARY):
    """(start, end, user, source, replaced) of the final schedule of `role`."""
    return [
        (
            s.start,
            s.end,
            s.user.username if s.user else None,
            s.source,
            s.replaced.username if s.replaced else None,
        )
        for s in oncall.final_schedule(schedule, start, end, roles=(role,))
    ]


def new_override(schedule, user, starts_at, ends_at, role=PRIMARY, replaces=None):
    return Override(
        schedule=schedule,
        role=role,
        user=user,
        replaces=replaces,
        starts_at=starts_at,
        ends_at=ends_at,
    )


# -- precedence ---------------------------------------------------------------


def test_override_wins_over_every_layer(schedule, alice, bob, dave):
    add_rotation(schedule, [alice], layer=1)
    add_rotation(schedule, [bob], layer=5)
    add_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4))

    assert who(schedule, utc(2026, 3, 2, 23, 59)) == "bob"
    assert who(schedule, utc(2026, 3, 3, 0, 0)) == "dave"
    assert who(schedule, utc(2026, 3, 3, 23, 59, 59)) == "dave"
    assert who(schedule, utc(2026, 3, 4, 0, 0)) == "bob"


def test_override_fills_a_gap_where_no_layer_has_anybody(schedule, alice, dave):
    add_rotation(schedule, [alice], windows=[("01234", time(9), time(17))])
    add_override(schedule, dave, utc(2026, 3, 7, 10), utc(2026, 3, 7, 14))  # Saturday

    assert who(schedule, utc(2026, 3, 7, 12)) == "dave"
    assert final(schedule, utc(2026, 3, 7, 8), utc(2026, 3, 7, 16)) == [
        (utc(2026, 3, 7, 8), utc(2026, 3, 7, 10), None, "gap", None),
        (utc(2026, 3, 7, 10), utc(2026, 3, 7, 14), "dave", "override", None),
        (utc(2026, 3, 7, 14), utc(2026, 3, 7, 16), None, "gap", None),
    ]


def test_override_of_part_of_a_shift_splits_it(schedule, alice, dave):
    add_rotation(schedule, [alice])
    add_override(schedule, dave, utc(2026, 3, 3, 22), utc(2026, 3, 4, 6))

    assert final(schedule, utc(2026, 3, 3, 12), utc(2026, 3, 4, 12)) == [
        (utc(2026, 3, 3, 12), utc(2026, 3, 3, 22), "alice", "layer", None),
        (utc(2026, 3, 3, 22), utc(2026, 3, 4, 6), "dave", "override", "alice"),
        (utc(2026, 3, 4, 6), utc(2026, 3, 4, 12), "alice", "layer", None),
    ]
    assert who(schedule, utc(2026, 3, 4, 5, 59, 59)) == "dave"
    assert who(schedule, utc(2026, 3, 4, 6, 0)) == "alice"


def test_override_over_a_handoff_names_whom_it_replaces_on_each_side(schedule, alice, bob, dave):
    add_rotation(schedule, [alice, bob], unit="days", handoff=time(9))
    add_override(schedule, dave, utc(2026, 3, 3, 8), utc(2026, 3, 3, 10))

    assert final(schedule, utc(2026, 3, 3, 7), utc(2026, 3, 3, 11)) == [
        (utc(2026, 3, 3, 7), utc(2026, 3, 3, 8), "alice", "layer", None),
        (utc(2026, 3, 3, 8), utc(2026, 3, 3, 9), "dave", "override", "alice"),
        (utc(2026, 3, 3, 9), utc(2026, 3, 3, 10), "dave", "override", "bob"),
        (utc(2026, 3, 3, 10), utc(2026, 3, 3, 11), "bob", "layer", None),
    ]


def test_override_is_only_for_its_role(schedule, alice, bob, dave):
    add_rotation(schedule, [alice], role=PRIMARY)
    add_rotation(schedule, [bob], role=SECONDARY)
    add_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4), role=SECONDARY)

    assert who(schedule, utc(2026, 3, 3, 12), PRIMARY) == "alice"
    assert who(schedule, utc(2026, 3, 3, 12), SECONDARY) == "dave"


def test_override_window_is_half_open(schedule, alice, dave):
    add_rotation(schedule, [alice])
    add_override(schedule, dave, utc(2026, 3, 3, 10), utc(2026, 3, 3, 11))

    assert who(schedule, utc(2026, 3, 3, 9, 59, 59, 999999)) == "alice"
    assert who(schedule, utc(2026, 3, 3, 10)) == "dave"
    assert who(schedule, utc(2026, 3, 3, 10, 59, 59, 999999)) == "dave"
    assert who(schedule, utc(2026, 3, 3, 11)) == "alice"


# -- in place of a named person ------------------------------------------------------


def test_override_in_place_of_a_person_applies_only_during_their_shifts(schedule, alice, bob, dave):
    add_rotation(schedule, [alice, bob], unit="days", handoff=time(0))  # Alice on 2, 4, 6 March
    add_override(schedule, dave, utc(2026, 3, 2), utc(2026, 3, 6), replaces=bob)

    assert [who(schedule, utc(2026, 3, d, 12)) for d in range(2, 8)] == [
        "alice",
        "dave",
        "alice",
        "dave",
        "alice",  # the override has ended
        "bob",
    ]
    assert final(schedule, utc(2026, 3, 3), utc(2026, 3, 5)) == [
        (utc(2026, 3, 3), utc(2026, 3, 4), "dave", "override", "bob"),
        (utc(2026, 3, 4), utc(2026, 3, 5), "alice", "layer", None),
    ]


def test_override_in_place_of_somebody_never_on_call_changes_nothing(schedule, alice, carol, dave):
    add_rotation(schedule, [alice])
    add_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4), replaces=carol)

    assert who(schedule, utc(2026, 3, 3, 12)) == "alice"
    assert final(schedule, utc(2026, 3, 3), utc(2026, 3, 4)) == [
        (utc(2026, 3, 3), utc(2026, 3, 4), "alice", "layer", None)
    ]


def test_override_in_place_of_a_person_follows_who_wins_the_layers(schedule, alice, bob, dave):
    # Alice all week on layer 1, Bob business hours on layer 2: Dave replaces
    # Alice only where she is the one on call, not under Bob's hours.
    add_rotation(schedule, [alice], layer=1)
    add_rotation(schedule, [bob], layer=2, windows=[("01234", time(9), time(17))])
    add_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4), replaces=alice)

    assert final(schedule, utc(2026, 3, 3), utc(2026, 3, 4)) == [
        (utc(2026, 3, 3), utc(2026, 3, 3, 9), "dave", "override", "alice"),
        (utc(2026, 3, 3, 9), utc(2026, 3, 3, 17), "bob", "layer", None),
        (utc(2026, 3, 3, 17), utc(2026, 3, 4), "dave", "override", "alice"),
    ]
    assert who(schedule, utc(2026, 3, 3, 12)) == "bob"
    assert who(schedule, utc(2026, 3, 3, 20)) == "dave"


# -- inactive people ------------------------------------------------------------


def test_override_of_an_inactive_user_is_ignored(schedule, alice, dave):
    add_rotation(schedule, [alice])
    add_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4))
    dave.is_active = False
    dave.save()

    assert who(schedule, utc(2026, 3, 3, 12)) == "alice"
    assert final(schedule, utc(2026, 3, 3), utc(2026, 3, 4)) == [
        (utc(2026, 3, 3), utc(2026, 3, 4), "alice", "layer", None)
    ]


def test_an_inactive_user_cannot_be_given_an_override(schedule, dave):
    dave.is_active = False
    dave.save()

    with pytest.raises(ValidationError, match="Dave is inactive and can never be paged"):
        overrides.save(new_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4)))
    assert not Override.objects.exists()


# -- one override at a time for a role ---------------------------------------------------


def test_overlapping_override_for_one_role_is_refused_naming_the_other_person(
    group, alice, dave, erin
):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice])
    overrides.save(
        new_override(
            schedule,
            dave,
            wall("Europe/Berlin", 2026, 3, 3, 22),
            wall("Europe/Berlin", 2026, 3, 4, 6),
        )
    )

    with pytest.raises(ValidationError) as refused:
        overrides.save(
            new_override(
                schedule,
                erin,
                wall("Europe/Berlin", 2026, 3, 4, 5),
                wall("Europe/Berlin", 2026, 3, 4, 9),
            )
        )

    message = " ".join(refused.value.messages)
    assert "Dave already overrides Primary from Tue 03 Mar 22:00 to Wed 04 Mar 06:00" in message
    assert "(Europe/Berlin)" in message
    assert "may not overlap" in message
    assert list(Override.objects.values_list("user__username", flat=True)) == ["dave"]
    assert who(schedule, wall("Europe/Berlin", 2026, 3, 4, 5, 30)) == "dave"


def test_an_override_inside_another_or_around_it_is_refused(schedule, dave, erin):
    overrides.save(new_override(schedule, dave, utc(2026, 3, 3, 10), utc(2026, 3, 3, 12)))

    for start, end in [
        (utc(2026, 3, 3, 10, 30), utc(2026, 3, 3, 11)),  # inside
        (utc(2026, 3, 3, 9), utc(2026, 3, 3, 13)),  # around
        (utc(2026, 3, 3, 10), utc(2026, 3, 3, 12)),  # the same window
    ]:
        with pytest.raises(ValidationError, match="Dave already overrides Primary"):
            overrides.save(new_override(schedule, erin, start, end))
    assert Override.objects.count() == 1


def test_back_to_back_overrides_are_accepted(schedule, alice, dave, erin):
    add_rotation(schedule, [alice])
    overrides.save(new_override(schedule, dave, utc(2026, 3, 3, 10), utc(2026, 3, 3, 12)))
    overrides.save(new_override(schedule, erin, utc(2026, 3, 3, 12), utc(2026, 3, 3, 14)))
    overrides.save(new_override(schedule, erin, utc(2026, 3, 3, 8), utc(2026, 3, 3, 10)))

    assert Override.objects.count() == 3
    assert [who(schedule, utc(2026, 3, 3, h)) for h in (9, 11, 13, 15)] == [
        "erin",
        "dave",
        "erin",
        "alice",
    ]


def test_overlapping_overrides_for_different_roles_are_accepted(schedule, alice, bob, dave, erin):
    add_rotation(schedule, [alice], role=PRIMARY)
    add_rotation(schedule, [bob], role=SECONDARY)
    overrides.save(new_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4), role=PRIMARY))
    overrides.save(new_override(schedule, erin, utc(2026, 3, 3), utc(2026, 3, 4), role=SECONDARY))

    assert who(schedule, utc(2026, 3, 3, 12), PRIMARY) == "dave"
    assert who(schedule, utc(2026, 3, 3, 12), SECONDARY) == "erin"


def test_overrides_of_other_schedules_do_not_clash(schedule, policy, dave, erin):
    from groups.models import Group

    other = make_schedule(Group.objects.create(name="Search", escalation_policy=policy))
    overrides.save(new_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4)))
    overrides.save(new_override(other, erin, utc(2026, 3, 3), utc(2026, 3, 4)))

    assert who(schedule, utc(2026, 3, 3, 12)) == "dave"
    assert who(other, utc(2026, 3, 3, 12)) == "erin"


def test_editing_an_override_does_not_clash_with_itself(schedule, dave, erin):
    mine = overrides.save(new_override(schedule, dave, utc(2026, 3, 3, 10), utc(2026, 3, 3, 12)))
    overrides.save(new_override(schedule, erin, utc(2026, 3, 3, 14), utc(2026, 3, 3, 16)))

    mine.ends_at = utc(2026, 3, 3, 13)
    overrides.save(mine)
    mine.refresh_from_db()
    assert mine.ends_at == utc(2026, 3, 3, 13)

    mine.ends_at = utc(2026, 3, 3, 15)
    with pytest.raises(ValidationError, match="Erin already overrides Primary"):
        overrides.save(mine)
    mine.refresh_from_db()
    assert mine.ends_at == utc(2026, 3, 3, 13)


@pytest.mark.parametrize(
    ("start_hour", "end_hour", "replaces_self", "words"),
    [
        (12, 12, False, "must end after it starts"),
        (12, 10, False, "must end after it starts"),
        (10, 12, True, "cannot stand in for themselves"),
    ],
)
def test_an_override_that_makes_no_sense_is_refused(
    schedule, dave, start_hour, end_hour, replaces_self, words
):
    override = new_override(
        schedule,
        dave,
        utc(2026, 3, 3, start_hour),
        utc(2026, 3, 3, end_hour),
        replaces=dave if replaces_self else None,
    )

    with pytest.raises(ValidationError, match=words):
        overrides.save(override)
    assert not Override.objects.exists()


# -- the final schedule ------------------------------------------------------------


def test_final_schedule_marks_override_shifts_and_whom_they_replace(schedule, alice, bob, dave):
    add_rotation(schedule, [alice, bob], start=date(2026, 3, 2), unit="days", handoff=time(0))
    cover = overrides.save(
        new_override(schedule, dave, utc(2026, 3, 2, 20), utc(2026, 3, 3, 4), replaces=alice)
    )

    shifts = oncall.final_schedule(schedule, utc(2026, 3, 2, 12), utc(2026, 3, 3, 12), (PRIMARY,))

    assert [(s.user.username, s.source, s.is_override) for s in shifts] == [
        ("alice", "layer", False),
        ("dave", "override", True),
        ("bob", "layer", False),
    ]
    middle = shifts[1]
    assert (middle.start, middle.end) == (utc(2026, 3, 2, 20), utc(2026, 3, 3))
    assert (middle.replaced, middle.source_id, middle.source_name) == (alice, cover.pk, "override")
    assert middle.hours == 4
    assert shifts[0].replaced is None


def test_current_shift_of_an_override_ends_with_it(schedule, alice, dave):
    add_rotation(schedule, [alice])
    add_override(schedule, dave, utc(2026, 3, 3, 10), utc(2026, 3, 3, 10) + timedelta(hours=6))

    now = oncall.current(schedule, utc(2026, 3, 3, 12))

    assert (now[PRIMARY].user, now[PRIMARY].end, now[PRIMARY].is_override) == (
        dave,
        utc(2026, 3, 3, 16),
        True,
    )


def test_an_inactive_persons_override_does_not_block_a_new_one(schedule, alice, dave, erin):
    overrides.save(new_override(schedule, dave, utc(2026, 3, 3, 10), utc(2026, 3, 3, 12)))
    dave.is_active = False
    dave.save()
    overrides.save(new_override(schedule, erin, utc(2026, 3, 3, 11), utc(2026, 3, 3, 13)))
    assert who(schedule, utc(2026, 3, 3, 11, 30)) == "erin"
