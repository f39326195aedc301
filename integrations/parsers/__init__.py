"""Inbound parsers, one module per integration kind, all returning NormalizedEvents.

PARSERS is the one registry: how `POST /in/<key>/` reads a body, by the
integration's kind. Each parser takes the decoded JSON and the integration
(for its settings, such as a generic webhook's field mapping) and returns
one NormalizedEvent per alert the body speaks of, or raises ParseError
naming the field that is wrong.
"""

from collections.abc import Callable
from typing import Any

from integrations.parsers import alertmanager, grafana, heartbeat, opsgenie, pagerduty, webhook
from integrations.parsers.base import NormalizedEvent, ParseError

Parser = Callable[[Any, Any], list[NormalizedEvent]]

PARSERS: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "pagerduty": pagerduty.parse,
    "opsgenie": opsgenie.parse,
    "webhook": webhook.parse,
    "heartbeat": heartbeat.parse,
}

__all__ = ["PARSERS", "NormalizedEvent", "ParseError", "Parser"]
