"""The arithmetic of schedules: pure functions over plain data, no database.

Layer handoffs and restriction windows are wall-clock times in the
schedule's zone. `to_instant` turns one into a moment: the first instant at
which the zone's clocks show that time or later. So a time that exists once
is that moment; one that occurs twice (clocks go back) is its first
occurrence; one that never occurs (clocks jump forward) is the moment of the
jump. That map never runs backwards, which is what lets `on_call` and
`resolve` (the instant and the window view) agree by construction: both ask
the same boundaries.

Shift boundaries step in wall-clock time (a 24-hour shift is "until the
same time tomorrow"), so a shift over a 23-hour or 25-hour day still ends at
its handoff time, and a weekly "Monday 09:00" handoff stays at 09:00.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

GAP = "gap"
LAYER = "layer"
OVERRIDE = "override"


def local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time (naive) that `instant` shows in `zone`."""
    return instant.astimezone(zone).replace(tzinfo=None)


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clocks of `zone` show `wall` or later."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if local(first, zone) == wall:
        return first
    # `wall` falls in a forward jump, which happened after the reading with the
    # later offset (fold=1) and before `first`. Zones change on whole seconds.
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if local(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True)
class Window:
    """A restriction: active from `start` to `end` on windows starting on `days`."""

    days: frozenset[int]
    start: time
    end: time

    def span(self, day: date) -> tuple[datetime, datetime]:
        begin = datetime.combine(day, self.start)
        finish = datetime.combine(day, self.end)
        if finish <= begin:
            finish += timedelta(days=1)
        return begin, finish


