"""The gaps and fairness report: hours per person, nights, weekends, gaps, and its page."""

import html
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from groups.models import Group
from schedules import report as reports
from schedules.models import Override, Schedule, ShiftUnit
from tests.schedule_helpers import add_rotation


def at(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def numbers(result: reports.Report, user, role=None) -> tuple[float, float, float, int]:
    person = result.person(user)
    spent = person.total if role is None else person.roles[role]
    return spent.hours, spent.night_hours, spent.weekend_hours, spent.shifts


def test_hours_of_a_simple_weekly_rotation(group, alice, bob, carol):
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    add_rotation(schedule, [alice, bob])

    result = reports.report(schedule, utc(2026, 3, 2), utc(2026, 3, 16))

    # Alice: Mon 2 09:00 to Mon 9 09:00, seven full nights, one weekend.
    assert numbers(result, alice) == (168, 63, 48, 1)
    assert numbers(result, alice, "primary") == (168, 63, 48, 1)
    assert numbers(result, alice, "secondary") == (0, 0, 0, 0)
    # Bob: Mon 9 09:00 up to the window's end, Mon 16 00:00: six nights and two hours.
    assert numbers(result, bob) == (159, 56, 48, 1)
    assert result.person(carol) is None, "Carol is in no layer and took no shift"
    assert [p.user for p in result.people] == [alice, bob]
    assert result.covered["primary"].hours == 327
    assert result.window_hours == 336


def test_nights_and_weekends_are_read_on_the_schedules_clocks(group, alice, carol):
    """Friday 20:00 to Saturday 10:00 local: 9 hours of night, 10 of weekend."""
    for zone in ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"]:
        Schedule.objects.filter(group=group).delete()
        schedule = Schedule.objects.create(group=group, time_zone=zone)
        Override.objects.create(
            schedule=schedule,
            role="secondary",
            user=carol,
            starts_at=at(zone, 2026, 3, 6, 20),
            ends_at=at(zone, 2026, 3, 7, 10),
        )
        result = reports.report(schedule, at(zone, 2026, 3, 2), at(zone, 2026, 3, 9))
        assert numbers(result, carol, "secondary") == (14, 9, 10, 1), zone
        assert numbers(result, carol, "primary") == (0, 0, 0, 0), zone

    in_berlin = reports.report(
        schedule, utc(2026, 3, 2), utc(2026, 3, 9), ZoneInfo("Europe/Berlin")
    )
    # Los Angeles' Friday 20:00-Saturday 10:00 is Saturday 05:00-19:00 in Berlin.
    assert numbers(in_berlin, carol) == (14, 2, 14, 1)


def test_a_week_over_the_spring_dst_change_is_an_hour_short(group, alice, bob):
    schedule = Schedule.objects.create(group=group, time_zone="Europe/Berlin")
    add_rotation(schedule, [alice, bob], start=date(2026, 3, 23))

    result = reports.report(
        schedule, at("Europe/Berlin", 2026, 3, 23, 9), at("Europe/Berlin", 2026, 4, 6, 9)
    )

    # Mon 23 09:00 CET to Mon 30 09:00 CEST: 167 hours; Saturday night has 8 hours
    # (six nights of 9, one of 8), the weekend 47.
    assert numbers(result, alice) == (167, 62, 47, 1)
    assert numbers(result, bob) == (168, 63, 48, 1)
    assert {gap.role for gap in result.gaps} == {"secondary"}, "Primary is covered throughout"


def test_a_25_hour_day_counts_25_hours(group, alice, bob):
    schedule = Schedule.objects.create(group=group, time_zone="Europe/Berlin")
    add_rotation(schedule, [alice, bob], start=date(2026, 10, 24), unit=ShiftUnit.DAYS)

    result = reports.report(
        schedule, at("Europe/Berlin", 2026, 10, 24, 9), at("Europe/Berlin", 2026, 10, 26, 9)
    )

    # Clocks go back on Sunday 25 October, 03:00 -> 02:00.
    assert numbers(result, alice) == (25, 10, 25, 1)
    assert numbers(result, bob) == (24, 9, 15, 1)
    assert result.window_hours == 49


def test_gaps_are_listed_with_role_and_length(group, alice, bob):
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    add_rotation(schedule, [alice], start=date(2026, 3, 2), end=date(2026, 3, 9))
    add_rotation(schedule, [bob], role="secondary", start=date(2026, 3, 5), handoff=time(0))

    result = reports.report(schedule, utc(2026, 3, 2), utc(2026, 3, 12))

    assert [(g.role, g.start, g.end, g.hours) for g in result.gaps] == [
        ("primary", utc(2026, 3, 2), utc(2026, 3, 2, 9), 9),
        ("secondary", utc(2026, 3, 2), utc(2026, 3, 5), 72),
        ("primary", utc(2026, 3, 9), utc(2026, 3, 12), 72),
    ]
    assert result.gap_hours == 153
    assert all(g.user is None for g in result.gaps)


def test_upcoming_gaps_are_the_next_two_weeks_soonest_first(group, alice):
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    add_rotation(schedule, [alice], start=date(2026, 3, 2), end=date(2026, 3, 9))
    now = utc(2026, 3, 5, 12)

    gaps = reports.upcoming_gaps(schedule, now)

    assert [(g.role, g.start, g.end) for g in gaps] == [
        ("secondary", now, now + timedelta(days=14)),
        ("primary", utc(2026, 3, 9), now + timedelta(days=14)),
    ]
    shorter = reports.upcoming_gaps(schedule, now, days=3)
    assert [(g.role, g.start, g.end) for g in shorter] == [("secondary", now, utc(2026, 3, 8, 12))]


def test_a_layer_member_without_shifts_is_listed_with_zero(group, alice, bob):
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    add_rotation(schedule, [alice, bob], length=4)

    result = reports.report(schedule, utc(2026, 3, 2, 9), utc(2026, 3, 9, 9))

    assert numbers(result, bob) == (0, 0, 0, 0)
    [everyone, primary, secondary] = result.tables
    assert [(row[0], row[2]) for row in everyone["rows"]] == [(alice, 100), (bob, 0)]
    assert [row[0] for row in primary["rows"]] == [alice]
    assert secondary["rows"] == []


# -- the page -----------------------------------------------------------------


def page(client, group, query: str = ""):
    return client.get(f"/groups/{group.pk}/schedule/report/{query}")


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def weekly(group, alice, bob) -> Schedule:
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    add_rotation(schedule, [alice, bob])
    return schedule


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "stakeholder"])
def test_every_logged_in_role_may_read_the_report(client, request, now, weekly, who):
    client.force_login(request.getfixturevalue(who))

    response = page(client, weekly.group, "?start=2026-03-02&end=2026-03-16")

    assert response.status_code == 200
    body = text(response)
    assert "Payments: gaps and fairness" in body
    assert "From Mon 2 Mar 2026 00:00 up to Mon 16 Mar 2026 00:00" in body
    assert '<table class="list report">' in body
    assert "<td>Alice</td>" in body
    assert '<td class="num" data-label="On call">168 h</td>' in body
    assert '<td class="num" data-label="On call">159 h</td>' in body
    assert "2 gaps, 345 hours in all" in body
    assert "Mon 2 Mar 2026 00:00" in body


