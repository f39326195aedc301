"""A real HTTP receiver on 127.0.0.1 for outbound webhook tests, and small builders.

The receiver records every request (path, headers, raw body) and answers
from a script: a list of answers, used in turn, the last one repeated. An
answer is a status code, (status, headers), or HANG: hold the request until
the test ends, so the sender's timeout fires.
"""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from escalation import alerts
from escalation.models import Alert
from groups.models import Group
from integrations.models import OutboundWebhook, WebhookDelivery
from tests.conftest import T0

HANG = "hang"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, *answers: Any) -> None:
        self.answers: list[Any] = list(answers) or [200]
        self.requests: list[Received] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/alertops"

    def _next_answer(self, received: Received) -> Any:
        with self._lock:
            self.requests.append(received)
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = receiver._next_answer(Received(self.path, dict(self.headers), body))
                if answer == HANG:
                    receiver.release.wait(30)
                    return
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                text = f"answer {status}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args) -> None:
                pass  # quiet test output

        return Handler

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def make_webhook(url: str, events=(), groups=(), **fields) -> OutboundWebhook:
    webhook = OutboundWebhook.objects.create(
        name=fields.pop("name", "Tickets"),
        url=url,
        secret=fields.pop("secret", "s3cret-for-tests"),
        events=list(events),
        created_at=T0,
        **fields,
    )
    webhook.groups.set(groups)
    return webhook


def open_alert(group: Group, key: str = "db-1/disk", at=T0, **data) -> Alert:
    summary = data.pop("summary", "Disk full on db-1")
    alert, _ = alerts.raise_alert(group, alerts.AlertInput(summary, key, **data), at)
    return alert


def deliveries(**filters) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(**filters).order_by("created_at", "id"))


def events_sent(**filters) -> list[str]:
    return [d.event for d in deliveries(**filters)]
