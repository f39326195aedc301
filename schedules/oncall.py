"""Who is on call: the one question the escalation engine asks about people.

Until groups have schedules, a role's responders are the group's members with
that role in static order. The engine asks at the moment a step fires, so a
schedule added later changes who is paged without touching the engine.
"""

from datetime import datetime

from accounts.models import User
from groups import roster
from groups.models import Group


def responders(group: Group, role: str, at: datetime) -> list[User]:
    """The users to page for `role` in `group` at instant `at`."""
    return roster.members_with_role(group, role)
