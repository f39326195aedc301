"""Building maintenance windows in tests, in a wall-clock zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

from integrations.models import MaintenanceWindow, Repeat
from tests.conftest import T0

BERLIN = ZoneInfo("Europe/Berlin")


def window(
    *,
    start: datetime,
    minutes: int,
    repeat: str = Repeat.ONCE,
    integration=None,
    group=None,
    reason: str = "Database upgrade",
    zone: str = "Europe/Berlin",
    **fields,
) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        reason=reason,
        integration=integration,
        group=group,
        time_zone=zone,
        starts_at=start,
        duration_minutes=minutes,
        repeat=repeat,
        created_at=T0,
        **fields,
    )
