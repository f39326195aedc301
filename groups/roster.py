"""Who holds a role in a group, in static order."""

from accounts.models import User
from groups.models import Group, Role

ROLE_FLAG = {
    Role.PRIMARY: "is_primary",
    Role.SECONDARY: "is_secondary",
    Role.MANAGER: "is_manager",
}


def members_with_role(group: Group, role: str) -> list[User]:
    """Active members holding `role`, in position order."""
    flag = ROLE_FLAG[Role(role)]
    memberships = (
        group.memberships.filter(**{flag: True}, user__is_active=True)
        .select_related("user")
        .order_by("position", "id")
    )
    return [m.user for m in memberships]


def all_members(group: Group) -> list[User]:
    memberships = (
        group.memberships.filter(user__is_active=True)
        .select_related("user")
        .order_by("position", "id")
    )
    return [m.user for m in memberships]
