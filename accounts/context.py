"""What the signed-in user may see, for the navigation in every page."""

from django.http import HttpRequest

from accounts.permissions import can_manage_integrations


def permissions(request: HttpRequest) -> dict:
    return {"may_manage_integrations": can_manage_integrations(request.user)}
