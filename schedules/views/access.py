"""Who may change what on a schedule page.

Schedule managers (accounts.permissions) set up schedules and layers and may
arrange any override. A responder who is a member of the group may take a
shift or have somebody cover theirs: overrides that name themselves.
Everybody logged in may read.
"""

from django.http import HttpRequest

from accounts.models import User
from accounts.permissions import can_manage_schedules, manager_role_names
from groups.models import Group
from schedules import overrides
from schedules.models import Override

EVERYONE = "everyone"


def override_scope(user: User, group: Group) -> User | str | None:
    """EVERYONE for managers, the user themself for members, None when refused."""
    if can_manage_schedules(user):
        return EVERYONE
    if user.can_respond and group.memberships.filter(user=user).exists():
        return user
    return None


def may_change(scope: User | str | None, override: Override) -> bool:
    """Whether the holder of `scope` (override_scope) may edit or delete `override`."""
    if scope is None:
        return False
    return scope == EVERYONE or overrides.names(scope, override.user_id, override.replaces_id)


def refusal_for_layers() -> str:
    return (
        f"Only an {manager_role_names()} can set up schedules and their layers. "
        "You can still read the schedule and take or swap your own shifts."
    )


def refusal_for_overrides(request: HttpRequest, group: Group) -> str:
    if not request.user.can_respond:
        return "Stakeholders receive updates but cannot take on-call shifts."
    return (
        f"Only members of {group.name} can take or swap its shifts, and only an "
        f"{manager_role_names()} can arrange overrides for other people."
    )
