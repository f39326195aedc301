"""Laying the final schedule out as a week or a month in the viewer's time zone.

Days are the viewer's days (a 23- or 25-hour day is drawn as the whole
row), and each bar's position is its share of that day. Every person gets a
colour that stays the same on every page (by their id); gaps are red.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from groups.models import Role
from schedules.oncall import ROLES, Shift
from schedules.timeline import to_instant

PALETTE_SIZE = 10


def colour_of(user) -> str:
    """The CSS class of a person's colour, the same on every page; "gap" for nobody."""
    return "gap" if user is None else f"p{user.pk % PALETTE_SIZE}"


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    midnight = datetime.combine(day, datetime.min.time())
    return to_instant(midnight, zone), to_instant(midnight + timedelta(days=1), zone)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Bar:
    shift: Shift
    left: float
    width: float
    colour: str


@dataclass
class Lane:
    role: str
    label: str
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Day:
    day: date
    start: datetime
    end: datetime
    is_today: bool
    now_left: float | None
    lanes: list[Lane]
    in_month: bool = True

    @property
    def people(self) -> list[tuple[str, list[Bar]]]:
        """Per role, the people on call that day (one bar per person) and gaps."""
        rows = []
        for lane in self.lanes:
            seen: dict[object, Bar] = {}
            for bar in lane.bars:
                key = bar.shift.user.pk if bar.shift.user else "gap"
                seen.setdefault(key, bar)
            rows.append((lane.label, list(seen.values())))
        return rows


def _lanes(shifts: list[Shift], start: datetime, end: datetime) -> list[Lane]:
    span = (end - start).total_seconds()
    lanes = []
    for role in ROLES:
        lane = Lane(role, Role(role).label)
        for shift in shifts:
            if shift.role != role or shift.end <= start or shift.start >= end:
                continue
            low, high = max(shift.start, start), min(shift.end, end)
            lane.bars.append(
                Bar(
                    shift=shift,
                    left=round((low - start).total_seconds() / span * 100, 3),
                    width=round((high - low).total_seconds() / span * 100, 3),
                    colour=colour_of(shift.user),
                )
            )
        lanes.append(lane)
    return lanes


def days(
    shifts: list[Shift], first: date, count: int, zone: ZoneInfo, now: datetime, month: int = 0
) -> list[Day]:
    """`count` days from `first`, each with its lanes of bars."""
    result = []
    today = now.astimezone(zone).date()
    for n in range(count):
        day = first + timedelta(days=n)
        start, end = day_bounds(day, zone)
        now_left = None
        if start <= now < end:
            now_left = round((now - start).total_seconds() / (end - start).total_seconds() * 100, 3)
        result.append(
            Day(
                day=day,
                start=start,
                end=end,
                is_today=day == today,
                now_left=now_left,
                lanes=_lanes(shifts, start, end),
                in_month=not month or day.month == month,
            )
        )
    return result


def week_window(anchor: date, zone: ZoneInfo) -> tuple[date, datetime, datetime]:
    first = monday_of(anchor)
    return first, day_bounds(first, zone)[0], day_bounds(first + timedelta(days=6), zone)[1]


def month_window(anchor: date, zone: ZoneInfo) -> tuple[date, int, datetime, datetime]:
    """The Monday-to-Sunday weeks holding the month of `anchor`."""
    first_of_month = anchor.replace(day=1)
    following = (first_of_month + timedelta(days=32)).replace(day=1)
    first = monday_of(first_of_month)
    last = monday_of(following - timedelta(days=1)) + timedelta(days=6)
    count = (last - first).days + 1
    return first, count, day_bounds(first, zone)[0], day_bounds(last, zone)[1]


def legend(shifts: list[Shift]) -> list[tuple[str, str]]:
    """(name, colour) of everybody in `shifts`, in order of first appearance."""
    seen: dict[int, tuple[str, str]] = {}
    for shift in sorted(shifts, key=lambda s: s.start):
        if shift.user is not None:
            seen.setdefault(shift.user.pk, (shift.user.display_name, colour_of(shift.user)))
    return list(seen.values())
