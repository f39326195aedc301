"""Maintenance windows: when they run, and what they do to alerts.

A window's first occurrence starts at `starts_at`; a repeating one starts
again at the same wall-clock time in the window's own time zone (django-
recurrence walks the local dates, each start is then placed in the zone),
so "daily 02:00 Europe/Berlin" stays at 02:00 across DST. An occurrence lasts
`duration_minutes` of real time.

A new alert that arrives while a window for its integration or its group
runs is held (escalation.alerts.Hold): it is recorded and shown, pages
nobody, and its first step is due when the window ends. Windows that follow
on from each other without a gap hold it to the end of the last. Whenever a
window is created, ended or deleted, the alerts it may concern are held
anew (`rehold`): an alert whose window is gone escalates at once.
Alerts that were already paging when a window starts go on paging: a
window is for the trouble it causes, not a way to silence what is known.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurrence
from django.db.models import Q

from escalation import alerts
from escalation.models import Alert, AlertStatus
from integrations.models import Integration, MaintenanceWindow, Repeat

FREQUENCIES = {
    Repeat.DAILY: recurrence.DAILY,
    Repeat.WEEKLY: recurrence.WEEKLY,
    Repeat.MONTHLY: recurrence.MONTHLY,
}
# Back-to-back windows are followed at most this far when holding an alert.
MAX_CHAINED = 20
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Occurrence:
    window: MaintenanceWindow
    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def zone(window: MaintenanceWindow) -> ZoneInfo:
    try:
        return ZoneInfo(window.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _starts(window: MaintenanceWindow, after: datetime, before: datetime) -> list[datetime]:
    """Starts (aware) of the window's occurrences with a local start in [after, before]."""
    tz = zone(window)
    first = window.starts_at.astimezone(tz).replace(tzinfo=None)
    if window.repeat == Repeat.ONCE:
        local = [first]
    else:
        local_after = after.astimezone(tz).replace(tzinfo=None)
        local_before = before.astimezone(tz).replace(tzinfo=None)
        if local_before < first:
            return []
        rules = recurrence.Recurrence(rrules=[recurrence.Rule(FREQUENCIES[window.repeat])])
        local = rules.between(max(local_after, first), local_before, dtstart=first, inc=True)
    last_day = window.repeat_until
    # In UTC from here on: aware arithmetic in the zone itself is wall-clock
    # arithmetic, and would make an occurrence across a DST change an hour off.
    return [
        start.replace(tzinfo=tz).astimezone(UTC)
        for start in local
        if last_day is None or start.date() <= last_day or start == first
    ]


def _occurrence(window: MaintenanceWindow, start: datetime) -> Occurrence | None:
    end = start + timedelta(minutes=window.duration_minutes)
    if window.ended_at is not None:
        end = min(end, window.ended_at)
    return Occurrence(window, start, end) if end > start else None


def occurrences(window: MaintenanceWindow, after: datetime, before: datetime) -> list[Occurrence]:
    """The window's occurrences that overlap [after, before), in order."""
    # An occurrence starting up to its length (plus a DST hour) before `after` may still run.
    reach = timedelta(minutes=window.duration_minutes) + timedelta(hours=2)
    found = []
    for start in _starts(window, after - reach, before):
        occurrence = _occurrence(window, start)
        if occurrence and occurrence.end > after and occurrence.start < before:
            found.append(occurrence)
    return found


def current(window: MaintenanceWindow, at: datetime) -> Occurrence | None:
    return next(
        (o for o in occurrences(window, at, at + timedelta(seconds=1)) if o.covers(at)), None
    )


def next_occurrence(window: MaintenanceWindow, at: datetime) -> Occurrence | None:
    """The first occurrence that starts after `at`."""
    if window.repeat == Repeat.ONCE:
        horizon = window.starts_at + timedelta(seconds=1)
    else:
        horizon = at + timedelta(days=32)
    if horizon <= at:
        return None
    return next((o for o in occurrences(window, at, horizon) if o.start > at), None)


def last_occurrence(window: MaintenanceWindow, at: datetime) -> Occurrence | None:
    """The latest occurrence that ended by `at`."""
    ended = [o for o in occurrences(window, at - timedelta(days=32), at) if o.end <= at]
    return ended[-1] if ended else None


