"""The inbound webhook endpoint: POST /in/<key>/."""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from alertops.lib import clock
from integrations import ingest

log = logging.getLogger(__name__)


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


@csrf_exempt
def inbound(request: HttpRequest, key: str) -> JsonResponse:
    if request.method != "POST":
        response = JsonResponse({"error": "Use POST to send events to this URL."}, status=405)
        response["Allow"] = "POST"
        return response
    body, oversize = _read_body(request)
    received = ingest.Request(
        key=key,
        body=body,
        content_type=request.content_type or "",
        remote_addr=request.META.get("REMOTE_ADDR"),
        oversize=oversize,
    )
    try:
        reply = ingest.receive(received, clock.now())
    except DatabaseError:
        # Senders retry 5xx: say so rather than accept what was not stored.
        log.exception("could not store an inbound event for key %s…", key[:4])
        response = JsonResponse(
            {"error": "The event could not be stored just now; please retry."}, status=503
        )
        response["Retry-After"] = "5"
        return response
    return JsonResponse(reply.body, status=reply.status)
