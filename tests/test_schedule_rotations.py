"""Rotation layers: who each kind of rotation puts on call, and where nobody is.

Most schedules here are in UTC so that the arithmetic of shifts, restrictions
and layers is all there is; daylight-saving changes have tests of their own.
"""

import itertools
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from schedules import oncall
from schedules.models import ShiftUnit
from tests.conftest import make_user
from tests.schedule_helpers import (
    PRIMARY,
    SECONDARY,
    add_override,
    add_rotation,
    make_schedule,
    shifts,
    utc,
    wall,
    who,
)


@pytest.fixture
def dave(db):
    return make_user("dave")


@pytest.fixture
def schedule(group):
    return make_schedule(group, "UTC")


# -- each kind of rotation ------------------------------------------------


def test_weekly_rotation_hands_over_each_week_in_participant_order(schedule, alice, bob, carol):
    add_rotation(schedule, [alice, bob, carol], start=date(2026, 3, 2), handoff=time(9, 0))

    assert who(schedule, utc(2026, 3, 2, 9, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 9, 8, 59, 59)) == "alice"
    assert who(schedule, utc(2026, 3, 9, 9, 0)) == "bob"
    assert who(schedule, utc(2026, 3, 16, 9, 0)) == "carol"
    assert who(schedule, utc(2026, 3, 23, 9, 0)) == "alice"
    assert who(schedule, utc(2027, 3, 1, 9, 0)) == "bob"  # shift 52, and 52 % 3 == 1


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (8, [(0, "alice"), (8, "bob"), (16, "carol"), (24, "alice"), (32, "bob")]),
        (12, [(0, "alice"), (12, "bob"), (24, "carol"), (36, "alice")]),
    ],
)
def test_hourly_rotation_shifts_of_n_hours(schedule, alice, bob, carol, hours, expected):
    add_rotation(
        schedule,
        [alice, bob, carol],
        start=date(2026, 3, 2),
        handoff=time(6, 0),
        unit=ShiftUnit.HOURS,
        length=hours,
    )
    first = utc(2026, 3, 2, 6, 0)

    for offset, name in expected:
        assert who(schedule, first + timedelta(hours=offset)) == name
        assert who(schedule, first + timedelta(hours=offset + hours) - timedelta(seconds=1)) == (
            name
        )
    window = shifts(schedule, first, first + timedelta(hours=3 * hours))
    assert [(s, e, u) for s, e, u, _ in window] == [
        (first + timedelta(hours=n * hours), first + timedelta(hours=(n + 1) * hours), name)
        for n, name in enumerate(["alice", "bob", "carol"])
    ]


def test_daily_rotation_of_two_day_shifts(schedule, alice, bob):
    add_rotation(
        schedule, [alice, bob], start=date(2026, 3, 2), handoff=time(8, 0), unit="days", length=2
    )

    assert who(schedule, utc(2026, 3, 2, 8, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 4, 7, 59)) == "alice"
    assert who(schedule, utc(2026, 3, 4, 8, 0)) == "bob"
    assert who(schedule, utc(2026, 3, 6, 8, 0)) == "alice"


def test_two_week_shifts(schedule, alice, bob):
    add_rotation(schedule, [alice, bob], start=date(2026, 3, 2), length=2)

    assert who(schedule, utc(2026, 3, 15, 23, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 16, 9, 0)) == "bob"
    assert who(schedule, utc(2026, 3, 30, 9, 0)) == "alice"


def test_custom_rule_each_occurrence_starts_the_next_shift(schedule, alice, bob, carol):
    # 2026-03-02 is a Monday: shifts start Mon 09:00, Thu 09:00, Mon 09:00, ...
    add_rotation(
        schedule,
        [alice, bob, carol],
        start=date(2026, 3, 2),
        handoff=time(9, 0),
        unit=ShiftUnit.CUSTOM,
        rule="RRULE:FREQ=WEEKLY;BYDAY=MO,TH",
    )

    window = shifts(schedule, utc(2026, 3, 2), utc(2026, 3, 16))
    assert window == [
        (utc(2026, 3, 2), utc(2026, 3, 2, 9), None, "gap"),
        (utc(2026, 3, 2, 9), utc(2026, 3, 5, 9), "alice", "layer"),
        (utc(2026, 3, 5, 9), utc(2026, 3, 9, 9), "bob", "layer"),
        (utc(2026, 3, 9, 9), utc(2026, 3, 12, 9), "carol", "layer"),
        (utc(2026, 3, 12, 9), utc(2026, 3, 16), "alice", "layer"),
    ]
    assert who(schedule, utc(2026, 3, 12, 8, 59)) == "carol"
    assert who(schedule, utc(2026, 3, 12, 9, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 16, 9, 0)) == "bob"


