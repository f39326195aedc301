"""(b) Ingest to first notification handed to its transport, over real HTTP.

scripts/run starts gunicorn and the q cluster, as `make run` does, on a free
port on 127.0.0.1. A client POSTs RATE events a second for DURATION seconds
to the demo integrations' /in/<key>/ URLs, alternating Alertmanager (v4) and
generic webhook payloads, each opening a new critical alert. Per alert the
figure is its first Notification's sent_at (set when the transport returned)
minus the alert's created_at (set as the request was handled).
"""

import http.client
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from bench import harness
from bench.harness import BenchError, Report, now, spread

RATE = float(os.environ.get("BENCH_INGEST_RATE", 8))
DURATION = float(os.environ.get("BENCH_INGEST_SECONDS", 30))
SEND_WAIT = 30.0  # after the last request, give up waiting for notifications
TARGET_P99 = 1.5


@dataclass
class Sent:
    n: int
    kind: str
    sent_at: datetime
    answered_at: datetime | None = None
    status: int | None = None
    alert_id: int | None = None
    error: str = ""


def main() -> None:
    harness.setup_django()
    harness.install_cleanup()
    report = Report("b. ingest to page")
    try:
        measure(report)
    finally:
        harness.stop_all()
    report.emit()


def payload(n: int, kind: str, run: str) -> dict:
    if kind == "webhook":
        return {
            "summary": f"Checkout error rate 12% (bench {n})",
            "dedup_key": f"bench-{run}-{n}",
            "severity": "critical",
            "source": f"web-{n % 7}",
            "details": {"rate": "12%", "n": n},
        }
    started = now().isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "status": "firing",
        "receiver": "alertops",
        "groupKey": f'{{}}:{{alertname="HighLatency{n}"}}',
        "groupLabels": {"alertname": f"HighLatency{n}"},
        "commonLabels": {"severity": "critical"},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": f"HighLatency{n}",
                    "severity": "critical",
                    "instance": f"api-{n % 5}:9100",
                },
                "annotations": {"summary": "p99 latency over 2 s"},
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=latency",
                "fingerprint": f"{run}{n:08x}",
            }
        ],
    }


def post(port: int, path: str, body: bytes, sent: Sent) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sent.sent_at = now()
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        sent.answered_at = now()
        sent.status = response.status
        if response.status == 202:
            sent.alert_id = json.loads(answer)["results"][0]["alert_id"]
        else:
            sent.error = answer[:200].decode(errors="replace")
    except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
        sent.error = repr(error)
    finally:
        connection.close()


def send_all(port: int, paths: dict[str, str]) -> list[Sent]:
    """POST at RATE per second, on schedule: a slow answer never delays the next request."""
    run = os.urandom(4).hex()
    count = int(RATE * DURATION)
    kinds = ["alertmanager", "webhook"]
    sends = []
    with ThreadPoolExecutor(max_workers=32) as pool:
        start = time.monotonic()
        for n in range(count):
            kind = kinds[n % 2]
            body = json.dumps(payload(n, kind, run)).encode()
            delay = start + n / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = Sent(n, kind, now())
            sends.append(sent)
            pool.submit(post, port, paths[kind], body, sent)
    return sends


def measure(report: Report) -> None:
    from django.db.models import Min

    from escalation.models import Alert, Notification, NotificationStatus
    from integrations.models import Integration

    server, port = harness.start_service()

    paths = {i.kind: i.url_path for i in Integration.objects.all()}
    sends = send_all(port, paths)
    ids = {s.alert_id for s in sends if s.alert_id}
    if not ids:
        raise BenchError(f"no request was accepted; first error: {sends[0].error}")

    def all_paged() -> bool:
        return Notification.objects.filter(alert_id__in=ids, status=NotificationStatus.SENT).values(
            "alert_id"
        ).distinct().count() >= len(ids)

    try:
        harness.wait_for("first notifications sent", all_paged, SEND_WAIT, [server], 0.25)
    except BenchError:
        report.note(f"not every alert was paged within {SEND_WAIT:.0f} s of the last request")
    server.stop()

    created = dict(Alert.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    first_sent = dict(
        Notification.objects.filter(alert_id__in=ids, sent_at__isnull=False)
        .values("alert_id")
        .annotate(first=Min("sent_at"))
        .values_list("alert_id", "first")
    )
    by_alert = {s.alert_id: s for s in sends if s.alert_id}
    unpaged = len(ids) - len(first_sent)
    waits = [(first_sent[a] - created[a]).total_seconds() for a in first_sent]
    if not waits:
        raise BenchError("no alert was paged")
    p99 = harness.percentile(waits, 99)
    report.row(
        f"created_at -> first sent_at p50/p99/max, {len(ids)} alerts",
        spread(waits),
        f"p99 <= {TARGET_P99:g} s",
        p99 <= TARGET_P99 and not unpaged,
    )
    client = [(first_sent[a] - by_alert[a].sent_at).total_seconds() for a in first_sent]
    report.row("client send -> first sent_at p50/p99/max", spread(client))
    answers = [(s.answered_at - s.sent_at).total_seconds() for s in sends if s.answered_at]
    if answers:
        report.row("HTTP answer time p50/p99/max", spread(answers))
    failed = [s for s in sends if s.status != 202]
    report.row(f"requests not answered 202 (of {len(sends)})", str(len(failed)), "0", not failed)
    for s in failed[:3]:
        report.note(f"request {s.n} ({s.kind}): status {s.status} {s.error}")
    if unpaged:
        report.note(f"{unpaged} alerts were never paged")
    report.note(
        f"{len(sends)} requests at {RATE:g}/s for {DURATION:g} s to gunicorn on 127.0.0.1:{port} "
        "(scripts/run: gthread, 2 workers x 4 threads, plus the q cluster)"
    )


if __name__ == "__main__":
    main()
