"""Ingest: turn one inbound request into alerts, and log it.

A request is authenticated by its key, capped in size, parsed by its
integration's kind into normalized events, and applied in one transaction
together with its InboundEvent row. Nothing here pages anyone: the engine
picks new alerts up on its next tick.
"""

import json
import re
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
# No alert payload nests deeper; far deeper ones overflow the JSON decoder or
# the database's JSON functions, which would answer 500 or 503, never 400.
MAX_JSON_DEPTH = 64
# InboundEvent.body_size is an integer column; a declared Content-Length is not bounded.
MAX_RECORDED_BODY_SIZE = 2**31 - 1
# Text no database column takes: NUL (PostgreSQL refuses it) and unpaired
# surrogates from "\ud800"-style escapes (not encodable as UTF-8).
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


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
        # In dedup-key order, so requests naming the same alerts lock them in
        # the same order: in payload order they deadlock on PostgreSQL (503).
        order = sorted(range(len(events)), key=lambda i: events[i].dedup_key)
        applied = {i: _apply(integration, events[i], now) for i in order}
        results = [applied[i] for i in range(len(events))]
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
        # NaN and Infinity are not JSON, yet Python's json.dumps writes them;
        # kept as text, since no database JSON column accepts them as numbers.
        payload = json.loads(text, parse_constant=str)
    except json.JSONDecodeError as error:
        raise ParseError(
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise ParseError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
    return PARSERS[integration.kind](_storable(payload))


def _storable(value: Any, depth: int = 0) -> Any:
    """The payload with every string storable, so a stray character never costs an alert."""
    if depth > MAX_JSON_DEPTH:
        raise ParseError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, list):
        return [_storable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_storable_text(k): _storable(v, depth + 1) for k, v in value.items()}
    return value


def _storable_text(text: str) -> str:
    return UNSTORABLE_CHARACTERS.sub("\ufffd", text)


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
        content_type=_storable_text(request.content_type[:255]),
        body=_storable_text(body.decode("utf-8", errors="replace")),
        body_size=min(request.oversize or len(request.body), MAX_RECORDED_BODY_SIZE),
        outcome=outcome,
        message=message,
        results=results or [],
        alert_id=alert_id,
    )