def test_custom_rule_starting_between_occurrences_counts_the_start_as_the_first_shift(
    schedule, alice, bob
):
    # A Wednesday start: Alice holds Wed-Thu, then the rule's Thursday hands to Bob.
    add_rotation(
        schedule,
        [alice, bob],
        start=date(2026, 3, 4),
        unit=ShiftUnit.CUSTOM,
        rule="RRULE:FREQ=WEEKLY;BYDAY=MO,TH",
    )

    assert who(schedule, utc(2026, 3, 4, 9, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 5, 9, 0)) == "bob"
    assert who(schedule, utc(2026, 3, 9, 9, 0)) == "alice"


def test_custom_rule_with_a_count_leaves_the_last_shift_running(schedule, alice, bob):
    add_rotation(
        schedule,
        [alice, bob],
        start=date(2026, 3, 2),
        unit=ShiftUnit.CUSTOM,
        rule="RRULE:FREQ=DAILY;COUNT=2",
    )

    assert who(schedule, utc(2026, 3, 2, 9, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 3, 9, 0)) == "bob"
    assert who(schedule, utc(2026, 4, 1)) == "bob"


@pytest.mark.parametrize("active_zone", ["UTC", "America/New_York", "Europe/Berlin"])
def test_custom_rule_dates_are_read_in_the_schedules_zone_whatever_zone_is_active(
    group, alice, bob, active_zone
):
    # django-recurrence stores UNTIL and EXDATE in UTC: 08:00Z is 09:00 in Berlin,
    # so the Wednesday handoff is skipped and the rule's last one is Friday's.
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule,
        [alice, bob],
        start=date(2026, 3, 2),
        unit=ShiftUnit.CUSTOM,
        rule="RRULE:FREQ=DAILY;UNTIL=20260306T080000Z\nEXDATE:20260304T080000Z",
    )

    with timezone.override(ZoneInfo(active_zone)):  # a viewer's zone, in a request
        days = [who(schedule, wall("Europe/Berlin", 2026, 3, d, 12)) for d in range(2, 9)]

    assert days == ["alice", "bob", "bob", "alice", "bob", "bob", "bob"]


def test_custom_rotation_without_a_rule_puts_nobody_on_call(schedule, alice):
    add_rotation(schedule, [alice], unit=ShiftUnit.CUSTOM, rule="")

    assert who(schedule, utc(2026, 3, 3)) is None


def test_a_participant_may_appear_more_than_once(schedule, alice, bob):
    add_rotation(
        schedule, [alice, alice, bob], start=date(2026, 3, 2), handoff=time(0, 0), unit="days"
    )

    days = [who(schedule, utc(2026, 3, d, 12)) for d in range(2, 9)]
    assert days == ["alice", "alice", "bob", "alice", "alice", "bob", "alice"]
    # Alice's back-to-back days read as one shift in the final schedule.
    window = shifts(schedule, utc(2026, 3, 2), utc(2026, 3, 8))
    assert [(s, e, u) for s, e, u, _ in window] == [
        (utc(2026, 3, 2), utc(2026, 3, 4), "alice"),
        (utc(2026, 3, 4), utc(2026, 3, 5), "bob"),
        (utc(2026, 3, 5), utc(2026, 3, 7), "alice"),
        (utc(2026, 3, 7), utc(2026, 3, 8), "bob"),
    ]


def test_an_inactive_participant_is_never_on_call(schedule, alice, bob, carol):
    add_rotation(schedule, [alice, bob, carol], unit="days")
    bob.is_active = False
    bob.save()

    on_call = {who(schedule, utc(2026, 3, day, 12)) for day in range(2, 12)}
    assert "bob" not in on_call
    assert on_call <= {"alice", "carol"}


