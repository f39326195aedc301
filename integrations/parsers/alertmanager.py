"""Prometheus Alertmanager webhook, version 4: one alert per fingerprint.

The top-level `status` is not used: with `max_alerts` Alertmanager can say
"resolved" while some alerts still fire. Each entry of `alerts[]` speaks for
itself.
"""

from typing import Any

from integrations.parsers.base import (
    SEVERITY_WORDS,
    NormalizedEvent,
    ParseError,
    check_dedup_key,
    optional_object,
    optional_str,
    require_object,
)


def parse(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    body = require_object(payload, "the body")
    version = body.get("version")
    if version is not None and str(version) != "4":
        raise ParseError(f"field 'version' is {version!r}; only version 4 webhooks are supported")
    return events_of(body)


def events_of(body: dict, extra_links: tuple[tuple[str, str], ...] = ()) -> list[NormalizedEvent]:
    """One event per entry of `alerts[]`; Grafana's webhook has the same shape.

    `extra_links` are (field, text) pairs: per-alert URL fields shown as links.
    """
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise ParseError("field 'alerts' is required and must be a list")
    if not alerts:
        raise ParseError("field 'alerts' is empty")
    external_url = optional_str(body, "externalURL")
    return [_alert(entry, i, body, external_url, extra_links) for i, entry in enumerate(alerts)]


def _alert(
    entry: Any, i: int, body: dict, external_url: str, extra_links: tuple[tuple[str, str], ...]
) -> NormalizedEvent:
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
    links = [{"href": generator_url, "text": "Source"}] if generator_url else []
    details = {
        "annotations": annotations,
        "startsAt": entry.get("startsAt"),
        "endsAt": entry.get("endsAt"),
        "generatorURL": generator_url,
        "receiver": body.get("receiver"),
        "groupKey": body.get("groupKey"),
        "externalURL": external_url,
    }
    for name_, text_ in extra_links:
        url = optional_str(entry, name_, where)
        if url:
            links.append({"href": url, "text": text_})
            details[name_] = url
    return NormalizedEvent(
        action="trigger" if status == "firing" else "resolve",
        dedup_key=fingerprint,
        summary=summary,
        severity=severity,
        details=details,
        source=str(labels.get("instance") or labels.get("job") or external_url),
        labels=labels,
        links=links,
    )
