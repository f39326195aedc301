"""The escalation engine asks the group's schedule who is on call when a step fires.

The default policy (conftest): Primary at once, Secondary 5 minutes later,
Manager 10 minutes after that. The engine is driven with explicit instants.
"""

from datetime import date, time, timedelta

import pytest

from escalation import engine
from escalation.alerts import AlertInput, raise_alert
from escalation.models import Alert, EventKind
from groups.models import Group
from tests.conftest import T0, make_user
from tests.schedule_helpers import (
    PRIMARY,
    SECONDARY,
    add_override,
    add_rotation,
    make_schedule,
    wall,
)


@pytest.fixture
def dave(db):
    return make_user("dave")


@pytest.fixture
def erin(db):
    return make_user("erin")


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def open_alert(group: Group, at, key: str = "disk-full") -> Alert:
    alert, created = raise_alert(group, AlertInput(summary="Disk full", dedup_key=key), now=at)
    assert created
    return alert


def paged(alert: Alert, step: int | None = None) -> list[str]:
    """Usernames of the alert's notifications (of one step when given), in order written."""
    rows = alert.notifications.order_by("id")
    if step is not None:
        rows = rows.filter(step_index=step)
    return [n.user.username for n in rows]


def warnings(alert: Alert) -> list[str]:
    return list(alert.events.filter(kind=EventKind.WARNING).values_list("message", flat=True))


def test_primary_step_pages_the_on_call_person_not_the_static_primary(group, dave):
    schedule = make_schedule(group)
    add_rotation(schedule, [dave], role=PRIMARY, start=date(2026, 3, 1))
    alert = open_alert(group, T0)

    assert engine.run_due(T0) == 1

    assert paged(alert) == ["dave"]
    assert warnings(alert) == []


def test_step_pages_whoever_is_on_call_when_it_fires_not_when_the_alert_was_raised(
    group, alice, bob, dave
):
    # Secondary hands over daily at 09:03: Bob is on when the alert is raised
    # at 09:00, Dave when the Secondary step fires at 09:05.
    schedule = make_schedule(group)
    add_rotation(schedule, [alice], role=PRIMARY, start=date(2026, 3, 1))
    add_rotation(
        schedule,
        [bob, dave],
        role=SECONDARY,
        start=date(2026, 3, 1),
        handoff=time(9, 3),
        unit="days",
    )
    alert = open_alert(group, T0)

    assert engine.run_due(T0) == 1
    assert engine.run_due(T0 + minutes(5)) == 1

    assert paged(alert) == ["alice", "dave"]


def test_a_late_step_pages_the_person_on_call_when_it_actually_fires(group, alice, bob, dave):
    schedule = make_schedule(group)
    add_rotation(schedule, [alice], role=PRIMARY, start=date(2026, 3, 1))
    add_rotation(
        schedule,
        [bob, dave],
        role=SECONDARY,
        start=date(2026, 3, 1),
        handoff=time(9, 7),
        unit="days",
    )
    alert = open_alert(group, T0)
    engine.run_due(T0)

    # The Secondary step was due at 09:05 but the engine only ran at 09:08.
    assert engine.run_due(T0 + minutes(8)) == 1

    assert paged(alert) == ["alice", "dave"]


def test_manager_still_comes_from_the_membership(group, alice, bob, dave, erin):
    schedule = make_schedule(group)
    add_rotation(schedule, [dave], role=PRIMARY, start=date(2026, 3, 1))
    add_rotation(schedule, [erin], role=SECONDARY, start=date(2026, 3, 1))
    alert = open_alert(group, T0)

    for m in (0, 5, 15):
        assert engine.run_due(T0 + minutes(m)) == 1

    assert paged(alert) == ["dave", "erin", "carol"]
    assert warnings(alert) == []


@pytest.mark.parametrize(("hour", "minute", "expected"), [(8, 59, "alice"), (9, 0, "dave")])
def test_weekly_berlin_handoff_after_the_spring_change(group, alice, dave, hour, minute, expected):
    # Monday 09:00 Europe/Berlin: on 30 March 2026, the first Monday of summer
    # time, that is 07:00 UTC (a week earlier it was 08:00 UTC). The alerts
    # come at 08:59:30 and 09:00:30 local.
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice, dave], role=PRIMARY, start=date(2026, 3, 23), handoff=time(9))
    at = wall("Europe/Berlin", 2026, 3, 30, hour, minute, 30)
    alert = open_alert(group, at)

    assert engine.run_due(at) == 1

    assert paged(alert) == [expected]


