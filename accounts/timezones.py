"""Each person sees times in their own time zone."""

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import User

UTC = ZoneInfo("UTC")


def zone_of(user: User | None) -> ZoneInfo:
    """The user's time zone, or UTC when unset or unknown."""
    try:
        return ZoneInfo(user.time_zone) if user and user.time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


class UserTimeZoneMiddleware:
    """Show pages in the logged-in user's time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(zone_of(user))
        else:
            timezone.deactivate()
        return self.get_response(request)
