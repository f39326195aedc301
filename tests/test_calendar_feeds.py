"""Calendar feeds: the .ics text, the two secret addresses, and rotating them."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.contrib.messages import get_messages

from groups.models import Group
from schedules import ical, oncall
from schedules.models import (
    Override,
    Restriction,
    Schedule,
    ShiftUnit,
    UserFeed,
)
from tests.conftest import T0
from tests.schedule_helpers import add_rotation


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def feed_path(schedule: Schedule) -> str:
    return f"/calendar/schedule/{schedule.feed_token}.ics"


def parse(response) -> icalendar.Calendar:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.content.decode())


def vevents(calendar: icalendar.Calendar) -> list:
    return list(calendar.walk("VEVENT"))


@pytest.fixture
def weekly(group, alice, bob) -> Schedule:
    """Payments in Europe/Berlin: Alice then Bob, a week each from Monday 2 March 09:00."""
    schedule = Schedule.objects.create(group=group, time_zone="Europe/Berlin")
    add_rotation(schedule, [alice, bob])
    return schedule


def test_schedule_feed_is_a_valid_published_calendar(client, now, weekly):
    response = client.get(feed_path(weekly))
    calendar = parse(response)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == ical.PRODID
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["X-WR-CALNAME"] == "Payments On-Call"
    assert calendar["X-WR-TIMEZONE"] == "Europe/Berlin"
    body = response.content
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b""), "every line ends with CRLF"
    first = vevents(calendar)[0]
    assert first["SUMMARY"] == "Alice: Primary (Payments On-Call)"
    assert (
        first["DESCRIPTION"]
        == "Rotation layer “primary layer 1” in Payments's schedule (Europe/Berlin)."
    )
    assert first["TRANSP"] == "TRANSPARENT"
    assert first["DTSTAMP"].dt == T0


def test_events_are_in_utc_across_the_berlin_dst_change(client, now, weekly):
    body = client.get(feed_path(weekly)).content.decode()
    events = vevents(icalendar.Calendar.from_ical(body))
    spans = [(e["DTSTART"].dt, e["DTEND"].dt, str(e["SUMMARY"]).split(":")[0]) for e in events]
    # Clocks go forward on Sunday 29 March: Monday 09:00 is 08:00Z before, 07:00Z after.
    assert spans[:5] == [
        (berlin(2026, 3, 2, 9), berlin(2026, 3, 9, 9), "Alice"),
        (berlin(2026, 3, 9, 9), berlin(2026, 3, 16, 9), "Bob"),
        (berlin(2026, 3, 16, 9), berlin(2026, 3, 23, 9), "Alice"),
        (berlin(2026, 3, 23, 9), berlin(2026, 3, 30, 9), "Bob"),
        (berlin(2026, 3, 30, 9), berlin(2026, 4, 6, 9), "Alice"),
    ]
    assert "DTSTART:20260323T080000Z\r\nDTEND:20260330T070000Z\r\n" in body
    assert "DTSTART:20260330T070000Z\r\n" in body
    assert all(e["DTSTART"].dt.utcoffset() == timedelta(0) for e in events)
    assert "TZID" not in body


def test_uids_are_stable_between_renders_and_unique(client, now, weekly, carol):
    Override.objects.create(
        schedule=weekly,
        role="primary",
        user=carol,
        starts_at=berlin(2026, 3, 12, 18),
        ends_at=berlin(2026, 3, 13, 8),
    )
    first = vevents(parse(client.get(feed_path(weekly))))
    now.value = T0 + timedelta(hours=5)
    second = vevents(parse(client.get(feed_path(weekly))))
    uids = [str(e["UID"]) for e in first]
    assert uids == [str(e["UID"]) for e in second]
    assert len(uids) == len(set(uids)) > 20
    assert first[0]["DTSTAMP"].dt != second[0]["DTSTAMP"].dt
    assert f"@schedule-{weekly.pk}." in uids[0]


def test_clipped_first_event_keeps_its_uid_within_a_day(now, weekly):
    """The window starts at midnight UTC, so the first (clipped) shift's UID holds all day."""
    now.value = datetime(2026, 5, 20, 0, 5, tzinfo=UTC)
    morning = ical.schedule_calendar(weekly, now.value)
    evening = ical.schedule_calendar(weekly, now.value + timedelta(hours=23))
    first = vevents(icalendar.Calendar.from_ical(morning))[0]
    assert first["DTSTART"].dt == datetime(2026, 4, 20, tzinfo=UTC)
    assert first["UID"] == vevents(icalendar.Calendar.from_ical(evening))[0]["UID"]


