"""The one shape every inbound parser produces."""

from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
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
