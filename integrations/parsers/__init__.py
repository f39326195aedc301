"""Inbound parsers, one module per integration kind, all returning NormalizedEvents."""

from collections.abc import Callable
from typing import Any

from integrations.parsers import alertmanager, webhook
from integrations.parsers.base import NormalizedEvent, ParseError

PARSERS: dict[str, Callable[[Any], list[NormalizedEvent]]] = {
    "alertmanager": alertmanager.parse,
    "webhook": webhook.parse,
}

__all__ = ["PARSERS", "NormalizedEvent", "ParseError"]