def test_text_is_escaped_and_lines_are_folded(client, now, weekly, alice, bob, carol):
    alice.full_name = "Patel, Priya; SRE\\Ops"
    alice.save()
    bob.full_name = "Maximilian Alexander Fitzgerald-Montgomery von Hohenzollern-Sigmaringen Zoë"
    bob.save()
    Override.objects.create(
        schedule=weekly,
        role="primary",
        user=carol,
        replaces=bob,
        starts_at=berlin(2026, 3, 10, 9),
        ends_at=berlin(2026, 3, 11, 9),
        note="Bob at the dentist; back Wednesday,\nask Carol",
    )
    response = client.get(feed_path(weekly))
    raw = response.content
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode()  # no UTF-8 character is split across a fold
    assert b"SUMMARY:Patel\\, Priya\\; SRE\\\\Ops: Primary (Payments On-Call)" in raw
    assert b"\r\n " in raw, "the long summary was folded"
    events = vevents(parse(response))
    summaries = {str(e["SUMMARY"]) for e in events}
    assert "Patel, Priya; SRE\\Ops: Primary (Payments On-Call)" in summaries
    assert f"{bob.full_name}: Primary (Payments On-Call)" in summaries
    override = next(e for e in events if str(e["SUMMARY"]).startswith("Carol"))
    assert override["DESCRIPTION"] == (
        "Override in Payments's schedule (Europe/Berlin), standing in for "
        f"{bob.full_name}.\nNote: Bob at the dentist; back Wednesday,\nask Carol"
    )


def test_fold_and_escape_by_the_octet():
    assert ical.escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"
    line = "SUMMARY:" + "é" * 100
    folded = ical.fold(line).split("\r\n")
    assert all(len(part.encode()) <= 75 for part in folded)
    assert all(part.startswith(" ") for part in folded[1:])
    assert "".join([folded[0]] + [p[1:] for p in folded[1:]]) == line
    assert ical.fold("X" * 75) == "X" * 75


def test_gaps_are_not_events(client, now, group, alice):
    """Business hours only: nights, weekends and the empty Secondary role are gaps."""
    schedule = Schedule.objects.create(group=group, time_zone="UTC")
    rotation = add_rotation(schedule, [alice], start=date(2026, 3, 9))
    Restriction.objects.create(
        rotation=rotation, weekdays="01234", start_time=time(9), end_time=time(17)
    )
    events = vevents(parse(client.get(feed_path(schedule))))
    start, end = ical.window(T0)
    expected = [s for s in oncall.final_schedule(schedule, start, end) if not s.is_gap and s.user]
    assert len(events) == len(expected) > 100
    assert all(e["DTEND"].dt - e["DTSTART"].dt == timedelta(hours=8) for e in events)
    assert all(e["DTSTART"].dt.weekday() < 5 for e in events)
    assert events[0]["DTSTART"].dt == datetime(2026, 3, 9, 9, tzinfo=UTC)
    assert not [e for e in events if "Secondary" in str(e["SUMMARY"])]


def test_user_feed_has_only_that_persons_shifts_across_schedules(
    client, now, weekly, alice, bob, carol
):
    search = Schedule.objects.create(group=Group.objects.create(name="Search"), time_zone="UTC")
    add_rotation(search, [bob, alice], role="secondary", unit=ShiftUnit.DAYS)
    billing = Schedule.objects.create(group=Group.objects.create(name="Billing"), time_zone="UTC")
    add_rotation(billing, [carol])
    Override.objects.create(
        schedule=billing,
        role="primary",
        user=alice,
        starts_at=datetime(2026, 3, 4, 12, tzinfo=UTC),
        ends_at=datetime(2026, 3, 4, 20, tzinfo=UTC),
    )
    Schedule.objects.create(group=Group.objects.create(name="Quiet"), time_zone="UTC")
    token = ical.user_feed(alice).token

    calendar = parse(client.get(f"/calendar/user/{token}.ics"))

    assert calendar["X-WR-CALNAME"] == "Alice: on-call shifts"
    events = vevents(calendar)
    summaries = [str(e["SUMMARY"]) for e in events]
    assert all(s.startswith("Alice: ") for s in summaries)
    start, end = ical.window(T0)
    expected = sum(
        1
        for schedule in (weekly, search, billing)
        for s in oncall.final_schedule(schedule, start, end)
        if s.user == alice
    )
    assert len(events) == expected
    assert {s.split("(")[1] for s in summaries} == {
        "Payments On-Call)",
        "Search On-Call)",
        "Billing On-Call)",
    }
    assert "Alice: Primary (Billing On-Call)" in summaries
    assert "Alice: Secondary (Search On-Call)" in summaries
    starts = [e["DTSTART"].dt for e in events]
    assert starts == sorted(starts)
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_unknown_tokens_are_not_found(client, now, weekly):
    assert client.get("/calendar/schedule/not-a-token.ics").status_code == 404
    assert client.get("/calendar/user/not-a-token.ics").status_code == 404


