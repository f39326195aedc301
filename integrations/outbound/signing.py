"""What goes on the wire: the body's exact bytes, the headers, the signature.

The signature is HMAC-SHA256 with the webhook's secret over the timestamp,
a dot and the body, exactly as sent: "sha256=" + hex digest. Signing the
timestamp lets a receiver refuse a captured request replayed later; the
timestamp is that of the attempt, so a retry is signed afresh.
"""

import hashlib
import hmac
import json
from typing import Any

from integrations.outbound import payloads

EVENT_HEADER = "X-AlertOps-Event"
DELIVERY_HEADER = "X-AlertOps-Delivery"
TIMESTAMP_HEADER = "X-AlertOps-Timestamp"
SIGNATURE_HEADER = "X-AlertOps-Signature"
ATTEMPT_HEADER = "X-AlertOps-Attempt"
USER_AGENT = "AlertOps-Webhooks/1"

# What each header means, for the webhook's page.
HEADERS_EXPLAINED = [
    ("Content-Type", "application/json", "The body is UTF-8 JSON."),
    ("User-Agent", USER_AGENT, ""),
    (EVENT_HEADER, "alert.acknowledged", "The event, also in the body's event field."),
    (
        DELIVERY_HEADER,
        payloads.EXAMPLE_EVENT_ID,
        "The body's id: the same on every retry, so drop repeats by it.",
    ),
    (
        TIMESTAMP_HEADER,
        str(payloads.EXAMPLE_TIMESTAMP),
        "When this attempt was signed, in Unix seconds.",
    ),
    (
        SIGNATURE_HEADER,
        "sha256=9c1d…",
        "Hex HMAC-SHA256 with the secret over timestamp + '.' + body.",
    ),
    (ATTEMPT_HEADER, "1", "1 for the first try, 2 for the first retry, and so on."),
]


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(
    secret: str, event: str, event_id: str, timestamp: int, body: bytes, attempt: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: payloads.event_name(event),
        DELIVERY_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        ATTEMPT_HEADER: str(attempt),
    }


VERIFY_SNIPPET = '''\
import hashlib
import hmac
import os
import time

SECRET = os.environ["ALERTOPS_WEBHOOK_SECRET"].encode()
TOLERANCE_SECONDS = 300  # refuse requests signed longer ago (replays)


def verify(headers, body: bytes) -> bool:
    """True if the request was signed with SECRET in the last five minutes.

    `body` must be the raw bytes received, before any JSON parsing.
    """
    timestamp = headers.get("X-AlertOps-Timestamp", "")
    signature = headers.get("X-AlertOps-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    digest = hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + digest.hexdigest(), signature)
'''
