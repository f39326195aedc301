"""Alerts and engine health over the REST API."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import django_auth

from alertops.lib import clock
from escalation import ticker
from escalation.models import ACTIVE_STATUSES, Alert

router = Router(tags=["alerts"])


class AlertOut(Schema):
    id: int
    group: str
    summary: str
    severity: str
    status: str
    dedup_key: str
    duplicate_count: int
    created_at: datetime
    next_action_at: datetime | None
    # Set while a maintenance window holds the alert: nobody is paged before then.
    held_until: datetime | None
    hold_reason: str

    @staticmethod
    def resolve_group(alert: Alert) -> str:
        return alert.group.name


class HealthOut(Schema):
    engine: str
    database: str


@router.get("/alerts", response=list[AlertOut], auth=django_auth)
def active_alerts(request: HttpRequest):
    """Alerts that are open or acknowledged, newest first."""
    return Alert.objects.filter(status__in=ACTIVE_STATUSES).select_related("group")[:500]


@router.get("/health", response=HealthOut, tags=["health"])
def health(request: HttpRequest):
    """Whether a ticker holds a live lease (the engine is running)."""
    alive = ticker.lease_is_live(clock.now())
    return {"engine": "running" if alive else "stopped", "database": "ok"}
