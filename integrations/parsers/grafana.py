"""Grafana unified alerting's webhook contact point: one alert per fingerprint.

The body has Alertmanager's shape (Grafana's `version` is "1") with more
links per alert. When the integration has a signing secret, the request must
carry Grafana's HMAC-SHA256 signature, hex-encoded, in the configured header:
over the body, or over "<timestamp>:<body>" when a timestamp header is set.
"""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from integrations.parsers.alertmanager import events_of
from integrations.parsers.base import NormalizedEvent, ParseError, require_object

LINKS = (
    ("dashboardURL", "Dashboard"),
    ("panelURL", "Panel"),
    ("silenceURL", "Silence"),
    ("imageURL", "Image"),
)


class SignatureError(Exception):
    """The request is not signed with the integration's secret."""


def parse(payload: Any, integration: Any = None) -> list[NormalizedEvent]:
    body = require_object(payload, "the body")
    if "alerts" not in body:
        raise ParseError("field 'alerts' is required and must be a list")
    events = events_of(body, LINKS)
    for event, entry in zip(events, body["alerts"], strict=True):
        values = entry.get("values")
        if values is not None:
            event.details["values"] = values
        if entry.get("valueString"):
            event.details["valueString"] = entry["valueString"]
        event.details["orgId"] = body.get("orgId")
    return events


def signature(secret: str, body: bytes, timestamp: str = "") -> str:
    message = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# A signed timestamp further than this from our clock is refused: a replay.
MAX_TIMESTAMP_SKEW = 300


def verify(
    integration: Any, body: bytes, headers: Mapping[str, str], now: datetime | None = None
) -> None:
    """Raise SignatureError unless the signature matches (when a secret is set).

    With a timestamp header, the timestamp must also be within five minutes
    of `now`, so a captured request cannot be sent again later.
    """
    if not integration.signing_secret:
        return
    header = integration.signature_header or "X-Grafana-Alerting-Signature"
    sent = headers.get(header.lower(), "")
    if not sent:
        raise SignatureError(f"the {header} header is missing; this integration is signed")
    timestamp = ""
    if integration.timestamp_header:
        timestamp = headers.get(integration.timestamp_header.lower(), "")
        if not timestamp:
            raise SignatureError(f"the {integration.timestamp_header} header is missing")
    expected = signature(integration.signing_secret, body, timestamp)
    if timestamp and now is not None:
        try:
            skew = abs(now.timestamp() - int(timestamp))
        except ValueError:
            raise SignatureError(
                f"the {integration.timestamp_header} header must be a Unix time in seconds"
            ) from None
        if skew > MAX_TIMESTAMP_SKEW:
            raise SignatureError(
                f"the signed timestamp is {int(skew)} s away from this server's clock; "
                f"at most {MAX_TIMESTAMP_SKEW} s are allowed"
            )
    given = sent.strip().lower()
    # compare_digest raises on non-ASCII text, and a header may carry any byte.
    if not given.isascii() or not hmac.compare_digest(expected, given):
        raise SignatureError(f"the {header} header does not match the body")
