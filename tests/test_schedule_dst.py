"""Daylight-saving time: handoffs and restrictions keep their local wall-clock times.

The 2026 changes used here:
- Europe/Berlin: Sun 29 Mar 02:00 -> 03:00 (01:00 UTC); Sun 25 Oct 03:00 -> 02:00 (01:00 UTC).
- America/New_York: Sun 8 Mar 02:00 -> 03:00 (07:00 UTC); Sun 1 Nov 02:00 -> 01:00 (06:00 UTC).
- Australia/Lord_Howe (30 minutes): Sun 5 Apr 02:00 -> 01:30 (15:00 UTC on the 4th);
  Sun 4 Oct 02:00 -> 02:30 (15:30 UTC on the 3rd).
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules import timeline
from schedules.models import ShiftUnit
from tests.schedule_helpers import add_rotation, make_schedule, shifts, utc, wall, who

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

ONE_SHIFT_A_DAY = [(ShiftUnit.HOURS, 24), (ShiftUnit.DAYS, 1)]


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def on_duty(schedule, start, end):
    """(start, end, username) of the layer shifts in [start, end), gaps left out."""
    return [(s, e, u) for s, e, u, source in shifts(schedule, start, end) if source != "gap"]


# -- to_instant ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "local_time", "instant"),
    [
        (BERLIN, datetime(2026, 3, 2, 9, 0), utc(2026, 3, 2, 8, 0)),
        (BERLIN, datetime(2026, 7, 1, 9, 0), utc(2026, 7, 1, 7, 0)),
        (BERLIN, datetime(2026, 3, 29, 3, 0), utc(2026, 3, 29, 1, 0)),
        (NEW_YORK, datetime(2026, 11, 1, 2, 0), utc(2026, 11, 1, 7, 0)),
        (ZoneInfo("Asia/Kolkata"), datetime(2026, 3, 29, 2, 30), utc(2026, 3, 28, 21, 0)),
        (ZoneInfo("UTC"), datetime(2026, 3, 29, 2, 30, 15, 250), utc(2026, 3, 29, 2, 30, 15, 250)),
    ],
)
def test_to_instant_of_a_time_that_exists_once(zone, local_time, instant):
    assert timeline.to_instant(local_time, zone) == instant
    assert timeline.local(instant, zone) == local_time


@pytest.mark.parametrize(
    ("zone", "local_time", "first"),
    [
        (BERLIN, datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30)),
        (BERLIN, datetime(2026, 10, 25, 2, 0), utc(2026, 10, 25, 0, 0)),
        (NEW_YORK, datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30)),
        (LORD_HOWE, datetime(2026, 4, 5, 1, 45), utc(2026, 4, 4, 14, 45)),
    ],
)
def test_to_instant_of_a_time_shown_twice_is_its_first_occurrence(zone, local_time, first):
    assert timeline.to_instant(local_time, zone) == first
    assert timeline.local(first, zone) == local_time


@pytest.mark.parametrize(
    ("zone", "local_time", "jump"),
    [
        (BERLIN, datetime(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1, 0)),
        (BERLIN, datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 0)),
        (BERLIN, datetime(2026, 3, 29, 2, 59, 59, 999999), utc(2026, 3, 29, 1, 0)),
        (NEW_YORK, datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7, 0)),
        (LORD_HOWE, datetime(2026, 10, 4, 2, 15), utc(2026, 10, 3, 15, 30)),
    ],
)
def test_to_instant_of_a_time_that_never_occurs_is_the_moment_of_the_jump(zone, local_time, jump):
    assert timeline.to_instant(local_time, zone) == jump
    assert timeline.local(jump - timedelta(microseconds=1), zone) < local_time
    assert timeline.local(jump, zone) > local_time


@pytest.mark.parametrize(
    ("zone", "day"),
    [(BERLIN, date(2026, 3, 29)), (BERLIN, date(2026, 10, 25)), (LORD_HOWE, date(2026, 10, 4))],
)
def test_to_instant_never_runs_backwards_over_a_change(zone, day):
    walls = [datetime.combine(day, time()) + timedelta(minutes=5 * n) for n in range(12 * 6)]
    instants = [timeline.to_instant(w, zone) for w in walls]

    assert instants == sorted(instants)
    assert all(timeline.local(i, zone) >= w for i, w in zip(instants, walls, strict=True))


# -- weekly handoffs -----------------------------------------------------------------


def test_weekly_monday_0900_berlin_stays_0900_across_both_changes(group, alice, bob):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice, bob], start=date(2026, 3, 23), handoff=time(9, 0))

    # Spring: Monday 30 March 09:00 CEST is 07:00 UTC (it was 08:00 UTC a week before).
    assert who(schedule, utc(2026, 3, 30, 6, 59, 59)) == "alice"
    assert who(schedule, utc(2026, 3, 30, 7, 0)) == "bob"
    assert on_duty(schedule, utc(2026, 3, 23), utc(2026, 4, 6, 12)) == [
        (utc(2026, 3, 23, 8), utc(2026, 3, 30, 7), "alice"),  # 167 hours
        (utc(2026, 3, 30, 7), utc(2026, 4, 6, 7), "bob"),
        (utc(2026, 4, 6, 7), utc(2026, 4, 6, 12), "alice"),
    ]
    # Autumn: the week holding 25 October is 169 hours and ends Monday 09:00 CET.
    assert on_duty(schedule, utc(2026, 10, 19), utc(2026, 11, 2)) == [
        (utc(2026, 10, 19), utc(2026, 10, 19, 7), "bob"),
        (utc(2026, 10, 19, 7), utc(2026, 10, 26, 8), "alice"),
        (utc(2026, 10, 26, 8), utc(2026, 11, 2), "bob"),
    ]
    assert who(schedule, utc(2026, 10, 26, 7, 59, 59)) == "alice"
    assert who(schedule, utc(2026, 10, 26, 8, 0)) == "bob"


def test_every_weekly_handoff_of_a_year_is_monday_0900_berlin(group, alice, bob, carol):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice, bob, carol], start=date(2026, 1, 5), handoff=time(9, 0))

    year = shifts(schedule, wall("Europe/Berlin", 2026, 1, 5, 9), utc(2027, 1, 4, 12))
    starts = [timeline.local(s, BERLIN) for s, *_ in year]

    assert len(year) == 53
    assert all((s.weekday(), s.time()) == (0, time(9, 0)) for s in starts)
    lengths = sorted({hours(s, e) for s, e, *_ in year[:-1]})
    assert lengths == [167, 168, 169]


def test_weekly_handoff_in_new_york_across_both_changes(group, alice, bob):
    schedule = make_schedule(group, "America/New_York")
    add_rotation(schedule, [alice, bob], start=date(2026, 3, 2), handoff=time(9, 0))

    assert who(schedule, utc(2026, 3, 9, 12, 59)) == "alice"  # 08:59 EDT
    assert who(schedule, utc(2026, 3, 9, 13, 0)) == "bob"  # 09:00 EDT
    # 2 Nov 09:00 EST is 14:00 UTC; shift 35 is Bob's.
    assert who(schedule, utc(2026, 11, 2, 13, 59)) == "alice"
    assert who(schedule, utc(2026, 11, 2, 14, 0)) == "bob"


# -- one shift a day over the 23-hour and the 25-hour day -----------------------------


@pytest.mark.parametrize(("unit", "length"), ONE_SHIFT_A_DAY)
def test_daily_shift_over_the_23_hour_day_ends_at_the_same_local_time(
    group, alice, bob, unit, length
):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule, [alice, bob], start=date(2026, 3, 28), handoff=time(9), unit=unit, length=length
    )

    assert on_duty(schedule, utc(2026, 3, 28), utc(2026, 3, 30, 12)) == [
        (utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), "alice"),  # 23 hours
        (utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), "bob"),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 12), "alice"),
    ]


@pytest.mark.parametrize(("unit", "length"), ONE_SHIFT_A_DAY)
def test_daily_shift_over_the_25_hour_day_ends_at_the_same_local_time(
    group, alice, bob, unit, length
):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule, [alice, bob], start=date(2026, 10, 24), handoff=time(9), unit=unit, length=length
    )

    assert on_duty(schedule, utc(2026, 10, 24), utc(2026, 10, 26, 12)) == [
        (utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), "alice"),  # 25 hours
        (utc(2026, 10, 25, 8), utc(2026, 10, 26, 8), "bob"),
        (utc(2026, 10, 26, 8), utc(2026, 10, 26, 12), "alice"),
    ]


@pytest.mark.parametrize(("unit", "length"), ONE_SHIFT_A_DAY)
def test_daily_shift_in_new_york_over_both_changes(group, alice, bob, unit, length):
    schedule = make_schedule(group, "America/New_York")
    add_rotation(
        schedule, [alice, bob], start=date(2026, 3, 7), handoff=time(8), unit=unit, length=length
    )

    spring = on_duty(schedule, utc(2026, 3, 7, 13), utc(2026, 3, 9, 12))
    assert spring == [
        (utc(2026, 3, 7, 13), utc(2026, 3, 8, 12), "alice"),  # 23 hours
        (utc(2026, 3, 8, 12), utc(2026, 3, 9, 12), "bob"),
    ]
    # 31 October is day 238 of the rotation: Alice's; 1 November is Bob's, 25 hours.
    autumn = on_duty(schedule, utc(2026, 10, 31, 12), utc(2026, 11, 2, 13))
    assert autumn == [
        (utc(2026, 10, 31, 12), utc(2026, 11, 1, 13), "alice"),  # 25 hours
        (utc(2026, 11, 1, 13), utc(2026, 11, 2, 13), "bob"),
    ]


def test_eight_hour_shifts_keep_their_local_handoffs_over_the_change(group, alice, bob, carol):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule,
        [alice, bob, carol],
        start=date(2026, 3, 28),
        handoff=time(0),
        unit=ShiftUnit.HOURS,
        length=8,
    )

    day = on_duty(
        schedule, wall("Europe/Berlin", 2026, 3, 29, 0), wall("Europe/Berlin", 2026, 3, 30)
    )
    assert [(timeline.local(s, BERLIN).hour, hours(s, e), u) for s, e, u in day] == [
        (0, 7, "alice"),  # the night the clocks skip an hour
        (8, 8, "bob"),
        (16, 8, "carol"),
    ]


# -- a zone with half-hour changes -------------------------------------------------


def test_lord_howe_daily_handoff_over_its_half_hour_changes(group, alice, bob):
    schedule = make_schedule(group, "Australia/Lord_Howe")
    add_rotation(schedule, [alice, bob], start=date(2026, 4, 4), handoff=time(9), unit="days")

    assert on_duty(schedule, utc(2026, 4, 3, 22), utc(2026, 4, 5, 22, 30)) == [
        (utc(2026, 4, 3, 22), utc(2026, 4, 4, 22, 30), "alice"),  # 24.5 hours
        (utc(2026, 4, 4, 22, 30), utc(2026, 4, 5, 22, 30), "bob"),
    ]
    # 4 October 09:00 (+11:00) is 22:00 UTC on the 3rd; the day before was 23.5 hours.
    assert who(schedule, utc(2026, 10, 3, 21, 59)) == who(schedule, utc(2026, 10, 2, 22, 30))
    assert who(schedule, utc(2026, 10, 3, 22, 0)) != who(schedule, utc(2026, 10, 3, 21, 59))


def test_lord_howe_handoff_in_the_skipped_half_hour_happens_at_the_jump(group, alice, bob):
    schedule = make_schedule(group, "Australia/Lord_Howe")
    add_rotation(schedule, [alice, bob], start=date(2026, 10, 3), handoff=time(2, 15), unit="days")

    assert who(schedule, utc(2026, 10, 3, 15, 29, 59)) == "alice"
    assert who(schedule, utc(2026, 10, 3, 15, 30)) == "bob"


# -- zones without daylight-saving time ---------------------------------------------


@pytest.mark.parametrize(
    ("zone", "first_handoff"),
    [("Asia/Kolkata", utc(2026, 1, 5, 3, 30)), ("Asia/Tokyo", utc(2026, 1, 5, 0, 0))],
)
def test_handoffs_in_a_zone_without_dst_are_a_fixed_utc_time(
    group, alice, bob, zone, first_handoff
):
    schedule = make_schedule(group, zone)
    add_rotation(schedule, [alice, bob], start=date(2026, 1, 5), handoff=time(9))

    year = on_duty(schedule, first_handoff, first_handoff + timedelta(weeks=52))

    assert [s for s, *_ in year] == [first_handoff + timedelta(weeks=n) for n in range(52)]
    assert [u for *_, u in year] == ["alice", "bob"] * 26


# -- handoffs at a local time that does not exist, or exists twice -------------------


def test_handoff_at_a_time_skipped_by_the_clocks_happens_at_the_jump(group, alice, bob, carol):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule, [alice, bob, carol], start=date(2026, 3, 27), handoff=time(2, 30), unit="days"
    )

    assert on_duty(schedule, utc(2026, 3, 28), utc(2026, 3, 30, 12)) == [
        (utc(2026, 3, 28), utc(2026, 3, 28, 1, 30), "alice"),
        (utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), "bob"),
        (utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30), "carol"),  # from the jump
        (utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 12), "alice"),
    ]
    assert who(schedule, utc(2026, 3, 29, 0, 59, 59)) == "bob"
    assert who(schedule, utc(2026, 3, 29, 1, 0)) == "carol"


def test_handoff_at_a_time_shown_twice_happens_the_first_time(group, alice, bob, carol):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule, [alice, bob, carol], start=date(2026, 10, 24), handoff=time(2, 30), unit="days"
    )

    assert on_duty(schedule, utc(2026, 10, 24, 0, 30), utc(2026, 10, 26, 1, 30)) == [
        (utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), "alice"),
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), "bob"),  # 25 hours
    ]
    # The second 02:30 (01:30 UTC) starts nothing.
    assert who(schedule, utc(2026, 10, 25, 1, 30)) == "bob"


# -- restriction windows keep their local times ---------------------------------------


def test_business_hours_restriction_keeps_local_times_across_the_change(group, alice):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice], start=date(2026, 3, 2), windows=[("01234", time(9), time(17))])

    friday = on_duty(schedule, utc(2026, 3, 27), utc(2026, 3, 28))
    monday = on_duty(schedule, utc(2026, 3, 30), utc(2026, 3, 31))
    assert friday == [(utc(2026, 3, 27, 8), utc(2026, 3, 27, 16), "alice")]
    assert monday == [(utc(2026, 3, 30, 7), utc(2026, 3, 30, 15), "alice")]
    assert on_duty(schedule, utc(2026, 10, 26), utc(2026, 10, 27)) == [
        (utc(2026, 10, 26, 8), utc(2026, 10, 26, 16), "alice")
    ]


def test_night_restriction_over_the_short_and_the_long_night(group, alice):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(
        schedule, [alice], start=date(2026, 3, 2), windows=[("0123456", time(18), time(9))]
    )

    short = on_duty(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert short == [(utc(2026, 3, 28, 17), utc(2026, 3, 29, 7), "alice")]  # 14 hours
    long = on_duty(schedule, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert long == [(utc(2026, 10, 24, 16), utc(2026, 10, 25, 8), "alice")]  # 16 hours
    assert who(schedule, utc(2026, 3, 29, 6, 59)) == "alice"
    assert who(schedule, utc(2026, 3, 29, 7, 0)) is None


def test_restriction_starting_in_the_skipped_hour_starts_at_the_jump(group, alice):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice], start=date(2026, 3, 2), windows=[("6", time(2, 30), time(5))])

    assert on_duty(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == [
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3), "alice")
    ]
    assert who(schedule, utc(2026, 3, 29, 0, 59)) is None
    assert who(schedule, utc(2026, 3, 29, 1, 0)) == "alice"