# -- where a layer starts and ends ------------------------------------------


def test_nobody_is_on_call_before_the_layer_starts(schedule, alice):
    add_rotation(schedule, [alice], start=date(2026, 3, 2), handoff=time(9, 0))

    assert who(schedule, utc(2026, 3, 2, 8, 59, 59)) is None
    assert who(schedule, utc(2026, 3, 2, 9, 0)) == "alice"
    assert shifts(schedule, utc(2026, 3, 2, 6), utc(2026, 3, 2, 12)) == [
        (utc(2026, 3, 2, 6), utc(2026, 3, 2, 9), None, "gap"),
        (utc(2026, 3, 2, 9), utc(2026, 3, 2, 12), "alice", "layer"),
    ]


def test_a_layer_stops_at_midnight_starting_its_end_date(schedule, alice, bob):
    add_rotation(schedule, [alice, bob], start=date(2026, 3, 2), unit="days", end=date(2026, 3, 5))

    assert who(schedule, utc(2026, 3, 4, 23, 59, 59)) == "alice"
    assert who(schedule, utc(2026, 3, 5, 0, 0)) is None
    assert who(schedule, utc(2026, 3, 20)) is None
    assert shifts(schedule, utc(2026, 3, 4, 12), utc(2026, 3, 6)) == [
        (utc(2026, 3, 4, 12), utc(2026, 3, 5), "alice", "layer"),
        (utc(2026, 3, 5), utc(2026, 3, 6), None, "gap"),
    ]


# -- restrictions ------------------------------------------------------------


def test_weekday_business_hours_restriction(schedule, alice):
    add_rotation(schedule, [alice], windows=[("01234", time(9), time(17))])

    # Mon 2 Mar 2026 .. Sun 8 Mar 2026.
    assert who(schedule, utc(2026, 3, 3, 8, 59, 59)) is None
    assert who(schedule, utc(2026, 3, 3, 9, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 3, 16, 59, 59)) == "alice"
    assert who(schedule, utc(2026, 3, 3, 17, 0)) is None
    assert who(schedule, utc(2026, 3, 6, 12)) == "alice"  # Friday
    assert who(schedule, utc(2026, 3, 7, 12)) is None  # Saturday
    assert who(schedule, utc(2026, 3, 8, 12)) is None  # Sunday


def test_night_restriction_runs_past_midnight_from_its_start_day(schedule, alice):
    add_rotation(schedule, [alice], windows=[("01234", time(18), time(9))])

    assert who(schedule, utc(2026, 3, 2, 17, 59)) is None  # Monday before the night
    assert who(schedule, utc(2026, 3, 2, 18, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 3, 3, 0)) == "alice"  # Monday's night, on Tuesday
    assert who(schedule, utc(2026, 3, 3, 9, 0)) is None
    assert who(schedule, utc(2026, 3, 7, 8, 59)) == "alice"  # Friday's night ends Saturday
    assert who(schedule, utc(2026, 3, 7, 20, 0)) is None  # no Saturday night
    assert who(schedule, utc(2026, 3, 9, 2, 0)) is None  # no Sunday night either
    assert shifts(schedule, utc(2026, 3, 6, 12), utc(2026, 3, 7, 12)) == [
        (utc(2026, 3, 6, 12), utc(2026, 3, 6, 18), None, "gap"),
        (utc(2026, 3, 6, 18), utc(2026, 3, 7, 9), "alice", "layer"),
        (utc(2026, 3, 7, 9), utc(2026, 3, 7, 12), None, "gap"),
    ]


def test_restriction_with_equal_start_and_end_is_the_whole_day(schedule, alice):
    add_rotation(schedule, [alice], windows=[("5", time(10), time(10))])  # Saturday 10:00 on

    assert who(schedule, utc(2026, 3, 7, 9, 59)) is None
    assert who(schedule, utc(2026, 3, 7, 10, 0)) == "alice"
    assert who(schedule, utc(2026, 3, 8, 9, 59, 59)) == "alice"  # Sunday morning
    assert who(schedule, utc(2026, 3, 8, 10, 0)) is None


