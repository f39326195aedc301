"""Prometheus Alertmanager webhook, version 4: one alert per fingerprint.

The top-level `status` is not used: with `max_alerts` Alertmanager can say
"resolved" while some alerts still fire. Each entry of `alerts[]` speaks for
itself.
"""

from typing import Any

from integrations.parsers.base import (
    NormalizedEvent,
    ParseError,
    check_dedup_key,
    optional_object,
    optional_str,
    require_object,
)

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


def parse(payload: Any) -> list[NormalizedEvent]:
    body = require_object(payload, "the body")
    version = body.get("version")
    if version is not None and str(version) != "4":
        raise ParseError(f"field 'version' is {version!r}; only version 4 webhooks are supported")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise ParseError("field 'alerts' is required and must be a list")
    if not alerts:
        raise ParseError("field 'alerts' is empty")
    external_url = optional_str(body, "externalURL")
    return [_alert(entry, i, body, external_url) for i, entry in enumerate(alerts)]


def _alert(entry: Any, i: int, body: dict, external_url: str) -> NormalizedEvent:
    where = f"alerts[{i}]."
    entry = require_object(entry, f"alerts[{i}]")
    fingerprint = optional_str(entry, "fingerprint", where)
    if not fingerprint:
        raise ParseError(f"field '{where}fingerprint' is required")
    check_dedup_key(fingerprint, f"{where}fingerprint")
    status = entry.get("status")
    if status not in ("firing", "resolved"):
        raise ParseError(f"field '{where}status' must be 'firing' or 'resolved', not {status!r}")
    labels = optional_object(entry, "labels", where)
    annotations = optional_object(entry, "annotations", where)
    generator_url = optional_str(entry, "generatorURL", where)
    name = str(labels.get("alertname", ""))
    text = str(annotations.get("summary") or annotations.get("description") or "")
    summary = f"{name}: {text}" if name and text else (name or text or f"Alert {fingerprint}")
    severity = SEVERITY_WORDS.get(str(labels.get("severity", "")).lower(), "error")
    return NormalizedEvent(
        action="trigger" if status == "firing" else "resolve",
        dedup_key=fingerprint,
        summary=summary,
        severity=severity,
        details={
            "annotations": annotations,
            "startsAt": entry.get("startsAt"),
            "endsAt": entry.get("endsAt"),
            "generatorURL": generator_url,
            "receiver": body.get("receiver"),
            "groupKey": body.get("groupKey"),
            "externalURL": external_url,
        },
        source=str(labels.get("instance") or labels.get("job") or external_url),
        labels=labels,
        links=[{"href": generator_url, "text": "Source"}] if generator_url else [],
    )
