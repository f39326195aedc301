"""The generic JSON webhook: a documented, minimal event format.

{"summary": "Disk full on db-1",          required
 "dedup_key": "db-1/disk",                optional, at most 255 characters;
                                          without it every event is a new alert
 "severity": "critical",                  critical | error | warning | info
 "details": {"free": "0 B"},              any JSON object
 "source": "db-1",
 "action": "trigger"}                     trigger | acknowledge | resolve

An integration with a field mapping reads any JSON instead (parsers/mapped.py).
"""

import uuid
from typing import Any

from integrations.parsers import mapped
from integrations.parsers.base import (
    ACTIONS,
    SEVERITIES,
    NormalizedEvent,
    ParseError,
    check_dedup_key,
    optional_object,
    optional_str,
    require_object,
)


def parse(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    if integration is not None and integration.mapping:
        return mapped.parse(payload, integration.mapping)
    body = require_object(payload, "the body")
    action = optional_str(body, "action") or "trigger"
    if action not in ACTIONS:
        raise ParseError(f"field 'action' must be one of {', '.join(ACTIONS)}, not {action!r}")
    dedup_key = check_dedup_key(optional_str(body, "dedup_key"), "dedup_key")
    summary = optional_str(body, "summary").strip()
    if action == "trigger":
        if not summary:
            raise ParseError("field 'summary' is required and must be a non-empty string")
    elif not dedup_key:
        raise ParseError(f"field 'dedup_key' is required for action '{action}'")
    severity = optional_str(body, "severity") or "error"
    if severity not in SEVERITIES:
        raise ParseError(
            f"field 'severity' must be one of {', '.join(SEVERITIES)}, not {severity!r}"
        )
    return [
        NormalizedEvent(
            action=action,
            dedup_key=dedup_key or uuid.uuid4().hex,
            summary=summary,
            severity=severity,
            details=optional_object(body, "details"),
            source=optional_str(body, "source"),
        )
    ]
