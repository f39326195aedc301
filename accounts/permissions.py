"""Who may do what, by platform role, and the page that says no.

Views ask these questions instead of comparing roles themselves, so a change
to who may edit policies is a change to one line here.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import PlatformRole, User

# Roles that set up escalation policies (after AlertOps: Group Admins manage
# their groups' escalation; Integrations Admins only integrations).
POLICY_MANAGER_ROLES = frozenset(
    {PlatformRole.OWNER, PlatformRole.APP_ADMIN, PlatformRole.GROUP_ADMIN}
)


def can_manage_policies(user: User) -> bool:
    """Create, edit and delete escalation policies."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.role in POLICY_MANAGER_ROLES


def manager_role_names() -> str:
    """The roles that may manage policies, in words: 'Owner, App Admin or Group Admin'."""
    names = [role.label for role in PlatformRole if role in POLICY_MANAGER_ROLES]
    return ", ".join(names[:-1]) + " or " + names[-1]


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    """A 403 page that says what was refused and who can help."""
    return render(request, "accounts/forbidden.html", {"message": message}, status=403)


def can_manage_schedules(user: User) -> bool:
    """Create schedules and edit their layers; anybody's overrides. The policy managers."""
    return can_manage_policies(user)


# Integrations hold the keys tools send with, and their log holds what tools
# sent: set up and read by Owners, App Admins and Integrations Admins.
INTEGRATION_MANAGER_ROLES = frozenset(
    {PlatformRole.OWNER, PlatformRole.APP_ADMIN, PlatformRole.INTEGRATIONS_ADMIN}
)


def can_manage_integrations(user: User) -> bool:
    """See, create and change integrations, their keys, and the inbound log."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.role in INTEGRATION_MANAGER_ROLES


def integration_manager_role_names() -> str:
    names = [role.label for role in PlatformRole if role in INTEGRATION_MANAGER_ROLES]
    return ", ".join(names[:-1]) + " or " + names[-1]
