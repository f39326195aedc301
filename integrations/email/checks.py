"""System checks for inbound email: settings that would leave mail undelivered or open."""

from django.conf import settings
from django.core import checks

from alertops.checks import is_public_deployment

DEVELOPMENT_DOMAIN_SUFFIXES = (".localhost", ".local", ".invalid", ".test", ".example")


@checks.register(checks.Tags.security)
def inbound_email_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """With every command, when PUBLIC_BASE_URL names a public host."""
    return unsafe_inbound_email_settings() if is_public_deployment() else []


@checks.register(checks.Tags.security, deploy=True)
def inbound_email_deploy_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Under `manage.py check --deploy` (the other check covers public hosts)."""
    return [] if is_public_deployment() else unsafe_inbound_email_settings()


def unsafe_inbound_email_settings() -> list[checks.CheckMessage]:
    """A domain mail can reach, and a secret for the mail webhooks."""
    found = []
    domain = settings.INBOUND_EMAIL_DOMAIN.lower()
    if domain.endswith(DEVELOPMENT_DOMAIN_SUFFIXES):
        found.append(
            checks.Warning(
                f"INBOUND_EMAIL_DOMAIN is {settings.INBOUND_EMAIL_DOMAIN!r}, which no mail can "
                "reach: email integrations receive nothing, and replies to alert emails bounce.",
                hint="Set INBOUND_EMAIL_DOMAIN to the domain your ESP or mail server receives "
                "for this service.",
                id="integrations.W001",
            )
        )
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        found.append(
            checks.Warning(
                "ANYMAIL_WEBHOOK_SECRET is not set: anyone can post mail to the ESP inbound "
                "webhooks, and the raw-MIME endpoint /inbound/email/ refuses everything.",
                hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:password' and give the ESP "
                "https://user:password@<host>/anymail/<esp>/inbound/.",
                id="integrations.W002",
            )
        )
    return found