def test_the_default_window_is_the_last_30_days(client, now, weekly, bob):
    client.force_login(bob)
    body = text(page(client, weekly.group))
    assert 'value="2026-01-31"' in body
    assert 'value="2026-03-02"' in body
    assert "From Sat 31 Jan 2026 00:00 up to Mon 2 Mar 2026 00:00" in body


def test_the_page_lists_upcoming_gaps(client, now, weekly, bob):
    client.force_login(bob)
    body = text(page(client, weekly.group))
    assert "Gaps in the next 14 days" in body
    assert "Cover these with an override or a layer" in body
    upcoming = body.split("Gaps in the next 14 days")[1]
    assert "<td>Secondary</td>" in upcoming
    assert "Mon 2 Mar 2026 09:00" in upcoming
    assert 'Mon 16 Mar 2026 09:00 <span class="muted">(and beyond)</span>' in upcoming
    assert "<td>Primary</td>" not in upcoming


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?start=2026-03-02&end=2026-03-02", "The end date must be after the start date"),
        ("?start=2026-03-02&end=2026-03-01", "The end date must be after the start date"),
        ("?start=2025-03-01&end=2026-03-03", "at most 366 days, and this window has 367"),
        ("?start=2026-13-01&end=2026-03-03", "Enter a date as YYYY-MM-DD"),
        ("?start=&end=2026-03-03", "Enter a date as YYYY-MM-DD"),
    ],
)
def test_bad_windows_are_refused_in_words(client, now, weekly, bob, query, error):
    client.force_login(bob)
    response = page(client, weekly.group, query)
    assert response.status_code == 400
    body = text(response)
    assert error in body
    assert "Who was on call" not in body


def test_a_window_of_366_days_is_allowed(client, now, weekly, bob):
    client.force_login(bob)
    assert page(client, weekly.group, "?start=2025-03-02&end=2026-03-03").status_code == 200


def test_an_empty_schedule_says_what_to_do(client, now, group, bob):
    Schedule.objects.create(group=group, time_zone="UTC")
    client.force_login(bob)
    body = text(page(client, group))
    assert "Nobody was on call in this window and nobody is in a rotation layer yet" in body
    assert f'<a href="/groups/{group.pk}/schedule/">the schedule page</a>' in body


def test_the_report_needs_a_login_a_schedule_and_a_known_group(client, now, weekly, bob):
    response = page(client, weekly.group)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    client.force_login(bob)
    assert page(client, Group.objects.create(name="Search")).status_code == 404
    assert client.get("/groups/999/schedule/report/").status_code == 404
    assert client.post(f"/groups/{weekly.group_id}/schedule/report/").status_code == 405
