"""A heartbeat's ping: `GET` or `POST /in/<key>/`, with any body or none.

The body is not read: a cron job's `curl` may send anything. The ping says
the job ran; it resolves the alert a missed ping opened.
"""

from typing import Any

from integrations.parsers.base import PING, NormalizedEvent

# The dedup key of the alert a missed ping opens.
MISSED_KEY = "heartbeat-missed"


def parse(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    return [NormalizedEvent(action=PING, dedup_key=MISSED_KEY)]
