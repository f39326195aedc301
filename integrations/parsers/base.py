"""The one shape every inbound parser produces, and the checks they share."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

# What a tool may ask of an alert. A parser may also produce NOTE (add to the
# timeline of an alert), CHANGE (a change event, which opens no alert) and PING.
ACTIONS = ("trigger", "acknowledge", "resolve")
NOTE = "note"
CHANGE = "change"
# A heartbeat's ping: the integration is alive; it resolves a "missed" alert.
PING = "ping"
SEVERITIES = ("critical", "error", "warning", "info")
# Severity words tools use, to ours.
SEVERITY_WORDS = {
    "critical": "critical",
    "page": "critical",
    "p1": "critical",
    "error": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
}
# Alert.dedup_key's max_length, and PagerDuty's limit for the same field.
MAX_DEDUP_KEY_LENGTH = 255


class ParseError(Exception):
    """The payload cannot be read; the message names the field and the problem."""


@dataclass
class NormalizedEvent:
    action: str
    dedup_key: str
    summary: str = ""
    severity: str = "error"
    details: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    # A note for the alert's timeline, with the action or alone (action NOTE).
    note: str = ""
    # Who the tool says acted (Opsgenie's `user`), for the timeline.
    actor: str = ""
    # Set when the tool names the alert by our id instead of a dedup key.
    alert_id: int | None = None
    # When it happened, by the tool's clock (change events).
    happened_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """The event as routing rules and previews see it."""
        return {
            "action": self.action,
            "dedup_key": self.dedup_key,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "labels": self.labels,
            "details": self.details,
        }


def require_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{where} must be a JSON object")
    return value


def optional_str(data: dict[str, Any], name: str, where: str = "") -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ParseError(f"field '{where}{name}' must be a string")
    return value


def optional_object(data: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(f"field '{where}{name}' must be a JSON object")
    return value


def check_dedup_key(value: str, name: str) -> str:
    if len(value) > MAX_DEDUP_KEY_LENGTH:
        raise ParseError(
            f"field '{name}' is {len(value)} characters long; "
            f"at most {MAX_DEDUP_KEY_LENGTH} are allowed"
        )
    return value


def optional_list(data: dict[str, Any], name: str, where: str = "") -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"field '{where}{name}' must be a list")
    return value


def links_of(items: list[Any], where: str) -> list[dict[str, str]]:
    """[{"href", "text"}] from a tool's list of links, each checked."""
    links = []
    for i, item in enumerate(items):
        item = require_object(item, f"field '{where}[{i}]'")
        href = optional_str(item, "href", f"{where}[{i}].")
        if not href:
            raise ParseError(f"field '{where}[{i}].href' is required")
        links.append({"href": href, "text": optional_str(item, "text", f"{where}[{i}].") or href})
    return links


def optional_time(data: dict[str, Any], name: str, where: str = "") -> datetime | None:
    text = optional_str(data, name, where)
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ParseError(
            f"field '{where}{name}' must be an ISO 8601 time with a UTC offset, not {text!r}"
        )
    return value


def one_of(value: str, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise ParseError(f"field '{name}' must be one of {', '.join(choices)}, not {value!r}")
    return value
