"""PagerDuty Events API v2: alert events (`/v2/enqueue`) and change events.

An alert event is {routing_key, event_action, dedup_key, payload: {summary,
source, severity, timestamp, component, group, class, custom_details},
links, images, client, client_url}. A trigger needs summary, source and
severity, as PagerDuty's own API does; acknowledge and resolve need only the
dedup_key. A trigger without one gets a new key, which the answer returns.

A change event is {routing_key, payload: {summary, source, timestamp,
custom_details}, links}; it is recorded and opens no alert.
"""

import uuid
from typing import Any

from integrations.parsers.base import (
    ACTIONS,
    CHANGE,
    SEVERITIES,
    NormalizedEvent,
    ParseError,
    check_dedup_key,
    links_of,
    one_of,
    optional_list,
    optional_object,
    optional_str,
    optional_time,
    require_object,
)

MAX_SUMMARY_LENGTH = 1024


def parse(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    body = require_object(payload, "the body")
    action = one_of(optional_str(body, "event_action"), ACTIONS, "event_action")
    dedup_key = check_dedup_key(optional_str(body, "dedup_key"), "dedup_key")
    if action != "trigger":
        if not dedup_key:
            raise ParseError(f"field 'dedup_key' is required for event_action '{action}'")
        return [NormalizedEvent(action=action, dedup_key=dedup_key)]
    data = body.get("payload")
    if data is None:
        raise ParseError("field 'payload' is required for event_action 'trigger'")
    data = require_object(data, "field 'payload'")
    summary = _required(data, "summary")
    source = _required(data, "source")
    severity = one_of(_required(data, "severity"), SEVERITIES, "payload.severity")
    optional_time(data, "timestamp", "payload.")
    labels = {
        name: optional_str(data, name, "payload.")
        for name in ("component", "group", "class")
        if data.get(name) is not None
    }
    details: dict[str, Any] = {
        "custom_details": data.get("custom_details"),
        "timestamp": data.get("timestamp"),
        **labels,
    }
    images = _images(optional_list(body, "images"))
    if images:
        details["images"] = images
    links = links_of(optional_list(body, "links"), "links")
    client_url = optional_str(body, "client_url")
    if client_url:
        links.append({"href": client_url, "text": optional_str(body, "client") or client_url})
    for image in images:
        if image.get("href"):
            links.append({"href": image["href"], "text": image.get("alt") or "Image"})
    return [
        NormalizedEvent(
            action="trigger",
            dedup_key=dedup_key or uuid.uuid4().hex,
            summary=summary,
            severity=severity,
            details=details,
            source=source,
            labels=labels,
            links=links,
        )
    ]


def parse_change(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    body = require_object(payload, "the body")
    data = require_object(body.get("payload"), "field 'payload'")
    summary = _required(data, "summary")
    custom = optional_object(data, "custom_details", "payload.")
    return [
        NormalizedEvent(
            action=CHANGE,
            dedup_key="",
            summary=summary,
            source=optional_str(data, "source", "payload."),
            details=custom,
            links=links_of(optional_list(body, "links"), "links"),
            happened_at=optional_time(data, "timestamp", "payload."),
        )
    ]


def _required(data: dict[str, Any], name: str) -> str:
    value = optional_str(data, name, "payload.").strip()
    if not value:
        raise ParseError(f"field 'payload.{name}' is required")
    if name == "summary" and len(value) > MAX_SUMMARY_LENGTH:
        raise ParseError(
            f"field 'payload.summary' is {len(value)} characters long; "
            f"at most {MAX_SUMMARY_LENGTH} are allowed"
        )
    return value


def _images(items: list[Any]) -> list[dict[str, str]]:
    images = []
    for i, item in enumerate(items):
        item = require_object(item, f"field 'images[{i}]'")
        src = optional_str(item, "src", f"images[{i}].")
        if not src:
            raise ParseError(f"field 'images[{i}].src' is required")
        images.append(
            {
                "src": src,
                "href": optional_str(item, "href", f"images[{i}]."),
                "alt": optional_str(item, "alt", f"images[{i}]."),
            }
        )
    return images
