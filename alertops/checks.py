"""System checks that warn about settings unsafe in production."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}


def is_public_deployment() -> bool:
    """True when PUBLIC_BASE_URL points at a host other than this machine."""
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or ""
    return host not in LOCAL_HOSTS


def unsafe_production_settings() -> list[checks.CheckMessage]:
    """Warnings about DEBUG and the development secret key."""
    found = []
    if settings.DEBUG:
        found.append(
            checks.Warning(
                "DEBUG is on for a public deployment: error pages would show "
                "settings and code to anyone.",
                hint="Set DEBUG=false in the environment.",
                id="alertops.W001",
            )
        )
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        found.append(
            checks.Warning(
                "SECRET_KEY is the development default: anyone could forge "
                "responder links and sessions.",
                hint="Set SECRET_KEY to a long random value in the environment.",
                id="alertops.W002",
            )
        )
    return found


def public_deployment_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """With every command, when PUBLIC_BASE_URL names a public host."""
    return unsafe_production_settings() if is_public_deployment() else []


def deploy_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Under `manage.py check --deploy` (the other check covers public hosts)."""
    return [] if is_public_deployment() else unsafe_production_settings()


def register() -> None:
    checks.register(public_deployment_settings, checks.Tags.security)
    checks.register(deploy_settings, checks.Tags.security, deploy=True)