@dataclass
class Layer:
    """One rotation layer, as the arithmetic needs it.

    `step` is the wall-clock length of a shift for hours, days and weeks;
    `rule` (a dateutil rrule or rruleset started at `start`) gives the
    boundaries of a custom rotation instead.
    """

    id: int
    role: str
    layer: int
    start: datetime
    users: Sequence[Any]
    step: timedelta | None = None
    rule: Any = None
    end: datetime | None = None
    windows: Sequence[Window] = ()
    _occurrences: list[datetime] = field(default_factory=list, repr=False)
    _exhausted: bool = field(default=False, repr=False)
    _iterator: Any = field(default=None, repr=False)
    # Layers are shared between the threads of a process (schedules.oncall keeps
    # them); extending the occurrences of a custom rule is done by one at a time.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def rank(self) -> tuple[int, int]:
        return (self.layer, self.id)

    # -- boundaries, in wall-clock time ------------------------------------

    def _fill_until(self, wall: datetime) -> None:
        """Extend the cached custom occurrences past `wall` (or to the rule's end)."""
        with self._lock:
            self._fill_locked(wall)

    def _fill_locked(self, wall: datetime) -> None:
        if self._exhausted:
            return
        if not self._occurrences:
            self._iterator = iter(self.rule)
            self._occurrences.append(self.start)
        while self._occurrences[-1] <= wall:
            try:
                occurrence = next(self._iterator)
            except StopIteration:
                self._exhausted = True
                return
            if occurrence > self._occurrences[-1]:
                self._occurrences.append(occurrence)

    def boundary(self, k: int) -> datetime | None:
        """Where shift k starts (wall clock); None past the end of a finite rule."""
        if self.step is not None:
            return self.start + k * self.step
        while len(self._occurrences) <= k and not self._exhausted:
            self._fill_until(self._occurrences[-1] if self._occurrences else self.start)
        return self._occurrences[k] if k < len(self._occurrences) else None

    def guess(self, wall: datetime) -> int:
        """A shift index near the one holding `wall`; `index_at` corrects it."""
        if wall < self.start:
            return 0
        if self.step is not None:
            return (wall - self.start) // self.step
        self._fill_until(wall)
        return max(bisect.bisect_right(self._occurrences, wall) - 1, 0)

    # -- instants ----------------------------------------------------------

    def index_at(self, instant: datetime, zone: ZoneInfo) -> int | None:
        """The shift k with instant(k) <= `instant` < instant(k + 1), or None before the first."""
        k = self.guess(local(instant, zone))
        while k > 0 and self._begins(k, zone) > instant:
            k -= 1
        if self._begins(0, zone) > instant:
            return None
        while True:
            following = self._begins(k + 1, zone)
            if following is None or following > instant:
                return k
            k += 1

    def _begins(self, k: int, zone: ZoneInfo) -> datetime | None:
        wall = self.boundary(k)
        return None if wall is None else to_instant(wall, zone)

    def user_at(self, instant: datetime, zone: ZoneInfo) -> Any:
        """Who this layer puts on call at `instant`, or None."""
        if not self.users:
            return None
        if self.end is not None and instant >= to_instant(self.end, zone):
            return None
        if self.windows and not self._in_window(instant, zone):
            return None
        k = self.index_at(instant, zone)
        if k is None:
            return None
        return self.users[k % len(self.users)]

    def _in_window(self, instant: datetime, zone: ZoneInfo) -> bool:
        today = local(instant, zone).date()
        for day in (today - timedelta(days=1), today):
            for window in self.windows:
                if day.weekday() not in window.days:
                    continue
                begin, finish = window.span(day)
                if to_instant(begin, zone) <= instant < to_instant(finish, zone):
                    return True
        return False

    def shifts(
        self, zone: ZoneInfo, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime, Any]]:
        """(start, end, user) of each shift inside [start, end), restricted and clipped."""
        if not self.users or start >= end:
            return []
        if self.end is not None:
            end = min(end, to_instant(self.end, zone))
        first = self.index_at(start, zone)
        k = 0 if first is None else first
        found: list[tuple[datetime, datetime, Any]] = []
        begins = self._begins(k, zone)
        while begins is not None and begins < end:
            following = self._begins(k + 1, zone)
            low, high = max(begins, start), end if following is None else min(following, end)
            if low < high:
                found.append((low, high, self.users[k % len(self.users)]))
            begins, k = following, k + 1
        if self.windows:
            found = _intersect(found, self._window_spans(zone, start, end))
        return found

    def _window_spans(
        self, zone: ZoneInfo, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        day = local(start, zone).date() - timedelta(days=1)
        last = local(end, zone).date()
        spans = []
        while day <= last:
            for window in self.windows:
                if day.weekday() in window.days:
                    begin, finish = window.span(day)
                    low, high = to_instant(begin, zone), to_instant(finish, zone)
                    if low < high:
                        spans.append((low, high))
            day += timedelta(days=1)
        return union(spans)


def union(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The spans merged where they meet or overlap, sorted."""
    merged: list[tuple[datetime, datetime]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _intersect(
    shifts: list[tuple[datetime, datetime, Any]], spans: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime, Any]]:
    result = []
    starts = [s[0] for s in spans]
    for low, high, user in shifts:
        i = max(bisect.bisect_right(starts, low) - 1, 0)
        while i < len(spans) and spans[i][0] < high:
            a, b = max(low, spans[i][0]), min(high, spans[i][1])
            if a < b:
                result.append((a, b, user))
            i += 1
    return result


@dataclass(frozen=True)
class Cover:
    """An override: `user` takes `role` over [start, end), only for `replaces` when set."""

    id: int
    role: str
    user: Any
    start: datetime
    end: datetime
    replaces: Any = None


class Slot(NamedTuple):
    """A stretch of one role's final schedule: who, from when to when, and why.

    A tuple, not a dataclass: a window of a busy schedule makes tens of
    thousands of them on the way to its answer.
    """

    role: str
    start: datetime
    end: datetime
    user: Any
    source: str
    source_id: int | None = None
    replaced: Any = None

    @property
    def is_gap(self) -> bool:
        return self.source == GAP


def layers_at(layers: Iterable[Layer], role: str, instant: datetime, zone: ZoneInfo) -> Any:
    """The layer user for `role` at `instant`: the highest layer with somebody on."""
    for layer in sorted((lay for lay in layers if lay.role == role), key=lambda x: x.rank)[::-1]:
        user = layer.user_at(instant, zone)
        if user is not None:
            return layer, user
    return None, None


def on_call(
    layers: Iterable[Layer], covers: Iterable[Cover], role: str, instant: datetime, zone: ZoneInfo
) -> Slot | None:
    """The slot of the final schedule holding `instant` for `role` (its bounds not computed)."""
    layers = list(layers)
    layer, layer_user = layers_at(layers, role, instant, zone)
    for cover in sorted(covers, key=lambda c: c.id, reverse=True):
        if cover.role != role or not (cover.start <= instant < cover.end):
            continue
        if cover.replaces is None or cover.replaces == layer_user:
            return Slot(role, instant, instant, cover.user, OVERRIDE, cover.id, layer_user)
    if layer is None:
        return None
    return Slot(role, instant, instant, layer_user, LAYER, layer.id)


def resolve(
    layers: Iterable[Layer],
    covers: Iterable[Cover],
    role: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> list[Slot]:
    """The final schedule of `role` over [start, end): every instant in exactly one slot."""
    painted: list[Slot] = []
    for layer in sorted((lay for lay in layers if lay.role == role), key=lambda x: x.rank):
        pieces = [
            Slot(role, low, high, user, LAYER, layer.id)
            for low, high, user in layer.shifts(zone, start, end)
        ]
        painted = _paint(painted, pieces)
    # Gaps included, so a cover names whom it replaces piece by piece, as on_call does.
    layered = _fill_gaps(painted, role, start, end)
    starts = [slot.start for slot in layered]
    # Overrides are laid on in batches that do not overlap each other (all of
    # them at once, when none overlap, as the forms ensure); a later batch holds
    # only later overrides, so the newest override wins where two meet.
    batch: list[Slot] = []
    taken: list[tuple[datetime, datetime]] = []
    for cover in sorted((c for c in covers if c.role == role), key=lambda c: c.id):
        low, high = max(cover.start, start), min(cover.end, end)
        if low >= high:
            continue
        pieces = [
            Slot(role, s.start, s.end, cover.user, OVERRIDE, cover.id, s.user)
            for s in _cut(layered, starts, low, high)
            if cover.replaces is None or s.user == cover.replaces
        ]
        if not pieces:
            continue
        if _overlaps(taken, low, high):
            painted = _paint(painted, sorted(batch, key=lambda x: x.start))
            batch, taken = [], []
        batch.extend(pieces)
        bisect.insort(taken, (low, high))
    painted = _paint(painted, sorted(batch, key=lambda x: x.start))
    return _merge(_fill_gaps(painted, role, start, end))


def _overlaps(spans: list[tuple[datetime, datetime]], low: datetime, high: datetime) -> bool:
    """Whether [low, high) meets any of the sorted, disjoint `spans`."""
    i = bisect.bisect_left(spans, (low, low))
    return (i < len(spans) and spans[i][0] < high) or (i > 0 and spans[i - 1][1] > low)


def _cut(slots: list[Slot], starts: list[datetime], low: datetime, high: datetime) -> list[Slot]:
    """The parts of `slots` (sorted, disjoint, with their `starts`) inside [low, high)."""
    found = []
    i = max(bisect.bisect_right(starts, low) - 1, 0)
    while i < len(slots) and slots[i].start < high:
        s = slots[i]
        a, b = max(s.start, low), min(s.end, high)
        if a < b:
            found.append(s._replace(start=a, end=b))
        i += 1
    return found


def _paint(base: list[Slot], top: list[Slot]) -> list[Slot]:
    """`top` laid over `base` (both sorted and disjoint): top wins where they meet."""
    if not top:
        return base
    result: list[Slot] = list(top)
    j = 0
    for s in base:
        while j < len(top) and top[j].end <= s.start:
            j += 1
        if j == len(top) or top[j].start >= s.end:
            result.append(s)  # untouched
            continue
        cursor = s.start
        i = j
        while i < len(top) and top[i].start < s.end:
            if top[i].start > cursor:
                result.append(s._replace(start=cursor, end=top[i].start))
            cursor = max(cursor, top[i].end)
            i += 1
        if cursor < s.end:
            result.append(s._replace(start=cursor))
    result.sort(key=lambda x: x.start)
    return result


def _fill_gaps(slots: list[Slot], role: str, start: datetime, end: datetime) -> list[Slot]:
    result = []
    cursor = start
    for s in slots:
        if s.start > cursor:
            result.append(Slot(role, cursor, s.start, None, GAP))
        result.append(s)
        cursor = s.end
    if cursor < end:
        result.append(Slot(role, cursor, end, None, GAP))
    return result


def _merge(slots: list[Slot]) -> list[Slot]:
    merged: list[Slot] = []
    for s in slots:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.end == s.start
            and (last.user, last.source, last.source_id, last.replaced)
            == (s.user, s.source, s.source_id, s.replaced)
        ):
            merged[-1] = last._replace(end=s.end)
        else:
            merged.append(s)
    return merged
