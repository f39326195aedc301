"""The URLs tools post to: our webhook, and PagerDuty's and Opsgenie's APIs.

Every answer is JSON. Whatever goes wrong inside, the sender gets a short
message and a status it knows how to treat (4xx: do not retry; 503 and 500:
retry later), never a stack trace.
"""

import functools
import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from alertops.lib import clock
from integrations import ingest, protection
from integrations.endpoints import OPSGENIE_CREATE, PAGERDUTY, PAGERDUTY_CHANGE
from integrations.models import InboundEvent, IntegrationKind, Outcome
from integrations.parsers import opsgenie

log = logging.getLogger(__name__)

# Opsgenie's names for what a request did, by the endpoint's last part.
OPSGENIE_ACTION_NAMES = {
    "alerts": "Create",
    "acknowledge": "Acknowledge",
    "close": "Close",
    "notes": "AddNote",
}
OPSGENIE_STATUS = {
    Outcome.CREATED: "Created alert",
    Outcome.DUPLICATE: "Alert already exists; its count was increased",
    Outcome.ACKNOWLEDGED: "Acknowledged alert",
    Outcome.RESOLVED: "Closed alert",
    Outcome.NOTED: "Added note",
}


def guarded(view: Callable) -> Callable:
    """Answer a failure to store with 503 and anything unforeseen with 500, in JSON."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except DatabaseError:
            # Senders retry 5xx: say so rather than accept what was not stored.
            log.exception("could not store an inbound request to %s", request.path[:40])
            response = JsonResponse(
                {"error": "The event could not be stored just now; please retry."}, status=503
            )
            response["Retry-After"] = "5"
            return response
        except Exception:
            log.exception("inbound request to %s failed", request.path[:40])
            return JsonResponse(
                {"error": "The event could not be processed (an internal error); please retry."},
                status=500,
            )

    return csrf_exempt(wrapper)


def _post_only() -> JsonResponse:
    response = JsonResponse({"error": "Use POST to send events to this URL."}, status=405)
    response["Allow"] = "POST"
    return response


def _read_body(request: HttpRequest) -> tuple[bytes, int | None]:
    """The body, or (b"", size) when it is over the cap, without reading it all."""
    cap = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return b"", declared
    body = request.read(cap + 1)
    if len(body) > cap:
        return b"", len(body)
    return body, None


def _receive(
    request: HttpRequest, key: str, endpoint: ingest.Endpoint, methods: tuple[str, ...] = ("POST",)
) -> JsonResponse:
    if request.method not in methods:
        return _post_only()
    body, oversize = _read_body(request)
    received = ingest.Request(
        key=key,
        body=body,
        content_type=request.content_type or "",
        remote_addr=request.META.get("REMOTE_ADDR"),
        oversize=oversize,
        headers={name.lower(): value for name, value in request.headers.items()},
        method=request.method,
    )
    reply = ingest.receive(received, clock.now(), endpoint)
    response = JsonResponse(reply.body, status=reply.status)
    for name, value in reply.headers.items():
        response[name] = value
    return response


@guarded
def inbound(request: HttpRequest, key: str) -> JsonResponse:
    """POST /in/<key>/: the body is read by the integration's kind (a heartbeat takes GET too)."""
    return _receive(request, key, ingest.WEBHOOK, methods=("GET", "POST"))


@guarded
def pagerduty_enqueue(request: HttpRequest) -> JsonResponse:
    return _receive(request, "", PAGERDUTY)


@guarded
def pagerduty_change(request: HttpRequest) -> JsonResponse:
    return _receive(request, "", PAGERDUTY_CHANGE)


def genie_key(request: HttpRequest) -> str:
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    return key.strip() if scheme.lower() == "geniekey" else ""


@guarded
def opsgenie_create(request: HttpRequest) -> JsonResponse:
    return _receive(request, genie_key(request), OPSGENIE_CREATE)


@guarded
def opsgenie_action(request: HttpRequest, identifier: str, action: str) -> JsonResponse:
    """POST /v2/alerts/<identifier>/acknowledge | close | notes (?identifierType=alias|id)."""
    identifier_type = request.GET.get("identifierType", "id")

    def parse(payload, integration):
        return [opsgenie.parse_action(payload, action, identifier, identifier_type)]

    endpoint = ingest.Endpoint(
        f"/v2/alerts/{{identifier}}/{action}",
        kinds=(IntegrationKind.OPSGENIE,),
        parse=parse,
        body_optional=True,
        style="opsgenie",
    )
    return _receive(request, genie_key(request), endpoint)


@guarded
def opsgenie_request_status(request: HttpRequest, request_id: str) -> JsonResponse:
    """GET /v2/alerts/requests/<id>: what became of an earlier request (always done by now)."""
    started = time.monotonic()

    def answer(status: int, body: dict) -> JsonResponse:
        took = round(time.monotonic() - started, 3)
        return JsonResponse({**body, "took": took, "requestId": str(uuid.uuid4())}, status=status)

    if request.method != "GET":
        return answer(405, {"message": "Use GET to read a request's status."})
    integration, _ = protection.find(genie_key(request), clock.now())
    if integration is None or not integration.enabled:
        return answer(401, {"message": "Unknown or disabled integration key (GenieKey)."})
    try:
        wanted = str(uuid.UUID(request_id))
    except ValueError:
        wanted = ""  # not an id this server gave out (and never a NUL in a query)
    event = (
        InboundEvent.objects.filter(integration=integration, request_id=wanted).first()
        if wanted
        else None
    )
    if event is None:
        return answer(404, {"message": f"No request {request_id!r} was made with this key."})
    result = event.results[0] if event.results else {}
    success = event.outcome in OPSGENIE_STATUS
    return answer(
        200,
        {
            "data": {
                "success": success,
                "isSuccess": success,
                "action": OPSGENIE_ACTION_NAMES.get(event.endpoint.rsplit("/", 1)[-1], "Create"),
                "processedAt": event.received_at.isoformat().replace("+00:00", "Z"),
                "integrationId": str(integration.pk),
                "status": OPSGENIE_STATUS.get(event.outcome)
                or result.get("message")
                or event.message,
                "alertId": str(result["alert_id"]) if result.get("alert_id") else "",
                "alias": result.get("dedup_key", ""),
            }
        },
    )