def test_restriction_shortens_shifts_but_the_order_runs_by_the_clock(schedule, alice, bob, carol):
    # Daily handoff at noon, active only 09:00-17:00 on weekdays.
    add_rotation(
        schedule,
        [alice, bob, carol],
        start=date(2026, 3, 2),
        handoff=time(12, 0),
        unit="days",
        windows=[("01234", time(9), time(17))],
    )

    assert shifts(schedule, utc(2026, 3, 3), utc(2026, 3, 4)) == [
        (utc(2026, 3, 3), utc(2026, 3, 3, 9), None, "gap"),
        (utc(2026, 3, 3, 9), utc(2026, 3, 3, 12), "alice", "layer"),
        (utc(2026, 3, 3, 12), utc(2026, 3, 3, 17), "bob", "layer"),
        (utc(2026, 3, 3, 17), utc(2026, 3, 4), None, "gap"),
    ]
    # The weekend is skipped by the windows, not by the order: Monday noon is
    # 7 handoffs after Monday 2 March noon, so the turn has moved on by 7.
    assert who(schedule, utc(2026, 3, 9, 13)) == "bob"


def test_several_restrictions_of_one_layer_add_up(schedule, alice):
    add_rotation(
        schedule, [alice], windows=[("01234", time(9), time(12)), ("01234", time(14), time(17))]
    )

    assert [who(schedule, utc(2026, 3, 4, h)) for h in (10, 13, 15, 18)] == [
        "alice",
        None,
        "alice",
        None,
    ]


# -- layers of one role --------------------------------------------------------


def test_higher_layer_wins_where_it_has_somebody(schedule, alice, bob):
    add_rotation(schedule, [alice], layer=1, name="Everyone")
    add_rotation(schedule, [bob], layer=2, windows=[("01234", time(9), time(17))], name="Days")

    assert who(schedule, utc(2026, 3, 3, 10)) == "bob"
    assert who(schedule, utc(2026, 3, 3, 20)) == "alice"
    assert who(schedule, utc(2026, 3, 7, 10)) == "alice"  # Saturday: layer 2 is off
    final = oncall.final_schedule(schedule, utc(2026, 3, 3, 8), utc(2026, 3, 3, 18), (PRIMARY,))
    assert [(s.start, s.end, s.user.username, s.source_name) for s in final] == [
        (utc(2026, 3, 3, 8), utc(2026, 3, 3, 9), "alice", "Everyone"),
        (utc(2026, 3, 3, 9), utc(2026, 3, 3, 17), "bob", "Days"),
        (utc(2026, 3, 3, 17), utc(2026, 3, 3, 18), "alice", "Everyone"),
    ]


def test_higher_layer_wins_regardless_of_creation_order(schedule, alice, bob):
    add_rotation(schedule, [bob], layer=3)
    add_rotation(schedule, [alice], layer=1)

    assert who(schedule, utc(2026, 3, 3)) == "bob"


def test_a_lower_layer_shows_through_where_the_higher_one_has_ended(schedule, alice, bob):
    add_rotation(schedule, [alice], layer=1)
    add_rotation(schedule, [bob], layer=2, start=date(2026, 3, 2), end=date(2026, 3, 4))

    assert who(schedule, utc(2026, 3, 3)) == "bob"
    assert who(schedule, utc(2026, 3, 4)) == "alice"


def test_follow_the_sun_from_two_restricted_layers(schedule, alice, bob, carol, dave):
    add_rotation(
        schedule,
        [alice, carol],
        handoff=time(0, 0),
        windows=[("0123456", time(0), time(12))],
        name="APAC",
    )
    add_rotation(
        schedule,
        [bob, dave],
        handoff=time(0, 0),
        windows=[("0123456", time(12), time(0))],
        name="Americas",
    )

    window = shifts(schedule, utc(2026, 3, 8), utc(2026, 3, 10))
    assert [(s, e, u) for s, e, u, _ in window] == [
        (utc(2026, 3, 8), utc(2026, 3, 8, 12), "alice"),
        (utc(2026, 3, 8, 12), utc(2026, 3, 9), "bob"),
        (utc(2026, 3, 9), utc(2026, 3, 9, 12), "carol"),
        (utc(2026, 3, 9, 12), utc(2026, 3, 10), "dave"),
    ]
    assert all(source == "layer" for *_, source in window)


