"""Pruning the inbound log: rows older than INBOUND_LOG_RETENTION_DAYS go.

Run daily by the q cluster (alertops/qcluster.py) and by
`manage.py prune_inbound_log`. Deleting in batches keeps each transaction
short, so ingest never waits long on SQLite's single writer.
"""

from datetime import datetime, timedelta

from django.conf import settings

from alertops.lib import clock
from integrations.models import InboundEvent

BATCH = 2000


def prune(now: datetime | None = None, days: int | None = None) -> int:
    """Delete log rows older than the retention; returns how many went."""
    now = now or clock.now()
    days = settings.INBOUND_LOG_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0  # 0 keeps the log forever
    cutoff = now - timedelta(days=days)
    removed = 0
    while True:
        ids = list(
            InboundEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return removed
        removed += InboundEvent.objects.filter(pk__in=ids).delete()[0]
