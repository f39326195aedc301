"""Ingest: turn one inbound request into alerts, and log it.

A request is authenticated by its key, capped in size, held to its
integration's rate limit, checked against its signature when it has one,
parsed into normalized events, routed, and applied in one transaction
together with its InboundEvent row. Nothing here pages anyone: the engine
picks new alerts up on its next tick.

The same steps serve every URL a tool posts to; an Endpoint says where the
key is, how the body is read and how the answer is shaped (PagerDuty's and
Opsgenie's clients each expect their own).
"""

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from escalation import alerts, signals
from escalation.models import Alert, AlertStatus
from integrations import maintenance, protection, routing
from integrations.models import ChangeEvent, InboundEvent, Integration, IntegrationKind, Outcome
from integrations.parsers import PARSERS, NormalizedEvent, ParseError, grafana
from integrations.parsers.base import CHANGE, NOTE, PING

# Outcomes by significance, for the one-word summary of a multi-alert request.
SIGNIFICANCE = [
    Outcome.CREATED,
    Outcome.RESOLVED,
    Outcome.ACKNOWLEDGED,
    Outcome.NOTED,
    Outcome.CHANGE,
    Outcome.PING,
    Outcome.DUPLICATE,
    Outcome.SUPPRESSED,
    Outcome.IGNORED,
]
UNKNOWN_KEY_BODY_LIMIT = 4096
LAST_RECEIVED_RESOLUTION = timedelta(seconds=1)
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
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    key: str
    body: bytes
    content_type: str = ""
    remote_addr: str | None = None
    # Set when the body was longer than the cap; `body` is then empty.
    oversize: int | None = None
    # Lower-case names.
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"


Parse = Callable[[Any, Integration], list[NormalizedEvent]]


@dataclass(frozen=True)
class Endpoint:
    """One URL tools post to."""

    name: str
    # The integration kinds it serves (None: any, reading the body by kind).
    kinds: tuple[str, ...] | None = None
    parse: Parse | None = None
    # PagerDuty's routing_key travels in the body.
    key_in_body: bool = False
    # Opsgenie's acknowledge and close may come without a body.
    body_optional: bool = False
    # How answers look: "plain", "pagerduty" or "opsgenie".
    style: str = "plain"
    accepted_message: str = "Event processed"


WEBHOOK = Endpoint("/in/")