def test_feeds_are_read_only(client, now, weekly, alice):
    assert client.post(feed_path(weekly)).status_code == 405
    assert client.head(feed_path(weekly)).status_code == 200
    token = ical.user_feed(alice).token
    assert client.post(f"/calendar/user/{token}.ics").status_code == 405


def test_a_deactivated_persons_feed_is_not_found(client, now, weekly, alice):
    token = ical.user_feed(alice).token
    alice.is_active = False
    alice.save()
    assert client.get(f"/calendar/user/{token}.ics").status_code == 404


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_schedule_managers_rotate_the_schedule_feed(client, request, now, weekly, who):
    old = feed_path(weekly)
    client.force_login(request.getfixturevalue(who))

    response = client.post(f"/groups/{weekly.group_id}/schedule/feed/rotate/")

    assert response.status_code == 302
    assert response["Location"] == f"/groups/{weekly.group_id}/schedule/"
    weekly.refresh_from_db()
    assert client.get(old).status_code == 404
    assert client.get(feed_path(weekly)).status_code == 200
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"http://testserver{feed_path(weekly)}" in message
    assert "old one has stopped working" in message


@pytest.mark.parametrize("who", ["bob", "stakeholder"])
def test_others_may_not_rotate_the_schedule_feed(client, request, now, weekly, who):
    token = weekly.feed_token
    client.force_login(request.getfixturevalue(who))

    response = client.post(f"/groups/{weekly.group_id}/schedule/feed/rotate/")

    assert response.status_code == 403
    assert "Only an Owner, App Admin or Group Admin" in response.content.decode()
    weekly.refresh_from_db()
    assert weekly.feed_token == token
    assert client.get(feed_path(weekly)).status_code == 200


def test_schedule_feed_rotation_needs_a_login_a_post_and_a_schedule(client, now, weekly, alice):
    url = f"/groups/{weekly.group_id}/schedule/feed/rotate/"
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    client.force_login(alice)
    assert client.get(url).status_code == 405
    no_schedule = Group.objects.create(name="Search")
    assert client.post(f"/groups/{no_schedule.pk}/schedule/feed/rotate/").status_code == 404
    assert client.post("/groups/999/schedule/feed/rotate/").status_code == 404
    token = weekly.feed_token
    weekly.refresh_from_db()
    assert weekly.feed_token == token


def test_a_person_rotates_their_own_feed(client, now, weekly, bob, alice):
    alices = ical.user_feed(alice).token
    client.force_login(bob)

    response = client.post("/profile/feed/rotate/")

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    first = UserFeed.objects.get(user=bob).token
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"http://testserver/calendar/user/{first}.ics" in message
    assert client.get(f"/calendar/user/{first}.ics").status_code == 200

    client.post("/profile/feed/rotate/")

    second = UserFeed.objects.get(user=bob).token
    assert second != first
    assert client.get(f"/calendar/user/{first}.ics").status_code == 404
    assert client.get(f"/calendar/user/{second}.ics").status_code == 200
    assert UserFeed.objects.get(user=alice).token == alices


def test_own_feed_rotation_needs_a_login_and_a_post(client, bob):
    response = client.post("/profile/feed/rotate/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    client.force_login(bob)
    assert client.get("/profile/feed/rotate/").status_code == 405
    assert not UserFeed.objects.exists()


def test_user_feed_is_made_once(alice):
    assert ical.user_feed(alice) == ical.user_feed(alice)
    assert UserFeed.objects.filter(user=alice).count() == 1
