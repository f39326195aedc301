"""One attempt: POST a delivery, and what the answer means for it.

2xx is delivered. 408, 429, 5xx, timeouts, connection errors and a host
that does not resolve are temporary: the delivery is tried again later. A
redirect (not followed: it could point anywhere), any other 4xx, a URL that
cannot be posted to and a refused target (targets.py) are permanent: trying
again would get the same answer.
"""

import http as http_status
import logging
import re
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings

from integrations.models import OutboundWebhook, WebhookDelivery
from integrations.outbound import http, signing, targets

log = logging.getLogger(__name__)

# Per attempt; the setting is held to this so a sweep fits in its task's
# timeout (events.SWEEP_TASK_TIMEOUT >= the sweep's budget + one attempt).
MAX_TIMEOUT_SECONDS = 15.0
PERMANENT_REQUEST_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)


@dataclass
class Outcome:
    delivered: bool
    permanent: bool = False
    response_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: str = ""


def timeout() -> float:
    return max(0.1, min(float(settings.OUTBOUND_WEBHOOK_TIMEOUT), MAX_TIMEOUT_SECONDS))


def classify(answer: http.Answer) -> Outcome:
    code = answer.status
    try:
        phrase = http_status.HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    said = f"HTTP {code} {phrase}".strip()
    base = {"response_code": code, "excerpt": answer.excerpt, "retry_after": answer.retry_after}
    if 200 <= code < 300:
        return Outcome(True, **base)
    if 300 <= code < 400:
        where = f" to {answer.location}" if answer.location else ""
        error = f"{said}: redirected{where}; webhooks do not follow redirects, use the final URL"
        return Outcome(False, permanent=True, error=error, **base)
    if code in (408, 429) or code >= 500:
        return Outcome(False, error=said, **base)
    if 400 <= code < 500:
        return Outcome(False, permanent=True, error=f"{said}: refused by the receiver", **base)
    return Outcome(False, error=f"{said}: not an answer a receiver gives", **base)


def post(webhook: OutboundWebhook, delivery: WebhookDelivery, at: datetime) -> Outcome:
    """POST the delivery once. Never raises: every failure is an Outcome."""
    body = signing.body_of(delivery.payload)
    stamp = int(at.timestamp())
    headers = signing.headers(
        webhook.secret, delivery.event, delivery.event_id, stamp, body, delivery.attempts
    )
    limit = timeout()
    try:
        targets.check_url(webhook.url)
        return classify(http.post(webhook.url, body, headers, limit))
    except targets.TargetRefused as error:
        return Outcome(False, permanent=True, error=f"Refused target: {error}")
    except targets.TargetUnresolved as error:
        return Outcome(False, error=str(error))
    except requests.Timeout:
        return Outcome(False, error=f"No answer within {limit:g} s (timed out)")
    except requests.ConnectionError as error:
        return Outcome(False, error=f"Could not connect: {_reason(error)}")
    except PERMANENT_REQUEST_ERRORS as error:
        return Outcome(False, permanent=True, error=f"Cannot send to this URL: {error}")
    except requests.RequestException as error:
        return Outcome(False, error=f"Request failed: {_reason(error)}")
    except Exception as error:
        # A bug or an unexpected library error: the worker lives, the row is
        # retried like a temporary failure and gives up after MAX_ATTEMPTS.
        log.exception("outbound webhook %s: delivery %s crashed", webhook.pk, delivery.pk)
        return Outcome(False, error=f"Unexpected error: {error!r}")


def _reason(error: Exception) -> str:
    """What went wrong, without requests' and urllib3's wrapping around it."""
    inner = error.args[0] if error.args else error
    inner = getattr(inner, "reason", inner)  # urllib3's MaxRetryError says why in .reason
    text = str(inner)
    # urllib3 names its connection object first: "HTTPConnection(host=..., port=...): ..."
    text = re.sub(r"^(<[^>]*>|\w+\(host=[^)]*\)): ", "", text)
    return text.removeprefix("Failed to establish a new connection: ")[:500]
