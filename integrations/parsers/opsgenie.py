"""Opsgenie's Alert API: create (`POST /v2/alerts`), and acknowledge, close
or add a note by alias or id (`POST /v2/alerts/<identifier>/<action>`).

Create takes {message, alias, description, priority P1-P5, tags, details,
entity, source, user, note}; the alias is the dedup key (without one, every
create opens a new alert, as in Opsgenie). Priorities become severities:
P1 critical, P2 and P3 (Opsgenie's default) error, P4 warning, P5 info.
"""

import uuid
from typing import Any

from integrations.parsers.base import (
    NOTE,
    NormalizedEvent,
    ParseError,
    check_dedup_key,
    one_of,
    optional_list,
    optional_object,
    optional_str,
    require_object,
)

PRIORITY_SEVERITY = {"P1": "critical", "P2": "error", "P3": "error", "P4": "warning", "P5": "info"}
DEFAULT_PRIORITY = "P3"
# The URL's last part -> our action, and Opsgenie's name for it in request status.
ACTIONS = {"acknowledge": "acknowledge", "close": "resolve", "notes": NOTE}
IDENTIFIER_TYPES = ("id", "alias", "tiny")


def parse(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    body = require_object(payload, "the body")
    message = optional_str(body, "message").strip()
    if not message:
        raise ParseError("field 'message' is required and must be a non-empty string")
    alias = check_dedup_key(optional_str(body, "alias"), "alias")
    priority = one_of(
        optional_str(body, "priority") or DEFAULT_PRIORITY, tuple(PRIORITY_SEVERITY), "priority"
    )
    tags = optional_list(body, "tags")
    if not all(isinstance(tag, str) for tag in tags):
        raise ParseError("field 'tags' must be a list of strings")
    extra = optional_object(body, "details")
    entity = optional_str(body, "entity")
    labels: dict[str, Any] = {str(k): v for k, v in extra.items()}
    labels.update({"priority": priority, "tags": tags})
    if entity:
        labels["entity"] = entity
    details = {
        "description": optional_str(body, "description"),
        "details": extra,
        "tags": tags,
        "priority": priority,
        "entity": entity,
        "responders": body.get("responders"),
        "actions": body.get("actions"),
    }
    return [
        NormalizedEvent(
            action="trigger",
            dedup_key=alias or uuid.uuid4().hex,
            summary=message,
            severity=PRIORITY_SEVERITY[priority],
            details={k: v for k, v in details.items() if v not in (None, "", [], {})},
            source=optional_str(body, "source") or entity,
            labels=labels,
            note=optional_str(body, "note"),
            actor=optional_str(body, "user"),
        )
    ]


def parse_action(
    payload: Any, action: str, identifier: str, identifier_type: str
) -> NormalizedEvent:
    """One acknowledge, close or note request; `payload` may be None (no body)."""
    body = require_object(payload if payload is not None else {}, "the body")
    if action not in ACTIONS:
        raise ParseError(f"'{action}' is not an alert action; use acknowledge, close or notes")
    kind = one_of(identifier_type or "id", IDENTIFIER_TYPES, "identifierType")
    note = optional_str(body, "note")
    if action == "notes" and not note.strip():
        raise ParseError("field 'note' is required and must be a non-empty string")
    event = NormalizedEvent(
        action=ACTIONS[action],
        dedup_key="",
        note=note,
        actor=optional_str(body, "user"),
        source=optional_str(body, "source"),
    )
    if kind == "alias":
        # "%00" in the URL: a NUL, which PostgreSQL refuses in a query (a 503 the
        # sender would retry forever); stored text has U+FFFD in its place.
        event.dedup_key = check_dedup_key(identifier.replace("\x00", "\ufffd"), "alias")
    elif identifier.isascii() and identifier.isdigit() and len(identifier) <= 18:
        event.alert_id = int(identifier)  # isascii: "²" is a digit to isdigit(), not to int()
    else:
        raise ParseError(
            f"no alert has id {identifier!r}: ids here are numbers; "
            "to name an alert by its alias, add ?identifierType=alias"
        )
    return event
