"""Properties of the schedule arithmetic, over random layers, restrictions and overrides.

The window view (`resolve`) and the instant view (`on_call`) are computed by
different code; these tests hold them to each other and to what the layers
and overrides cover, in zones with and without daylight-saving changes.
"""

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules import oncall, timeline
from tests.conftest import make_user
from tests.schedule_helpers import (
    PRIMARY,
    SECONDARY,
    add_override,
    add_rotation,
    make_schedule,
    utc,
)

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
ROLES = [PRIMARY, SECONDARY]
USERS = ["ann", "ben", "cat", "dan"]
COVER_USERS = [*USERS, "xavier", "yan"]
QUARTER = timedelta(minutes=15)
# Windows start near the 2026 daylight-saving changes of the zones above (and
# one far from any), so that shifts and restrictions keep crossing them.
AROUND = [
    utc(2026, 3, 8, 7),
    utc(2026, 3, 29, 1),
    utc(2026, 4, 4, 15),
    utc(2026, 6, 15, 12),
    utc(2026, 10, 3, 15, 30),
    utc(2026, 10, 25, 1),
    utc(2026, 11, 1, 6),
]
WEEKDAYS = [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU]

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Local times, biased towards the small hours where clocks change.
hours_of_day = st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 23))
local_times = st.builds(time, hours_of_day, st.sampled_from([0, 15, 30, 45]))


@st.composite
def windows(draw):
    """The window asked about: [start, end) in UTC."""
    start = draw(st.sampled_from(AROUND)) + draw(st.integers(-48 * 4, 48 * 4)) * QUARTER
    length = draw(st.integers(1, 12 * 24 * 4)) * QUARTER
    return start, start + length


@st.composite
def layers(draw, ident: int, around: datetime):
    start_day = around.date() + timedelta(days=draw(st.integers(-20, 5)))
    start = datetime.combine(start_day, draw(local_times))
    kind = draw(st.sampled_from(["hours", "days", "weeks", "rule"]))
    step = rule = None
    if kind == "hours":
        step = timedelta(hours=draw(st.sampled_from([1, 4, 8, 12, 24, 36])))
    elif kind == "days":
        step = timedelta(days=draw(st.integers(1, 3)))
    elif kind == "weeks":
        step = timedelta(weeks=draw(st.integers(1, 2)))
    else:
        freq = draw(st.sampled_from(["weekly", "daily", "hourly"]))
        count = draw(st.one_of(st.none(), st.integers(1, 6)))
        if freq == "weekly":
            days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=4, unique=True))
            rule = rrule.rrule(rrule.WEEKLY, dtstart=start, byweekday=days, count=count)
        elif freq == "daily":
            rule = rrule.rrule(
                rrule.DAILY, dtstart=start, interval=draw(st.integers(1, 3)), count=count
            )
        else:
            rule = rrule.rrule(
                rrule.HOURLY, dtstart=start, interval=draw(st.integers(5, 13)), count=count
            )
    end = None
    if draw(st.booleans()):
        end = datetime.combine(start_day + timedelta(days=draw(st.integers(1, 30))), time())
    restrictions = draw(
        st.lists(
            st.builds(
                timeline.Window,
                st.frozensets(st.integers(0, 6)),
                local_times,
                local_times,
            ),
            max_size=2,
        )
    )
    return timeline.Layer(
        id=ident,
        role=draw(st.sampled_from(ROLES)),
        layer=draw(st.integers(1, 3)),
        start=start,
        users=draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=4)),
        step=step,
        rule=rule,
        end=end,
        windows=restrictions,
    )


@st.composite
def covers(draw, ident: int, start: datetime, end: datetime):
    begins = start + draw(st.integers(-24 * 4, int((end - start) / QUARTER) + 24 * 4)) * QUARTER
    return timeline.Cover(
        id=ident,
        role=draw(st.sampled_from(ROLES)),
        user=draw(st.sampled_from(COVER_USERS)),
        start=begins,
        end=begins + draw(st.integers(1, 48 * 4)) * QUARTER,
        replaces=draw(st.one_of(st.none(), st.sampled_from(USERS))),
    )


@st.composite
def schedules(draw):
    """(zone, layers, covers, start, end): a random schedule and a window onto it."""
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    start, end = draw(windows())
    count = draw(st.integers(0, 4))
    found = [draw(layers(ident, start)) for ident in range(1, count + 1)]
    cover_count = draw(st.integers(0, 4))
    found_covers = [draw(covers(ident, start, end)) for ident in range(1, cover_count + 1)]
    return zone, found, found_covers, start, end


def union(spans):
    """The interval set covered by `spans`: sorted, disjoint, non-touching (start, end) pairs."""
    merged: list[list[datetime]] = []
    for low, high in sorted(s for s in spans if s[0] < s[1]):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [tuple(m) for m in merged]