class Refusal(Exception):
    """The request is refused: the answer's status and message, and what the log says."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, logged: str = ""
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.logged = logged or message


@dataclass
class _Context:
    request: Request
    endpoint: Endpoint
    now: datetime
    started: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    integration: Integration | None = None
    note: str = ""


def receive(request: Request, now: datetime, endpoint: Endpoint = WEBHOOK) -> Reply:
    ctx = _Context(request, endpoint, now, time.monotonic())
    try:
        payload = _admit(ctx)
        events = _parse(ctx, payload)
    except Refusal as refusal:
        # Keep a bounded sample of what strangers and floods send.
        limit = None
        if ctx.integration is None or refusal.status in (404, protection.TOO_MANY):
            limit = UNKNOWN_KEY_BODY_LIMIT
        if refusal.status == 413:
            limit = 0
        _log(ctx, Outcome.REJECTED, refusal.logged, refusal.status, limit=limit)
        reply = _refused(ctx, refusal.status, refusal.message)
        reply.headers.update(refusal.headers)
        return reply
    with transaction.atomic():
        applied = apply(ctx.integration, events, now)
        _log(ctx, applied.outcome, ctx.note, 202, applied.results, applied.alert_id)
    return _accepted(ctx, applied.outcome, applied.results)


@dataclass
class Applied:
    outcome: str  # the most significant of the results'
    results: list[dict[str, Any]]
    alert_id: int | None  # the first alert the events touched


def apply(integration: Integration, events: list[NormalizedEvent], now: datetime) -> Applied:
    """Route and apply normalized events, whatever brought them (a request, an email).

    Call it inside a transaction that also writes the InboundEvent row, so
    the log and the alerts commit together.
    """
    routed = any(e.action in ("trigger", CHANGE) for e in events)
    rules = routing.rules_of(integration) if routed else []
    # In dedup-key order, so requests naming the same alerts lock them in
    # the same order: in payload order they deadlock on PostgreSQL (503).
    order = sorted(range(len(events)), key=lambda i: events[i].dedup_key)
    with signals.batched():  # outbound webhooks read their subscriptions once per request
        applied = {i: _apply(integration, rules, events[i], now) for i in order}
    results = [applied[i] for i in range(len(events))]
    outcome = min((r["outcome"] for r in results), key=SIGNIFICANCE.index)
    first_alert = next((r["alert_id"] for r in results if r["alert_id"]), None)
    # To the second, as the pages show it: under load, one write a second, not per request.
    last = integration.last_received_at
    if last is None or now - last >= LAST_RECEIVED_RESOLUTION or now < last:
        Integration.objects.filter(pk=integration.pk).update(last_received_at=now)
    return Applied(outcome, results, first_alert)


def _admit(ctx: _Context) -> Any:
    """The decoded body, once the sender has shown it may send it; else Refusal."""
    request, endpoint = ctx.request, ctx.endpoint
    payload = None
    key = request.key
    if endpoint.key_in_body:
        if request.oversize is not None:
            raise Refusal(413, _oversize_message(request))
        payload = _decode(request.body)
        key = payload.get("routing_key") if isinstance(payload, dict) else None
        if not isinstance(key, str) or not key:
            raise Refusal(400, "field 'routing_key' is required: the integration's key")
    if not key and endpoint.style == "opsgenie":
        raise Refusal(401, "the Authorization header must be 'GenieKey <integration key>'")
    integration, previous = protection.find(key, ctx.now)
    ctx.integration = integration
    if integration is None or not integration.enabled:
        why = "integration is disabled" if integration else "no integration has this key"
        raise Refusal(404, f"Unknown or disabled integration key: {why}.", logged=why)
    if integration.kind == IntegrationKind.EMAIL:
        raise Refusal(
            400,
            f"this key belongs to an email integration: send mail to {integration.email_address}",
        )
    if endpoint.kinds and integration.kind not in endpoint.kinds:
        wanted = " or ".join(IntegrationKind(k).label for k in endpoint.kinds)
        raise Refusal(
            400,
            f"this key belongs to a {integration.get_kind_display()} integration; "
            f"{endpoint.name} serves {wanted} integrations (its URL is {integration.url_path})",
        )
    if previous:
        ends = f"{integration.previous_key_expires_at:%Y-%m-%d %H:%M} UTC"
        ctx.note = (
            f"Sent with the integration's previous key, which stops working at {ends}; "
            "give the sender the new one."
        )
    heartbeat = integration.kind == IntegrationKind.HEARTBEAT
    if request.method != "POST" and not heartbeat:
        raise Refusal(405, "Use POST to send events to this URL.", {"Allow": "POST"})
    if request.oversize is not None:
        raise Refusal(413, _oversize_message(request))
    wait = protection.retry_after(integration, ctx.now)
    if wait is not None:
        raise Refusal(
            protection.TOO_MANY,
            f"rate limit of {integration.rate_limit_per_minute} requests a minute reached; "
            f"retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    if integration.kind == IntegrationKind.GRAFANA:
        try:
            grafana.verify(integration, request.body, request.headers, ctx.now)
        except grafana.SignatureError as error:
            raise Refusal(401, f"signature refused: {error}") from None
    if heartbeat:
        return None  # a ping's body is not read
    if payload is None:
        if endpoint.body_optional and not request.body.strip():
            return None
        payload = _decode(request.body)
    return payload


def _parse(ctx: _Context, payload: Any) -> list[NormalizedEvent]:
    parse = ctx.endpoint.parse or PARSERS[ctx.integration.kind]
    try:
        return parse(payload, ctx.integration)
    except ParseError as error:
        raise Refusal(400, str(error)) from None


def _oversize_message(request: Request) -> str:
    cap = settings.INGEST_MAX_BODY_BYTES
    return f"body of {request.oversize} bytes is over the {cap // 1024} KB limit"


def _decode(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refusal(400, f"the body is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise Refusal(400, "the body is empty; a JSON object was expected")
    try:
        # NaN and Infinity are not JSON, yet Python's json.dumps writes them;
        # kept as text, since no database JSON column accepts them as numbers.
        payload = json.loads(text, parse_constant=str)
    except json.JSONDecodeError as error:
        raise Refusal(
            400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise Refusal(400, f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
    try:
        return storable(payload)
    except ParseError as error:
        raise Refusal(400, str(error)) from None


def storable(value: Any, depth: int = 0) -> Any:
    """The payload with every string storable, so a stray character never costs an alert."""
    if depth > MAX_JSON_DEPTH:
        raise ParseError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, list):
        return [storable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_storable_text(k): storable(v, depth + 1) for k, v in value.items()}
    return value


def _storable_text(text: str) -> str:
    return UNSTORABLE_CHARACTERS.sub("\ufffd", text)


def _apply(
    integration: Integration,
    rules: list,
    event: NormalizedEvent,
    now: datetime,
) -> dict[str, Any]:
    def result(outcome: str, alert_id: int | None, message: str = "", rule: str = "") -> dict:
        return {
            "dedup_key": event.dedup_key,
            "outcome": str(outcome),
            "alert_id": alert_id,
            "message": message,
            "rule": rule,
        }

    label = integration.name + (f" ({event.actor})" if event.actor else "")
    if event.action == PING:
        missed = alerts.find_active(integration.pk, event.dedup_key)
        if missed is None:
            return result(Outcome.PING, None)
        alerts.resolve(missed, now, actor_label=label, via=f"a ping to {integration.name}")
        return result(Outcome.RESOLVED, missed.pk, "the heartbeat is back")
    if event.action == CHANGE:
        where = routing.route(integration, rules, event)
        change = ChangeEvent.objects.create(
            integration=integration,
            group=where.group,
            happened_at=event.happened_at or now,
            received_at=now,
            summary=event.summary[:1024],
            source=event.source[:255],
            details=event.details,
            links=event.links,
        )
        return result(
            Outcome.CHANGE, None, f"change #{change.pk} for {where.group.name}", where.label
        )
    if event.action == "trigger":
        where = routing.route(integration, rules, event)
        alert, created = alerts.raise_alert(
            where.group,
            alerts.AlertInput(
                summary=event.summary,
                dedup_key=event.dedup_key,
                severity=where.severity,
                details=event.details,
                source=event.source,
                labels=event.labels,
                links=event.links,
            ),
            now,
            integration_id=integration.pk,
            actor_label=label,
            hold=lambda: maintenance.hold_for(integration.pk, where.group.pk, now),
        )
        if event.note:
            alerts.add_note(alert, event.note, now, actor_label=label)
        message = "" if created else f"duplicate of alert #{alert.pk}"
        if created and where.rule:
            message = f"routed to {where.group.name}"
        if created and alert.held_until:
            message = ", ".join(
                filter(None, [message, f"{alert.hold_reason}: paging waits until its end"])
            )
            return result(Outcome.SUPPRESSED, alert.pk, message, where.label)
        return result(
            Outcome.CREATED if created else Outcome.DUPLICATE, alert.pk, message, where.label
        )

    alert = _target(integration, event)
    if alert is None:
        named = f"id {event.alert_id}" if event.alert_id else f"dedup key {event.dedup_key!r}"
        return result(Outcome.IGNORED, None, f"no open alert has {named}")
    if event.note:
        alerts.add_note(alert, event.note, now, actor_label=label)
    if event.action == NOTE:
        return result(Outcome.NOTED, alert.pk)
    if event.action == "acknowledge":
        if alerts.acknowledge(alert, now, actor_label=label, via=integration.name):
            return result(Outcome.ACKNOWLEDGED, alert.pk)
        return result(Outcome.IGNORED, alert.pk, f"alert is already {AlertStatus(alert.status)}")
    alerts.resolve(alert, now, actor_label=label, via=integration.name)
    return result(Outcome.RESOLVED, alert.pk)


def _target(integration: Integration, event: NormalizedEvent) -> Alert | None:
    if event.alert_id is not None:
        alert = Alert.objects.filter(pk=event.alert_id, integration=integration).first()
        if alert is None or (event.action != NOTE and not alert.is_active):
            return None
        return alert
    return alerts.find_active(integration.pk, event.dedup_key)


def _log(
    ctx: _Context,
    outcome: str,
    message: str,
    status: int,
    results: list[dict[str, Any]] | None = None,
    alert_id: int | None = None,
    limit: int | None = None,
) -> InboundEvent:
    request = ctx.request
    body = request.body if limit is None else request.body[:limit]
    return InboundEvent.objects.create(
        integration=ctx.integration,
        received_at=ctx.now,
        endpoint=ctx.endpoint.name,
        request_id=ctx.request_id if ctx.endpoint.style == "opsgenie" else "",
        remote_addr=request.remote_addr,
        content_type=_storable_text(request.content_type[:255]),
        body=_storable_text(body.decode("utf-8", errors="replace")),
        body_size=min(request.oversize or len(request.body), MAX_RECORDED_BODY_SIZE),
        outcome=outcome,
        message=message,
        status_code=status,
        results=results or [],
        alert_id=alert_id,
    )


def _took(ctx: _Context) -> float:
    return round(time.monotonic() - ctx.started, 3)


def _refused(ctx: _Context, status: int, message: str) -> Reply:
    if ctx.endpoint.style == "pagerduty":
        body = {"status": "invalid event", "message": message, "errors": [message]}
    elif ctx.endpoint.style == "opsgenie":
        body = {"message": message, "took": _took(ctx), "requestId": ctx.request_id}
    else:
        body = {"error": message}
    return Reply(status, body)


def _accepted(ctx: _Context, outcome: str, results: list[dict[str, Any]]) -> Reply:
    if ctx.endpoint.style == "pagerduty":
        body: dict[str, Any] = {"status": "success", "message": ctx.endpoint.accepted_message}
        if results and results[0]["dedup_key"]:
            body["dedup_key"] = results[0]["dedup_key"]
    elif ctx.endpoint.style == "opsgenie":
        body = {
            "result": "Request will be processed",
            "took": _took(ctx),
            "requestId": ctx.request_id,
        }
    else:
        body = {"status": "accepted", "outcome": outcome, "results": results}
    return Reply(202, body, results=results)
