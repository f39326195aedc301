"""The dry-run form and its result table, shared by the group and policy pages.

The escalation itself is walked by escalation.dryrun.simulate, the engine's
own planner; this module only reads the form and lays the result out in the
viewer's time zone.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Channel
from accounts.timezones import zone_of
from alertops.lib import clock
from escalation.dryrun import simulate
from escalation.forms import DryRunForm
from escalation.models import EscalationPolicy, EventKind
from groups.models import Group


@dataclass(frozen=True)
class Row:
    at: datetime
    offset_minutes: int
    who: str
    channel: str
    address: str
    why: str


@dataclass(frozen=True)
class Note:
    at: datetime
    offset_minutes: int
    kind: str
    message: str


def _minutes(at: datetime, start: datetime) -> int:
    return int((at - start).total_seconds() // 60)


def context(
    request: HttpRequest,
    group: Group | None = None,
    policy: EscalationPolicy | None = None,
    groups: QuerySet[Group] | None = None,
) -> dict[str, Any]:
    """Template context for the dry-run section: the form, and the result once asked.

    Either `group` is fixed (the group page) or the viewer picks one of `groups`
    (the policy page). The form is submitted by GET: a dry run changes nothing.
    """
    zone = zone_of(request.user)
    submitted = "severity" in request.GET
    now = clock.now()
    initial = {"start": now.astimezone(zone).replace(second=0, microsecond=0)}
    form = DryRunForm(request.GET if submitted else None, groups=groups, initial=initial)
    result: dict[str, Any] = {
        "dry_form": form,
        "zone_name": zone.key,
        "dry_run": None,
        "dry_choose_group": groups is not None,
        "dry_no_group": groups is not None and not groups.exists(),
    }
    if not submitted or result["dry_no_group"] or not form.is_valid():
        return result
    start = form.cleaned_data["start"] or now
    target_group = group or form.cleaned_data["group"]
    run = simulate(target_group, form.cleaned_data["severity"], start, policy=policy)
    result["dry_run"] = {
        "group": target_group,
        "policy_name": run.policy_name,
        "policy_version": run.policy_version,
        "severity": form.cleaned_data["severity"],
        "start": start,
        "rows": [
            Row(
                page.due_at,
                _minutes(page.due_at, start),
                page.user.display_name,
                Channel(page.channel).label,
                page.contact.address,
                page.reason,
            )
            for page in run.pages
        ],
        # "Paging X via Y" notes repeat the rows; warnings and the ending remain.
        "notes": [
            Note(at, _minutes(at, start), kind, message)
            for at, kind, message in run.notes
            if kind != EventKind.ESCALATED
        ],
    }
    return result
