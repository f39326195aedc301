"""Responder actions by name, shared by the dashboard and the responder page.

Each action validates its input, calls the alert service (whose conditional
updates make it race-safe) and says in words what happened.
"""

from dataclasses import dataclass
from datetime import datetime

from django.http import QueryDict

from accounts.models import User
from escalation import alerts
from escalation.models import Alert

NAMES = ("acknowledge", "resolve", "escalate", "assign", "note")
NOTE_MAX_LENGTH = 4000


class ActionError(Exception):
    """The request cannot be carried out as given (answered with a 400)."""


@dataclass
class Outcome:
    done: bool
    message: str


def assignable_users(alert: Alert) -> list[User]:
    """Who an alert can be handed to: active members of its group who can respond."""
    members = alert.group.memberships.select_related("user").order_by("position", "id")
    return [m.user for m in members if m.user.can_respond]


def perform(
    alert: Alert, action: str, data: QueryDict, actor: User | None, via: str, now: datetime
) -> Outcome:
    if action not in NAMES:
        raise ActionError(f"Unknown action {action!r}; expected one of {', '.join(NAMES)}.")
    state = alert.get_status_display().lower()
    if action == "acknowledge":
        if alerts.acknowledge(alert, now, by=actor, via=via):
            return Outcome(True, "Acknowledged. Escalation has stopped.")
        return Outcome(False, f"Nothing changed: the alert was already {state}.")
    if action == "resolve":
        if alerts.resolve(alert, now, by=actor, via=via):
            return Outcome(True, "Resolved.")
        return Outcome(False, f"Nothing changed: the alert was already {state}.")
    if action == "escalate":
        if alerts.escalate_now(alert, now, by=actor, via=via):
            return Outcome(True, "Escalated to the next step.")
        return Outcome(
            False, f"Nothing changed: the alert is {state} and has no further step to escalate to."
        )
    if action == "assign":
        raw = data.get("assignee", "")
        by_id = {str(u.pk): u for u in assignable_users(alert)}
        if raw not in by_id:
            raise ActionError("Choose who to assign the alert to (a member of its group).")
        if alerts.assign(alert, by_id[raw], now, by=actor, via=via):
            return Outcome(True, f"Assigned to {by_id[raw].display_name}; they are paged now.")
        return Outcome(False, f"Nothing changed: the alert is {state}.")
    text = data.get("text", "").strip()
    if not text:
        raise ActionError("Write the note's text before adding it.")
    if len(text) > NOTE_MAX_LENGTH:
        raise ActionError(f"A note can be at most {NOTE_MAX_LENGTH} characters long.")
    alerts.add_note(alert, text, now, by=actor)
    return Outcome(True, "Note added.")
