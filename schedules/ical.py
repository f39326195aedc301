"""Calendar feeds (RFC 5545): a schedule's shifts, or one person's, as iCalendar text.

Calendar apps subscribe to a secret address and fetch it again every so often,
so each render must describe the same shifts the same way: a shift's UID
depends only on the schedule, role, source, user and the shift's start, and
the window starts at a midnight (UTC), so a shift clipped by the window's
start keeps its UID for a whole day instead of changing every minute.

Every time is written in UTC ("Z" form): calendar apps show it in their own
zone, and no VTIMEZONE has to be kept in step with the zone database. Gaps
are not events; the schedule page and the report show them.

The first half of this module is pure text (escape, fold, render); the second
collects shifts from schedules.oncall and manages the secret tokens.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from accounts.models import User
from schedules import oncall
from schedules.models import Override, Schedule, UserFeed, new_feed_token

PRODID = "-//AlertOps//On-call schedules//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
LOOKBACK = timedelta(days=30)
LOOKAHEAD = timedelta(days=180)
# Calendar apps refresh at their own pace; this asks for at most hourly.
REFRESH = "PT1H"
MAX_OCTETS = 75
# TEXT may hold any character but the controls (HTAB aside); newlines are escaped.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# -- text -------------------------------------------------------------------


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newline escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return CONTROLS.sub("", value.replace("\t", " "))


def fold(line: str) -> str:
    """One content line folded (RFC 5545 3.1): at most 75 octets per physical line.

    Continuation lines start with a space; a UTF-8 character is never split.
    """
    pieces: list[str] = []
    current, size, limit = [], 0, MAX_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def utc(instant: datetime) -> str:
    """A DATE-TIME in UTC form: 20260302T090000Z."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str


def render(name: str, zone_name: str, events: Iterable[Event], stamp: datetime) -> str:
    """A whole VCALENDAR: CRLF line endings, folded lines, escaped text."""
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"X-WR-TIMEZONE:{escape_text(zone_name)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape_text(event.uid)}",
            f"DTSTAMP:{utc(stamp)}",
            f"DTSTART:{utc(event.start)}",
            f"DTEND:{utc(event.end)}",
            f"SUMMARY:{escape_text(event.summary)}",
            f"DESCRIPTION:{escape_text(event.description)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


# -- shifts as events ---------------------------------------------------------


def window(now: datetime) -> tuple[datetime, datetime]:
    """The feed's window: from midnight UTC 30 days ago to midnight after 180 days ahead."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - LOOKBACK, today + LOOKAHEAD + timedelta(days=1)


def calendar_name(schedule: Schedule) -> str:
    return f"{schedule.group.name} On-Call"


def uid(schedule: Schedule, shift: oncall.Shift) -> str:
    """Stable across renders: the same shift always gets the same UID."""
    user_id = shift.user.pk if shift.user else 0
    return (
        f"{utc(shift.start)}-{shift.role}-{shift.source}-u{user_id}@schedule-{schedule.pk}.alertops"
    )


def describe(schedule: Schedule, shift: oncall.Shift, notes: dict[int, str]) -> str:
    where = f"{schedule.group.name}'s schedule ({schedule.time_zone})"
    if shift.is_override:
        text = f"Override in {where}"
        if shift.replaced is not None:
            text += f", standing in for {shift.replaced.display_name}"
        text += "."
        note = notes.get(shift.source_id or 0)
        if note:
            text += f"\nNote: {note}"
        return text
    return f"Rotation layer “{shift.source_name}” in {where}."


def events_of(
    schedule: Schedule, shifts: Iterable[oncall.Shift], user: User | None = None
) -> list[Event]:
    """One event per shift that has somebody on call (only `user`'s when given)."""
    shifts = [
        s for s in shifts if not s.is_gap and (user is None or (s.user and s.user.pk == user.pk))
    ]
    override_ids = [s.source_id for s in shifts if s.is_override and s.source_id]
    notes = dict(Override.objects.filter(pk__in=override_ids).values_list("pk", "note"))
    name = calendar_name(schedule)
    return [
        Event(
            uid=uid(schedule, s),
            start=s.start,
            end=s.end,
            summary=f"{s.user.display_name}: {s.role_label} ({name})",
            description=describe(schedule, s, notes),
        )
        for s in shifts
        if s.user is not None
    ]


def schedule_calendar(schedule: Schedule, now: datetime) -> str:
    """Every shift of `schedule` in the feed window."""
    start, end = window(now)
    events = events_of(schedule, oncall.final_schedule(schedule, start, end))
    return render(calendar_name(schedule), schedule.time_zone, events, now)


def schedules_of(user: User, start: datetime, end: datetime) -> list[Schedule]:
    """The schedules that may put `user` on call between `start` and `end`."""
    return list(
        Schedule.objects.filter(
            Q(rotations__members__user=user)
            | Q(overrides__user=user, overrides__ends_at__gt=start, overrides__starts_at__lt=end)
        )
        .select_related("group")
        .distinct()
        .order_by("group__name", "pk")
    )


def user_calendar(user: User, now: datetime) -> str:
    """`user`'s own shifts across every schedule they appear in."""
    start, end = window(now)
    events: list[Event] = []
    for schedule in schedules_of(user, start, end):
        events += events_of(schedule, oncall.final_schedule(schedule, start, end), user)
    events.sort(key=lambda e: (e.start, e.uid))
    return render(f"{user.display_name}: on-call shifts", user.time_zone or "UTC", events, now)


# -- tokens and addresses -----------------------------------------------------


def user_feed(user: User) -> UserFeed:
    """The person's feed, made on first need."""
    feed, _ = UserFeed.objects.get_or_create(user=user)
    return feed


def rotate_schedule_token(schedule: Schedule) -> str:
    """A new secret address for the schedule's feed; the old one stops working."""
    schedule.feed_token = new_feed_token()
    schedule.save(update_fields=["feed_token", "updated_at"])
    return schedule.feed_token


def rotate_user_token(user: User) -> str:
    """A new secret address for the person's feed; the old one stops working."""
    feed, _ = UserFeed.objects.update_or_create(user=user, defaults={"token": new_feed_token()})
    return feed.token


def schedule_feed_url(schedule: Schedule) -> str:
    """The absolute address to subscribe to (PUBLIC_BASE_URL + path)."""
    return settings.PUBLIC_BASE_URL + reverse("schedule-feed", args=[schedule.feed_token])


def user_feed_url(user: User) -> str:
    return settings.PUBLIC_BASE_URL + reverse("user-feed", args=[user_feed(user).token])
