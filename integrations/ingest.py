"""Ingest: turn one inbound request into alerts, and log it.

A request is authenticated by its key, capped in size, parsed by its
integration's kind into normalized events, and applied in one transaction
together with its InboundEvent row. Nothing here pages anyone: the engine
picks new alerts up on its next tick.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from escalation import alerts
from escalation.models import AlertStatus
from integrations.models import InboundEvent, Integration, Outcome
from integrations.parsers import PARSERS, NormalizedEvent, ParseError

# Outcomes by significance, for the one-word summary of a multi-alert request.
SIGNIFICANCE = [
    Outcome.CREATED,
    Outcome.RESOLVED,
    Outcome.ACKNOWLEDGED,
    Outcome.DUPLICATE,
    Outcome.IGNORED,
]
UNKNOWN_KEY_BODY_LIMIT = 4096


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Request:
    key: str
    body: bytes
    content_type: str = ""
    remote_addr: str | None = None
    # Set when the body was longer than the cap; `body` is then empty.
    oversize: int | None = None


def receive(request: Request, now: datetime) -> Reply:
    integration = Integration.objects.select_related("group").filter(key=request.key).first()
    if integration is None or not integration.enabled:
        why = "integration is disabled" if integration else "no integration has this key"
        _log(integration, request, now, Outcome.REJECTED, why, limit=UNKNOWN_KEY_BODY_LIMIT)
        return Reply(404, {"error": f"Unknown or disabled integration key: {why}."})
    if request.oversize is not None:
        cap = settings.INGEST_MAX_BODY_BYTES
        message = f"body of {request.oversize} bytes is over the {cap // 1024} KB limit"
        _log(integration, request, now, Outcome.REJECTED, message, limit=0)
        return Reply(413, {"error": f"Payload too large: {message}."})
    try:
        events = _parse(integration, request.body)
    except ParseError as error:
        _log(integration, request, now, Outcome.REJECTED, str(error))
        return Reply(400, {"error": str(error)})
    with transaction.atomic():
        results = [_apply(integration, event, now) for event in events]
        outcome = min((r["outcome"] for r in results), key=SIGNIFICANCE.index)
        first_alert = next((r["alert_id"] for r in results if r["alert_id"]), None)
        _log(integration, request, now, outcome, "", results=results, alert_id=first_alert)
        Integration.objects.filter(pk=integration.pk).update(last_received_at=now)
    return Reply(
        202, {"status": "accepted", "outcome": outcome, "results": results}, results=results
    )


def _parse(integration: Integration, body: bytes) -> list[NormalizedEvent]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParseError(f"the body is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise ParseError("the body is empty; a JSON object was expected")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    return PARSERS[integration.kind](payload)


def _apply(integration: Integration, event: NormalizedEvent, now: datetime) -> dict[str, Any]:
    def result(outcome: str, alert_id: int | None, message: str = "") -> dict[str, Any]:
        return {
            "dedup_key": event.dedup_key,
            "outcome": str(outcome),
            "alert_id": alert_id,
            "message": message,
        }

    if event.action == "trigger":
        alert, created = alerts.raise_alert(
            integration.group,
            alerts.AlertInput(
                summary=event.summary,
                dedup_key=event.dedup_key,
                severity=event.severity,
                details=event.details,
                source=event.source,
                labels=event.labels,
                links=event.links,
            ),
            now,
            integration_id=integration.pk,
            actor_label=integration.name,
        )
        return result(Outcome.CREATED if created else Outcome.DUPLICATE, alert.pk)

    alert = alerts.find_active(integration.pk, event.dedup_key)
    if alert is None:
        return result(Outcome.IGNORED, None, f"no open alert has dedup key {event.dedup_key!r}")
    if event.action == "acknowledge":
        if alerts.acknowledge(alert, now, actor_label=integration.name, via=integration.name):
            return result(Outcome.ACKNOWLEDGED, alert.pk)
        return result(Outcome.IGNORED, alert.pk, f"alert is already {AlertStatus(alert.status)}")
    alerts.resolve(alert, now, actor_label=integration.name, via=integration.name)
    return result(Outcome.RESOLVED, alert.pk)


def _log(
    integration: Integration | None,
    request: Request,
    now: datetime,
    outcome: str,
    message: str,
    results: list[dict[str, Any]] | None = None,
    alert_id: int | None = None,
    limit: int | None = None,
) -> InboundEvent:
    body = request.body if limit is None else request.body[:limit]
    return InboundEvent.objects.create(
        integration=integration,
        received_at=now,
        remote_addr=request.remote_addr,
        content_type=request.content_type[:255],
        body=body.decode("utf-8", errors="replace"),
        body_size=request.oversize or len(request.body),
        outcome=outcome,
        message=message,
        results=results or [],
        alert_id=alert_id,
    )
