"""Pruning the logs: inbound log rows, and outbound webhook deliveries that
are done (delivered or failed), older than INBOUND_LOG_RETENTION_DAYS go.

Run daily by the q cluster (alertops/qcluster.py) and by
`manage.py prune_inbound_log`. Deleting in batches keeps each transaction
short, so ingest never waits long on SQLite's single writer. A delivery
still pending or being sent is never pruned, however old.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from alertops.lib import clock
from integrations.models import DeliveryStatus, InboundEvent, WebhookDelivery

BATCH = 2000


def prune(now: datetime | None = None, days: int | None = None) -> int:
    """Delete log rows older than the retention; returns how many went."""
    now = now or clock.now()
    days = settings.INBOUND_LOG_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0  # 0 keeps the logs forever
    cutoff = now - timedelta(days=days)
    done = [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
    return _delete(InboundEvent.objects.filter(received_at__lt=cutoff)) + _delete(
        WebhookDelivery.objects.filter(created_at__lt=cutoff, status__in=done)
    )


def _delete(rows: QuerySet) -> int:
    removed = 0
    while True:
        ids = list(rows.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return removed
        removed += rows.model.objects.filter(pk__in=ids).delete()[0]