def test_one_alert_across_the_berlin_handoff_pages_outgoing_then_incoming(group, alice, dave):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [alice, dave], role=PRIMARY, start=date(2026, 3, 23), handoff=time(9))
    add_rotation(
        schedule, [alice, dave], role=SECONDARY, start=date(2026, 3, 23), handoff=time(9, 3)
    )
    at = wall("Europe/Berlin", 2026, 3, 30, 8, 59, 30)
    alert = open_alert(group, at)

    engine.run_due(at)  # Primary at 08:59:30 local: Alice's last seconds
    engine.run_due(at + minutes(5))  # Secondary at 09:04:30 local: Dave's turn since 09:03

    assert paged(alert) == ["alice", "dave"]


def test_nobody_on_call_falls_back_to_static_order_and_says_so(group, alice, dave):
    schedule = make_schedule(group)
    add_rotation(schedule, [dave], role=PRIMARY, start=date(2026, 4, 1))  # not started yet
    alert = open_alert(group, T0)

    assert engine.run_due(T0) == 1

    assert paged(alert) == ["alice"]
    assert warnings(alert) == [
        "Nobody is on call as Primary in Payments's schedule at Mon 02 Mar 09:00 UTC; "
        "paging the group's Primary members in static order instead: Alice."
    ]


def test_nobody_on_call_and_nobody_with_the_role_skips_the_step(group, alice, bob, dave):
    schedule = make_schedule(group, "Europe/Berlin")
    add_rotation(schedule, [dave], role=PRIMARY, start=date(2026, 4, 1))
    group.memberships.filter(user=alice).delete()
    alert = open_alert(group, T0)

    engine.run_due(T0)

    assert paged(alert) == ["bob"]
    messages = warnings(alert)
    assert (
        "Nobody is on call as Primary in Payments's schedule at Mon 02 Mar 10:00 "
        "Europe/Berlin, and no member of the group has the Primary role."
    ) in messages
    assert any("skipping step 1" in m for m in messages)


def test_a_schedule_without_secondary_layers_leaves_secondary_to_static_order(group, bob, dave):
    schedule = make_schedule(group)
    add_rotation(schedule, [dave], role=PRIMARY, start=date(2026, 3, 1))
    alert = open_alert(group, T0)

    engine.run_due(T0)
    engine.run_due(T0 + minutes(5))

    assert paged(alert) == ["dave", "bob"]
    assert warnings(alert) == [
        "Nobody is on call as Secondary in Payments's schedule at Mon 02 Mar 09:05 UTC; "
        "paging the group's Secondary members in static order instead: Bob."
    ]


def test_override_person_is_paged(group, alice, erin):
    schedule = make_schedule(group)
    add_rotation(schedule, [alice], role=PRIMARY, start=date(2026, 3, 1))
    add_override(schedule, erin, T0 - timedelta(hours=1), T0 + minutes(30), role=PRIMARY)
    during = open_alert(group, T0, key="during")
    after = open_alert(group, T0 + minutes(30), key="after")

    engine.run_due(T0)
    engine.run_due(T0 + minutes(30))

    assert paged(during, step=0) == ["erin"]
    assert paged(after, step=0) == ["alice"]


def test_override_in_place_of_the_secondary_is_paged_for_the_secondary_step(
    group, alice, bob, erin
):
    schedule = make_schedule(group)
    add_rotation(schedule, [alice], role=PRIMARY, start=date(2026, 3, 1))
    add_rotation(schedule, [bob], role=SECONDARY, start=date(2026, 3, 1))
    add_override(schedule, erin, T0, T0 + timedelta(hours=2), role=SECONDARY, replaces=bob)
    alert = open_alert(group, T0)

    engine.run_due(T0)
    engine.run_due(T0 + minutes(5))

    assert paged(alert) == ["alice", "erin"]
