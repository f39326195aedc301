"""The schedule pages: calendar views, layer and override forms, taking shifts, permissions."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import recurrence
from django.test import Client
from django.urls import reverse

from accounts.models import PlatformRole
from groups.models import Membership
from schedules.models import Override, Restriction, Rotation, RotationMember, Schedule, ShiftUnit
from tests.conftest import make_user

# Monday 2 March 2026, 09:00 UTC (10:00 in Berlin).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def schedule(group, alice, bob):
    """Berlin, weekly Primary Alice then Bob from Mon 2 Mar 09:00; Secondary only weekdays."""
    schedule = Schedule.objects.create(group=group, time_zone="Europe/Berlin")
    weekly = Rotation.objects.create(
        schedule=schedule,
        name="Weekly Primary",
        role="primary",
        start_date=date(2026, 3, 2),
        handoff_time=time(9, 0),
        shift_unit=ShiftUnit.WEEKS,
    )
    RotationMember.objects.create(rotation=weekly, user=alice, position=0)
    RotationMember.objects.create(rotation=weekly, user=bob, position=1)
    office = Rotation.objects.create(
        schedule=schedule,
        name="Office Secondary",
        role="secondary",
        start_date=date(2026, 3, 2),
        handoff_time=time(9, 0),
        shift_unit=ShiftUnit.DAYS,
    )
    RotationMember.objects.create(rotation=office, user=bob, position=0)
    Restriction.objects.create(
        rotation=office, weekdays="01234", start_time=time(9), end_time=time(17)
    )
    return schedule


@pytest.fixture
def outsider(db):
    return make_user("dave", PlatformRole.BASIC)


def test_group_without_schedule_offers_to_create_one(group, alice, now):
    page = login(alice).get(reverse("schedule", args=[group.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "has no schedule" in body
    assert "Create a schedule" in body
    assert "(static order)" in body


def test_creating_a_schedule_refuses_an_unknown_zone(group, alice, now):
    client = login(alice)
    bad = client.post(reverse("schedule-settings", args=[group.pk]), {"time_zone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "is not a known IANA time zone" in bad.content.decode()
    assert not Schedule.objects.exists()
    good = client.post(reverse("schedule-settings", args=[group.pk]), {"time_zone": "Asia/Tokyo"})
    assert good.status_code == 302
    assert Schedule.objects.get(group=group).time_zone == "Asia/Tokyo"


def test_basic_user_cannot_create_a_schedule(group, bob, now):
    page = login(bob).post(reverse("schedule-settings", args=[group.pk]), {"time_zone": "UTC"})
    assert page.status_code == 403
    assert not Schedule.objects.exists()


def test_unknown_group_is_404(alice, now, db):
    assert login(alice).get(reverse("schedule", args=[999])).status_code == 404


def test_week_view_shows_the_on_call_person_and_gaps(schedule, group, alice, now):
    now.value = T0 + timedelta(hours=1)
    page = login(alice).get(reverse("schedule", args=[group.pk]), {"date": "2026-03-02"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Week of Mon 2 Mar 2026" in body
    assert "Europe/Berlin" in body
    # Alice holds Primary now; the Secondary layer leaves nights and the weekend empty.
    on_call = page.context["on_call"]
    assert on_call[0]["users"] == [alice]
    assert page.context["gaps_soon"], "the restricted Secondary layer leaves gaps"
    assert 'class="bar gap"' in body
    assert 'class="now"' in body
    assert len(page.context["days"]) == 7


def test_week_view_is_in_the_viewers_zone(schedule, group, alice, now):
    alice.time_zone = "America/New_York"
    alice.save()
    now.value = T0
    page = login(alice).get(reverse("schedule", args=[group.pk]), {"date": "2026-03-02"})
    body = page.content.decode()
    assert "your time zone, <b>America/New_York</b>" in body
    # The Berlin 09:00 handoff is 03:00 in New York.
    first_day = page.context["days"][0]
    primary = first_day.lanes[0]
    handoff = [b for b in primary.bars if b.shift.start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]
    assert handoff and handoff[0].left == pytest.approx(3 / 24 * 100, abs=0.01)


def test_month_view_lists_each_day(schedule, group, alice, now):
    now.value = T0
    page = login(alice).get(
        reverse("schedule", args=[group.pk]), {"view": "month", "date": "2026-03-15"}
    )
    assert page.status_code == 200
    weeks = page.context["weeks"]
    assert all(len(w) == 7 for w in weeks)
    days = [d.day for w in weeks for d in w]
    assert days[0] == date(2026, 2, 23) and days[-1] == date(2026, 4, 5)
    assert "March 2026" in page.content.decode()


def test_bad_date_falls_back_to_today(schedule, group, alice, now):
    now.value = T0
    page = login(alice).get(reverse("schedule", args=[group.pk]), {"date": "not-a-date"})
    assert page.status_code == 200
    assert page.context["first"] == date(2026, 3, 2)


def layer_post(**changes):
    data = {
        "name": "Nights",
        "role": "primary",
        "layer": "2",
        "start_date": "2026-03-02",
        "handoff_time": "18:00",
        "shift_unit": "days",
        "shift_length": "1",
        "end_date": "",
        "recurrence_text": "",
        "restriction-TOTAL_FORMS": "2",
        "restriction-INITIAL_FORMS": "0",
        "restriction-MIN_NUM_FORMS": "0",
        "restriction-MAX_NUM_FORMS": "14",
        "restriction-0-weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "restriction-0-start_time": "18:00",
        "restriction-0-end_time": "09:00",
    }
    data.update(changes)
    return data


def test_adding_a_layer_with_participants_and_restriction(schedule, group, alice, bob, now):
    now.value = T0
    client = login(alice)
    data = layer_post()
    data["participant"] = [str(bob.pk), str(alice.pk), str(bob.pk)]
    answer = client.post(reverse("layer-new", args=[group.pk]), data)
    assert answer.status_code == 302, answer.content.decode()
    layer = Rotation.objects.get(name="Nights")
    assert [m.user for m in layer.members.order_by("position")] == [bob, alice, bob]
    window = layer.restrictions.get()
    assert (window.weekdays, window.start_time, window.end_time) == ("0123456", time(18), time(9))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"shift_length": "0"}, "must be between 1 and 28"),
        ({"end_date": "2026-03-01"}, "The end date must be after the start date"),
        ({"shift_unit": "custom"}, "A custom rotation needs a rule"),
        ({"shift_unit": "custom", "recurrence_text": "FREQ=NOPE"}, "The rule could not be read"),
        ({"shift_unit": "custom", "recurrence_text": "RRULE:FREQ=MINUTELY"}, "once an hour"),
        ({"restriction-0-end_time": ""}, "needs both a start and an end time"),
        ({"handoff_time": "25:00"}, "Enter the handoff time as HH:MM"),
        ({"name": ""}, "Give the layer a name"),
    ],
)
def test_layer_form_says_what_is_wrong(schedule, group, alice, bob, now, changes, message):
    data = layer_post(**changes)
    data["participant"] = [str(bob.pk)]
    answer = login(alice).post(reverse("layer-new", args=[group.pk]), data)
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Rotation.objects.filter(name="Nights").exists()


def test_layer_needs_a_member_of_the_group(schedule, group, alice, outsider, now):
    data = layer_post()
    data["participant"] = [str(outsider.pk)]
    answer = login(alice).post(reverse("layer-new", args=[group.pk]), data)
    assert answer.status_code == 400
    assert "active member of Payments" in answer.content.decode()
    data["participant"] = []
    answer = login(alice).post(reverse("layer-new", args=[group.pk]), data)
    assert answer.status_code == 400
    assert "Choose at least one participant" in answer.content.decode()


def test_custom_layer_is_saved_with_its_rule(schedule, group, alice, bob, now):
    data = layer_post(shift_unit="custom", recurrence_text="RRULE:FREQ=WEEKLY;BYDAY=MO,TH")
    data["participant"] = [str(alice.pk), str(bob.pk)]
    assert login(alice).post(reverse("layer-new", args=[group.pk]), data).status_code == 302
    layer = Rotation.objects.get(name="Nights")
    assert recurrence.serialize(layer.recurrence) == "RRULE:FREQ=WEEKLY;BYDAY=MO,TH"
    edit = login(alice).get(reverse("layer-edit", args=[group.pk, layer.pk]))
    assert "FREQ=WEEKLY;BYDAY=MO,TH" in edit.content.decode()


def test_editing_and_deleting_a_layer(schedule, group, alice, bob, now):
    layer = schedule.rotations.get(name="Weekly Primary")
    client = login(alice)
    page = client.get(reverse("layer-edit", args=[group.pk, layer.pk]))
    assert page.status_code == 200
    assert page.context["editor"].form.participant_ids == [str(alice.pk), str(bob.pk)]
    data = layer_post(name="Weekly Primary", layer="1", handoff_time="09:00", shift_unit="weeks")
    data["participant"] = [str(bob.pk)]
    data["restriction-0-weekdays"] = []
    data["restriction-0-start_time"] = ""
    data["restriction-0-end_time"] = ""
    assert client.post(reverse("layer-edit", args=[group.pk, layer.pk]), data).status_code == 302
    layer.refresh_from_db()
    assert [m.user for m in layer.members.all()] == [bob]
    assert not layer.restrictions.exists()
    assert client.post(reverse("layer-delete", args=[group.pk, layer.pk])).status_code == 302
    assert not Rotation.objects.filter(pk=layer.pk).exists()


def test_basic_member_cannot_change_layers(schedule, group, bob, now):
    layer = schedule.rotations.first()
    client = login(bob)
    assert client.get(reverse("layer-new", args=[group.pk])).status_code == 403
    assert client.post(reverse("layer-delete", args=[group.pk, layer.pk])).status_code == 403
    assert Rotation.objects.filter(pk=layer.pk).exists()


def override_post(user, **changes):
    data = {
        "role": "primary",
        "user": str(user.pk),
        "replaces": "",
        "starts_at": "2026-03-03T20:00",
        "ends_at": "2026-03-04T08:00",
        "note": "",
    }
    data.update(changes)
    return data


def test_override_times_are_read_in_the_viewers_zone(schedule, group, alice, carol, now):
    now.value = T0
    alice.time_zone = "Europe/Berlin"
    alice.save()
    answer = login(alice).post(reverse("override-new", args=[group.pk]), override_post(carol))
    assert answer.status_code == 302
    override = Override.objects.get()
    assert override.starts_at == datetime(2026, 3, 3, 19, 0, tzinfo=UTC)
    assert override.created_by == alice


def test_overlapping_override_is_refused_in_words(schedule, group, alice, bob, carol, now):
    client = login(alice)
    first = client.post(reverse("override-new", args=[group.pk]), override_post(carol))
    assert first.status_code == 302
    answer = client.post(
        reverse("override-new", args=[group.pk]),
        override_post(bob, starts_at="2026-03-04T06:00", ends_at="2026-03-04T10:00"),
    )
    assert answer.status_code == 400
    assert "Carol already overrides Primary" in answer.content.decode()
    assert Override.objects.count() == 1
    # The other role is free.
    other = client.post(
        reverse("override-new", args=[group.pk]),
        override_post(bob, role="secondary", starts_at="2026-03-04T06:00"),
    )
    assert other.status_code == 302
    assert Override.objects.count() == 2


def test_override_must_end_after_it_starts(schedule, group, alice, carol, now):
    answer = login(alice).post(
        reverse("override-new", args=[group.pk]),
        override_post(carol, ends_at="2026-03-03T19:00"),
    )
    assert answer.status_code == 400
    assert "must end after it starts" in answer.content.decode()
    assert not Override.objects.exists()


def test_member_may_only_name_themselves(schedule, group, alice, bob, carol, now):
    client = login(bob)
    refused = client.post(reverse("override-new", args=[group.pk]), override_post(carol))
    assert refused.status_code == 400
    assert "only take a shift yourself" in refused.content.decode()
    taken = client.post(reverse("override-new", args=[group.pk]), override_post(bob))
    assert taken.status_code == 302
    cover = client.post(
        reverse("override-new", args=[group.pk]),
        override_post(
            carol, replaces=str(bob.pk), starts_at="2026-03-05T20:00", ends_at="2026-03-06T08:00"
        ),
    )
    assert cover.status_code == 302
    assert Override.objects.count() == 2


def test_outsider_and_stakeholder_cannot_override(schedule, group, outsider, stakeholder, now):
    for person in (outsider, stakeholder):
        answer = login(person).post(reverse("override-new", args=[group.pk]), override_post(person))
        assert answer.status_code == 403
    Membership.objects.create(group=group, user=stakeholder)
    answer = login(stakeholder).post(
        reverse("take-shift", args=[group.pk]),
        {"role": "primary", "start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()},
    )
    assert answer.status_code == 403
    assert "Stakeholders" in answer.content.decode()
    assert not Override.objects.exists()


def test_take_this_shift_makes_an_override_in_place_of_its_holder(schedule, group, alice, bob, now):
    now.value = T0
    start, end = T0, T0 + timedelta(days=7)
    answer = login(bob).post(
        reverse("take-shift", args=[group.pk]),
        {
            "role": "primary",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "replaces": str(alice.pk),
        },
    )
    assert answer.status_code == 302
    override = Override.objects.get()
    assert (override.user, override.replaces, override.starts_at) == (bob, alice, start)
    page = login(bob).get(reverse("schedule", args=[group.pk]))
    assert page.context["on_call"][0]["users"] == [bob]


def test_taking_a_shift_twice_is_refused(schedule, group, alice, bob, carol, now):
    now.value = T0
    post = {
        "role": "primary",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=4)).isoformat(),
    }
    login(bob).post(reverse("take-shift", args=[group.pk]), post)
    answer = login(carol).post(reverse("take-shift", args=[group.pk]), post, follow=True)
    assert "Not taken: Bob already overrides Primary" in answer.content.decode()
    assert Override.objects.count() == 1


def test_take_shift_with_garbage_says_so(schedule, group, bob, now):
    answer = login(bob).post(
        reverse("take-shift", args=[group.pk]), {"role": "primary", "start": "x"}, follow=True
    )
    assert "could not be read" in answer.content.decode()
    assert not Override.objects.exists()


def test_cover_for_me_link_prefills_the_form(schedule, group, alice, now):
    now.value = T0
    page = login(alice).get(reverse("schedule", args=[group.pk]))
    assert "Cover for me" in page.content.decode()
    form = login(alice).get(
        reverse("override-new", args=[group.pk]),
        {"role": "primary", "start": T0.isoformat(), "replaces": alice.pk},
    )
    assert form.context["form"].initial["replaces"] == alice.pk
    assert form.context["form"].initial["role"] == "primary"


def test_deleting_an_override(schedule, group, alice, bob, carol, now):
    override = Override.objects.create(
        schedule=schedule,
        role="primary",
        user=carol,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
    )
    assert (
        login(bob).post(reverse("override-delete", args=[group.pk, override.pk])).status_code == 403
    )
    assert (
        login(alice).post(reverse("override-delete", args=[group.pk, override.pk])).status_code
        == 302
    )
    assert not Override.objects.exists()


def test_group_page_and_dashboard_show_who_is_on_call(schedule, group, alice, bob, now):
    now.value = T0 + timedelta(days=7, hours=1)  # Bob's week
    client = login(alice)
    group_page = client.get(reverse("group-detail", args=[group.pk]))
    assert group_page.context["on_call"][0]["users"] == [bob]
    assert reverse("schedule", args=[group.pk]) in group_page.content.decode()
    home = client.get(reverse("home"))
    body = home.content.decode()
    assert "On call now" in body
    assert home.context["on_call_groups"][0]["rows"][0]["users"] == [bob]


def test_schedule_page_offers_both_feeds_and_the_report(schedule, group, bob, now):
    from schedules.models import UserFeed

    now.value = T0
    client = login(bob)
    page = client.get(reverse("schedule", args=[group.pk]))
    body = page.content.decode()
    assert f"/calendar/schedule/{schedule.feed_token}.ics" in body
    feed = UserFeed.objects.get(user=bob)
    assert f"/calendar/user/{feed.token}.ics" in body
    assert reverse("schedule-report", args=[group.pk]) in body
    # Only managers see the button that changes the schedule's address.
    assert reverse("schedule-feed-rotate", args=[group.pk]) not in body
    back = client.post(reverse("user-feed-rotate"), {"next": page.request["PATH_INFO"]})
    assert back["Location"] == reverse("schedule", args=[group.pk])
    assert UserFeed.objects.get(user=bob).token != feed.token
    elsewhere = client.post(reverse("user-feed-rotate"), {"next": "https://evil.example/"})
    assert elsewhere["Location"] == reverse("profile")


def test_override_longer_than_90_days_is_refused(schedule, group, alice, carol, now):
    now.value = T0
    answer = login(alice).post(
        reverse("override-new", args=[group.pk]),
        override_post(carol, ends_at="2026-07-01T08:00"),
    )
    assert answer.status_code == 400
    assert "at most 90 days" in answer.content.decode()
    assert not Override.objects.exists()


def test_an_override_that_is_already_over_is_refused(schedule, group, alice, bob, carol, now):
    now.value = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    answer = login(alice).post(reverse("override-new", args=[group.pk]), override_post(carol))
    assert answer.status_code == 400
    assert "That time is over" in answer.content.decode()
    taken = login(bob).post(
        reverse("take-shift", args=[group.pk]),
        {"role": "primary", "start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()},
        follow=True,
    )
    assert "Not taken: That time is over" in taken.content.decode()
    assert not Override.objects.exists()
