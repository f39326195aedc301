"""Who may send, and how much: keys (with rotation) and the per-minute rate limit."""

from datetime import datetime, timedelta

from django.db.models import Q

from alertops.lib.keys import new_key
from integrations.models import InboundEvent, Integration

DEFAULT_GRACE = timedelta(hours=24)
TOO_MANY = 429


def find(key: str, now: datetime) -> tuple[Integration | None, bool]:
    """The integration a key opens, and whether it is the previous key (in its grace)."""
    # No key has a NUL, and PostgreSQL refuses one in a query (a 503 senders retry).
    if not key or len(key) > 64 or "\x00" in key:
        return None, False
    match = Q(key=key) | Q(previous_key=key, previous_key_expires_at__gt=now)
    integration = (
        Integration.objects.select_related("group__escalation_policy").filter(match).first()
    )
    if integration is None:
        return None, False
    return integration, integration.key != key


def rotate(integration: Integration, now: datetime, grace: timedelta = DEFAULT_GRACE) -> str:
    """Give the integration a new key; the current one keeps working for `grace`."""
    integration.previous_key = integration.key if grace > timedelta(0) else ""
    integration.previous_key_expires_at = now + grace if grace > timedelta(0) else None
    integration.key = new_key()
    integration.save(update_fields=["key", "previous_key", "previous_key_expires_at"])
    return integration.key


def retry_after(integration: Integration, now: datetime) -> int | None:
    """Seconds until the next minute when this minute's requests are used up, else None.

    Counted from the inbound log, so every web process sees the same count;
    requests refused for the limit do not count, so a sender that keeps
    retrying is let in again at the next minute.
    """
    limit = integration.rate_limit_per_minute
    if not limit:
        return None
    window = now.replace(second=0, microsecond=0)
    used = (
        InboundEvent.objects.filter(integration=integration, received_at__gte=window)
        .exclude(status_code=TOO_MANY)
        .count()
    )
    if used < limit:
        return None
    return max(1, 60 - now.second)