def test_final_schedule_reports_gaps_where_no_layer_has_anybody(schedule, alice):
    add_rotation(schedule, [alice], windows=[("01234", time(9), time(17))])

    final = oncall.final_schedule(schedule, utc(2026, 3, 6), utc(2026, 3, 10), (PRIMARY,))
    assert [(s.start, s.end, s.user, s.source) for s in final if s.is_gap] == [
        (utc(2026, 3, 6), utc(2026, 3, 6, 9), None, "gap"),
        (utc(2026, 3, 6, 17), utc(2026, 3, 9, 9), None, "gap"),
        (utc(2026, 3, 9, 17), utc(2026, 3, 10), None, "gap"),
    ]
    # Every instant is in exactly one shift.
    assert final[0].start == utc(2026, 3, 6)
    assert final[-1].end == utc(2026, 3, 10)
    assert all(a.end == b.start for a, b in itertools.pairwise(final))


def test_a_schedule_without_layers_is_one_gap_per_role(schedule):
    final = oncall.final_schedule(schedule, utc(2026, 3, 2), utc(2026, 3, 3))

    assert [(s.role, s.start, s.end, s.source) for s in final] == [
        (PRIMARY, utc(2026, 3, 2), utc(2026, 3, 3), "gap"),
        (SECONDARY, utc(2026, 3, 2), utc(2026, 3, 3), "gap"),
    ]


# -- roles -------------------------------------------------------------------


def test_secondary_is_decided_independently_of_primary(schedule, alice, bob, carol, dave):
    add_rotation(schedule, [alice, bob], role=PRIMARY)
    add_rotation(schedule, [carol, dave], role=SECONDARY, unit="days", handoff=time(0, 0))
    add_override(schedule, dave, utc(2026, 3, 3), utc(2026, 3, 4), role=PRIMARY)

    assert who(schedule, utc(2026, 3, 2, 12), PRIMARY) == "alice"
    assert who(schedule, utc(2026, 3, 2, 12), SECONDARY) == "carol"
    # Dave's Primary override does not touch Secondary, which is Dave's turn anyway.
    assert who(schedule, utc(2026, 3, 3, 12), PRIMARY) == "dave"
    assert who(schedule, utc(2026, 3, 3, 12), SECONDARY) == "dave"
    assert who(schedule, utc(2026, 3, 4, 12), SECONDARY) == "carol"
    final = oncall.final_schedule(schedule, utc(2026, 3, 2, 12), utc(2026, 3, 3, 12))
    assert [(s.role, s.user.username) for s in final] == [
        (PRIMARY, "alice"),
        (PRIMARY, "dave"),
        (SECONDARY, "carol"),
        (SECONDARY, "dave"),
    ]


def test_a_role_with_no_layer_has_nobody_even_when_the_other_role_does(schedule, alice):
    add_rotation(schedule, [alice], role=PRIMARY)

    assert who(schedule, utc(2026, 3, 3), PRIMARY) == "alice"
    assert who(schedule, utc(2026, 3, 3), SECONDARY) is None


def test_current_gives_each_role_the_shift_holding_the_instant_with_its_true_end(
    schedule, alice, bob
):
    add_rotation(schedule, [alice, bob], role=PRIMARY)
    add_rotation(schedule, [bob], role=SECONDARY, windows=[("01234", time(9), time(17))])

    now = oncall.current(schedule, utc(2026, 3, 4, 12))

    assert (now[PRIMARY].user.username, now[PRIMARY].end) == ("alice", utc(2026, 3, 9, 9))
    assert (now[SECONDARY].user.username, now[SECONDARY].end) == ("bob", utc(2026, 3, 4, 17))
    evening = oncall.current(schedule, utc(2026, 3, 4, 20))
    assert evening[SECONDARY].is_gap
    assert evening[SECONDARY].end == utc(2026, 3, 5, 9)
