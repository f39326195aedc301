"""How to point a tool at an integration: its URL, a ready-to-paste
configuration, a curl line, and the test alert the page can send.

The examples here are the same bodies the "send test alert" button posts
through the integration's own endpoint, so what the page shows is what it
proves works.
"""

import json
import re
import shlex
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations import ingest
from integrations.email import setup as email_setup
from integrations.endpoints import OPSGENIE_CREATE, PAGERDUTY
from integrations.models import GRAFANA_SIGNATURE_HEADER, Integration, IntegrationKind
from integrations.parsers import NormalizedEvent, grafana


@dataclass
class Snippet:
    title: str
    text: str
    note: str = ""


def url_of(integration: Integration, base: str) -> str:
    """The one URL a tool is given."""
    if integration.kind == IntegrationKind.PAGERDUTY:
        return f"{base}/v2/enqueue"
    if integration.kind == IntegrationKind.OPSGENIE:
        return f"{base}/v2/alerts"
    if integration.kind == IntegrationKind.EMAIL:
        return integration.email_address  # a tool that sends mail is given an address
    return f"{base}{integration.url_path}"


def example(integration: Integration, summary: str, dedup_key: str, now: datetime) -> dict:
    """A body of the integration's kind that opens one alert."""
    started = now.isoformat().replace("+00:00", "Z")
    kind = integration.kind
    if kind in (IntegrationKind.ALERTMANAGER, IntegrationKind.GRAFANA):
        body: dict[str, Any] = {
            "version": "4" if kind == IntegrationKind.ALERTMANAGER else "1",
            "status": "firing",
            "receiver": "alertops",
            "groupKey": '{}:{alertname="TestAlert"}',
            "groupLabels": {"alertname": "TestAlert"},
            "commonLabels": {"alertname": "TestAlert", "severity": "error"},
            "commonAnnotations": {"summary": summary},
            "externalURL": "",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "TestAlert", "severity": "error"},
                    "annotations": {"summary": summary},
                    "startsAt": started,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": dedup_key,
                }
            ],
        }
        if kind == IntegrationKind.GRAFANA:
            body.update({"orgId": 1, "title": f"[FIRING:1] {summary}", "state": "alerting"})
        return body
    if kind == IntegrationKind.PAGERDUTY:
        return {
            "routing_key": integration.key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {"summary": summary, "source": "alertops-test", "severity": "error"},
        }
    if kind == IntegrationKind.HEARTBEAT:
        return {}
    if kind == IntegrationKind.OPSGENIE:
        return {"message": summary, "alias": dedup_key, "priority": "P3", "source": "alertops-test"}
    return {"summary": summary, "dedup_key": dedup_key, "severity": "error", "source": "test"}