def candidates(integration_id: int | None, group_id: int, at: datetime) -> list[MaintenanceWindow]:
    """Windows for the integration or the group that may run at or after `at`."""
    scope = Q(group_id=group_id)
    if integration_id is not None:
        scope |= Q(integration_id=integration_id)
    return list(
        MaintenanceWindow.objects.filter(scope, starts_at__lte=at + timedelta(days=1))
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .filter(Q(repeat_until__isnull=True) | Q(repeat_until__gte=at.date() - timedelta(days=32)))
        .select_related("integration", "group")
    )


def hold_for(integration_id: int | None, group_id: int, at: datetime) -> alerts.Hold | None:
    """The hold a new alert gets at `at`: until the windows running then are over."""
    windows = candidates(integration_id, group_id, at)
    running = [o for o in (current(w, at) for w in windows) if o is not None]
    if not running:
        return None
    first = max(running, key=lambda o: o.end)
    until = first.end
    for _ in range(MAX_CHAINED):
        following = [o for o in (current(w, until) for w in windows) if o is not None]
        if not following:
            break
        until = max(o.end for o in following)
    return alerts.Hold(until=until, reason=describe(first.window), window_id=first.window.pk)


def describe(window: MaintenanceWindow) -> str:
    return f"maintenance window {window.reason!r}"


def held_alerts(window: MaintenanceWindow, now: datetime) -> Iterable[Alert]:
    """Open alerts still waiting for a window of this window's integration or group."""
    scope = Q(maintenance_window=window)
    if window.integration_id:
        scope |= Q(integration_id=window.integration_id)
    else:
        scope |= Q(group_id=window.group_id)
    return Alert.objects.filter(scope, status=AlertStatus.OPEN, held_until__gt=now)


def rehold(window: MaintenanceWindow, now: datetime, why: str) -> int:
    """Hold the alerts this window may concern anew, after it changed. Returns how many moved."""
    moved = 0
    for alert in held_alerts(window, now):
        hold = hold_for(alert.integration_id, alert.group_id, now)
        moved += alerts.move_hold(alert, hold.until if hold else None, now, why)
    return moved


def end_now(window: MaintenanceWindow, now: datetime) -> int:
    """End the window (and stop it repeating); what it held escalates now."""
    MaintenanceWindow.objects.filter(pk=window.pk).update(ended_at=now)
    window.ended_at = now
    return rehold(window, now, f"{describe(window).capitalize()} was ended early")


def delete(window: MaintenanceWindow, now: datetime) -> int:
    """Delete the window; what it held escalates now."""
    why = f"{describe(window).capitalize()} was deleted"
    scope_window = MaintenanceWindow(
        pk=window.pk, integration_id=window.integration_id, group_id=window.group_id
    )
    window.delete()
    return rehold(scope_window, now, why)


@dataclass(frozen=True)
class Listed:
    window: MaintenanceWindow
    current: Occurrence | None
    next: Occurrence | None
    last: Occurrence | None
    held: int = 0


def listing(windows: Iterable[MaintenanceWindow], now: datetime) -> dict[str, list[Listed]]:
    """Windows as the page shows them: running now, planned, and past."""
    shown: dict[str, list[Listed]] = {"current": [], "planned": [], "past": []}
    for window in windows:
        running = current(window, now)
        upcoming = next_occurrence(window, now)
        if window.ended_at is not None and window.ended_at <= now:
            upcoming = None
        held = held_alerts(window, now).filter(maintenance_window=window).count() if running else 0
        item = Listed(window, running, upcoming, last_occurrence(window, now), held)
        shown["current" if running else "planned" if upcoming else "past"].append(item)
    shown["planned"].sort(key=lambda i: i.next.start)
    shown["past"].sort(key=lambda i: i.last.end if i.last else i.window.starts_at, reverse=True)
    return shown


def active_for_integration(integration: Integration, now: datetime) -> list[Occurrence]:
    """Occurrences running now for the integration or its group (for its page)."""
    windows = candidates(integration.pk, integration.group_id, now)
    return [o for o in (current(w, now) for w in windows) if o is not None]