def slot_holding(slots, instant):
    found = [s for s in slots if s.start <= instant < s.end]
    assert len(found) == 1, (instant, found)
    return found[0]


@PROPERTIES
@given(schedules())
def test_resolve_tiles_the_window_with_one_slot_per_instant(case):
    zone, layers_, covers_, start, end = case
    for role in ROLES:
        slots = timeline.resolve(layers_, covers_, role, start, end, zone)

        assert slots, "an empty window would have no slots; these windows are not empty"
        assert slots[0].start == start
        assert slots[-1].end == end
        assert all(s.start < s.end for s in slots)
        assert all(a.end == b.start for a, b in itertools.pairwise(slots))
        assert all(s.role == role for s in slots)
        assert all((s.user is None) == s.is_gap for s in slots)


@PROPERTIES
@given(schedules())
def test_resolve_covers_exactly_what_the_layers_and_overrides_cover(case):
    zone, layers_, covers_, start, end = case
    for role in ROLES:
        slots = timeline.resolve(layers_, covers_, role, start, end, zone)
        # An override for a named person only ever covers where a layer has
        # somebody, so only unconditional overrides add to the layers.
        expected = union(
            [
                (low, high)
                for layer in layers_
                if layer.role == role
                for low, high, _ in layer.shifts(zone, start, end)
            ]
            + [
                (max(c.start, start), min(c.end, end))
                for c in covers_
                if c.role == role and c.replaces is None
            ]
        )

        assert union((s.start, s.end) for s in slots if not s.is_gap) == expected


@PROPERTIES
@given(schedules(), st.lists(st.floats(0, 1, exclude_max=True), max_size=20))
def test_on_call_agrees_with_resolve_at_every_instant(case, fractions):
    zone, layers_, covers_, start, end = case
    for role in ROLES:
        slots = timeline.resolve(layers_, covers_, role, start, end, zone)
        last = end - timedelta(microseconds=1)
        instants = [min(start + (end - start) * f, last) for f in fractions]
        # Every edge, from both sides: where the two views would disagree first.
        instants += [s.start for s in slots]
        instants += [s.end - timedelta(microseconds=1) for s in slots]
        for instant in instants:
            slot = slot_holding(slots, instant)
            now = timeline.on_call(layers_, covers_, role, instant, zone)

            if slot.is_gap:
                assert now is None, (instant, slot, now)
                continue
            assert now is not None, (instant, slot)
            assert (now.user, now.source, now.source_id) == (
                slot.user,
                slot.source,
                slot.source_id,
            ), instant
            if slot.source == timeline.OVERRIDE:
                assert now.replaced == slot.replaced, instant


@PROPERTIES
@given(
    st.sampled_from(ZONES),
    st.sampled_from(AROUND),
    st.integers(-36 * 4, 36 * 4),
    st.integers(0, 59),
)
def test_to_instant_is_the_first_moment_the_clocks_show_that_time(zone_name, near, quarters, s):
    zone = ZoneInfo(zone_name)
    wall = timeline.local(near, zone) + quarters * QUARTER + timedelta(seconds=s)

    instant = timeline.to_instant(wall, zone)

    assert timeline.local(instant, zone) >= wall
    # Before it the clocks never reached `wall`: checked every quarter hour for
    # a day back (zones change on the quarter hour) and just before it.
    earlier = [instant - timedelta(microseconds=1)]
    earlier += [instant - n * QUARTER for n in range(1, 26 * 4)]
    assert all(timeline.local(t, zone) < wall for t in earlier)


# -- the service agrees with itself on a realistic schedule ----------------------------


def test_final_schedule_agrees_with_who_is_on_call(group, alice, bob, carol):
    dave, erin = make_user("dave"), make_user("erin")
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice, bob, carol], start=date(2026, 3, 16), handoff=time(9))
    add_rotation(
        schedule,
        [dave, erin],
        layer=2,
        start=date(2026, 3, 16),
        handoff=time(12),
        unit="days",
        windows=[("01234", time(9), time(17))],
    )
    add_rotation(
        schedule,
        [bob, carol, bob],
        role=SECONDARY,
        start=date(2026, 3, 16),
        handoff=time(2, 30),
        unit="days",
        windows=[("0123456", time(18), time(9))],
    )
    add_override(schedule, erin, utc(2026, 3, 28, 20), utc(2026, 3, 29, 12))
    add_override(schedule, dave, utc(2026, 3, 25), utc(2026, 3, 27), role=SECONDARY, replaces=carol)
    start, end = utc(2026, 3, 20), utc(2026, 4, 3)

    shifts = oncall.final_schedule(schedule, start, end)

    assert {s.source for s in shifts} == {"layer", "override", "gap"}
    for shift in shifts:
        middle = shift.start + (shift.end - shift.start) / 2
        for instant in (shift.start, middle, shift.end - timedelta(seconds=1)):
            assert oncall.who_is_on_call(schedule, shift.role, instant) == shift.user, (
                shift,
                instant,
            )
