"""The twilio client, real or pointed at a local stand-in.

Without TWILIO_ACCOUNT_SID the client is built with DevelopmentHttpClient: the
twilio library runs exactly as in production (building the request, parsing
the response) but the request ends here, recorded, instead of on the network.
"""

import json
import logging
import threading
import uuid
from collections import deque
from typing import Any

from django.conf import settings
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

log = logging.getLogger(__name__)

DEV_ACCOUNT_SID = "AC" + "0" * 32


class DevelopmentHttpClient(HttpClient):
    """Answers Twilio API calls locally, as Twilio would accept them."""

    sent: deque = deque(maxlen=200)
    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__(logger=log, is_async=False)

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **kwargs):
        data = dict(data or {})
        prefix = "CA" if uri.endswith("/Calls.json") else "SM"
        sid = prefix + uuid.uuid4().hex
        with self._lock:
            self.sent.append({"method": method, "uri": uri, "data": data, "sid": sid})
        log.info("development Twilio %s %s to %s", method, uri.rsplit("/", 1)[-1], data.get("To"))
        body: dict[str, Any] = {
            "sid": sid,
            "account_sid": DEV_ACCOUNT_SID,
            "to": data.get("To"),
            "from": data.get("From"),
            "status": "queued",
        }
        if prefix == "SM":
            body["body"] = data.get("Body")
        return Response(201, json.dumps(body))


# Seconds to wait for Twilio's API before the send counts as a temporary failure.
TIMEOUT_SECONDS = 10


def make_http_client() -> HttpClient:
    """The HTTP client for twilio: the library's own when configured, else the stand-in."""
    if settings.TWILIO_ACCOUNT_SID:
        return TwilioHttpClient(timeout=TIMEOUT_SECONDS)
    return DevelopmentHttpClient()


def get_client() -> Client:
    http_client = make_http_client()
    if settings.TWILIO_ACCOUNT_SID:
        return Client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client
        )
    return Client(DEV_ACCOUNT_SID, "development", http_client=http_client)