def _json(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def mapped_example(mapping: dict[str, str]) -> dict | None:
    """A body the mapping reads, when its summary and dedup key are plain dotted paths."""
    body: dict[str, Any] = {}
    for name, value in (("summary", "Disk full on db-1"), ("dedup_key", "db-1/disk")):
        path = mapping.get(name, "")
        if not path:
            continue
        if not SIMPLE_PATH.match(path):
            return None
        *parents, leaf = path.split(".")
        node = body
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return None
        node[leaf] = value
    return body or None


def curl(integration: Integration, base: str, now: datetime, sample: Any = None) -> str:
    """A curl line that sends one alert; for a mapped webhook, `sample` (the last
    payload received) or a body built from the mapping, or "" when neither exists."""
    if integration.kind == IntegrationKind.HEARTBEAT:
        return f"curl -fsS -m 10 --retry 3 {shlex.quote(url_of(integration, base))}"
    if integration.kind == IntegrationKind.EMAIL:
        return email_setup.curl(integration, base)
    body = example(integration, "Disk full on db-1", "db-1/disk", now)
    if integration.kind == IntegrationKind.WEBHOOK and integration.mapping:
        body = sample if sample is not None else mapped_example(integration.mapping)
        if body is None:
            return ""
    parts = ["curl", "-sS", "-X", "POST", url_of(integration, base)]
    parts += ["-H", "Content-Type: application/json"]
    if integration.kind == IntegrationKind.OPSGENIE:
        parts += ["-H", f"Authorization: GenieKey {integration.key}"]
    parts += ["--data", _json(body)]
    return " ".join(shlex.quote(part) for part in parts)


def snippets(integration: Integration, base: str) -> list[Snippet]:
    if integration.kind == IntegrationKind.EMAIL:
        return email_setup.snippets(integration, base)
    url = url_of(integration, base)
    key = integration.key
    kind = integration.kind
    if kind == IntegrationKind.ALERTMANAGER:
        return [
            Snippet(
                "alertmanager.yml receiver",
                "receivers:\n"
                "  - name: alertops\n"
                "    webhook_configs:\n"
                f"      - url: '{url}'\n"
                "        send_resolved: true\n",
                "Send alerts to it from the route (receiver: alertops). One alert opens per "
                "fingerprint; a resolved notification resolves it.",
            )
        ]
    if kind == IntegrationKind.GRAFANA:
        signed = (
            f"HMAC Signature: Secret = the signing secret saved here, Header = "
            f"{integration.signature_header or GRAFANA_SIGNATURE_HEADER}"
            + (
                f", Timestamp Header = {integration.timestamp_header}."
                if integration.timestamp_header
                else "."
            )
            if integration.signing_secret
            else "To sign requests, set a signing secret here and the same HMAC secret in Grafana."
        )
        return [
            Snippet(
                "Grafana contact point",
                "Alerting → Contact points → + Add contact point\n"
                "  Integration: Webhook\n"
                f"  URL: {url}\n"
                "  HTTP Method: POST\n",
                signed,
            ),
            Snippet(
                "Grafana provisioning (contact point file)",
                "apiVersion: 1\n"
                "contactPoints:\n"
                "  - orgId: 1\n"
                "    name: AlertOps\n"
                "    receivers:\n"
                "      - uid: alertops\n"
                "        type: webhook\n"
                "        settings:\n"
                f"          url: {url}\n"
                "          httpMethod: POST\n",
            ),
        ]
    if kind == IntegrationKind.PAGERDUTY:
        return [
            Snippet(
                "PagerDuty Events API v2: change the base URL only",
                f"Events API base URL: {base}\n"
                f"Alert events:        {base}/v2/enqueue\n"
                f"Change events:       {base}/v2/change/enqueue\n"
                f"Integration (routing) key: {key}\n",
                "Clients that send to events.pagerduty.com keep their payloads, "
                "dedup keys and the routing key; only the base URL changes.",
            ),
            Snippet(
                "alertmanager.yml receiver (pagerduty_configs)",
                "receivers:\n"
                "  - name: alertops-pagerduty\n"
                "    pagerduty_configs:\n"
                f"      - url: '{base}/v2/enqueue'\n"
                f"        routing_key: '{key}'\n"
                "        send_resolved: true\n",
            ),
        ]
    if kind == IntegrationKind.OPSGENIE:
        return [
            Snippet(
                "Opsgenie Alert API: change the API URL only",
                f"API URL: {base}/\n"
                f"Create:  POST {base}/v2/alerts\n"
                f"Ack, close, note: POST {base}/v2/alerts/<alias>/acknowledge|close|notes"
                "?identifierType=alias\n"
                f"Header:  Authorization: GenieKey {key}\n",
                "Opsgenie's SDKs take the URL as their host setting; the alias is the dedup key.",
            ),
            Snippet(
                "alertmanager.yml receiver (opsgenie_configs)",
                "receivers:\n"
                "  - name: alertops-opsgenie\n"
                "    opsgenie_configs:\n"
                f"      - api_url: '{base}/'\n"
                f"        api_key: '{key}'\n"
                "        send_resolved: true\n",
            ),
        ]
    if kind == IntegrationKind.HEARTBEAT:
        every = integration.heartbeat_minutes
        schedule = f"*/{every} * * * *" if every < 60 and 60 % every == 0 else "<your schedule>"
        return [
            Snippet(
                "crontab: ping after the job succeeds",
                f"{schedule} /path/to/job && curl -fsS -m 10 --retry 3 '{url}' > /dev/null\n",
                f"A GET or POST to the URL is a ping; the body is not read. Without one for "
                f"{every} min and {integration.heartbeat_grace_minutes} min of grace, an alert "
                f"opens for {integration.group.name}; the next ping resolves it.",
            )
        ]
    if integration.mapping:
        return [
            Snippet(
                "Your tool's webhook",
                f"URL: {url}\nMethod: POST\nContent-Type: application/json\n",
                "The field mapping below reads whatever JSON the tool sends.",
            )
        ]
    return [
        Snippet(
            "The event format",
            _json(
                {
                    "summary": "Disk full on db-1",
                    "dedup_key": "db-1/disk",
                    "severity": "critical",
                    "source": "db-1",
                    "details": {"free": "0 B"},
                    "action": "trigger",
                }
            ),
            "summary is required; action is trigger (the default), acknowledge or resolve; "
            "severity is critical, error (the default), warning or info. Or set a field "
            "mapping below to read your tool's own JSON.",
        )
    ]


def test_request(
    integration: Integration, summary: str, now: datetime, remote_addr: str | None
) -> tuple[ingest.Endpoint, ingest.Request]:
    """The request the "send test alert" button makes, through the integration's endpoint."""
    dedup_key = f"test-{uuid.uuid4().hex[:12]}"
    body = example(integration, summary, dedup_key, now)
    raw = _json(body).encode()
    headers: dict[str, str] = {}
    endpoint = ingest.WEBHOOK
    if integration.kind == IntegrationKind.PAGERDUTY:
        endpoint = PAGERDUTY
    elif integration.kind == IntegrationKind.OPSGENIE:
        endpoint = OPSGENIE_CREATE
    elif integration.kind == IntegrationKind.GRAFANA and integration.signing_secret:
        timestamp = str(int(now.timestamp())) if integration.timestamp_header else ""
        signature = grafana.signature(integration.signing_secret, raw, timestamp)
        headers[integration.signature_header.lower()] = signature
        if timestamp:
            headers[integration.timestamp_header.lower()] = timestamp
    elif integration.kind == IntegrationKind.WEBHOOK and integration.mapping:
        # A mapping reads the tool's own JSON, which only the tool can send: the
        # test alert goes in as the event the mapping would produce.
        event = NormalizedEvent(
            action="trigger", dedup_key=dedup_key, summary=summary, source="test", details=body
        )
        endpoint = ingest.Endpoint("test alert", parse=lambda payload, integration: [event])
    request = ingest.Request(
        key=integration.key,
        body=raw,
        content_type="application/json",
        remote_addr=remote_addr,
        headers=headers,
    )
    return endpoint, request
