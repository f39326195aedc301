"""(e) Sustained ingest throughput and latency over real HTTP, and a dedup storm.

scripts/run starts gunicorn and the q cluster as in production (gthread,
WEB_WORKERS workers x 4 threads, DEBUG off, the access log on), on a free
port on 127.0.0.1; the engine picks every new alert up and pages it while the
load runs. Three endpoints side by side, every POST with a new dedup key, so
that each one opens an alert:

- GET /healthz: an empty view that touches no database, the ceiling;
- POST /in/<key>/ with an Alertmanager v4 webhook (the demo integration);
- POST /v2/enqueue with a PagerDuty Events v2 trigger (the demo group's
  pagerduty integration, made here when the demo has none).

1. Max throughput: wrk, closed loop, CONNECTIONS connections for SECONDS s,
   a Lua script putting a new key in every body and counting answers other
   than the expected status (wrk itself counts only 4xx/5xx, not a 301).
   Target: ingest >= half of /healthz.
2. Latency at a fixed offered load, half of /healthz's max throughput, from
   the open-loop generator in bench/load.py. Requests still unanswered GRACE
   seconds after the last one was due count as slower than anything measured.
   Target: p99 <= 50 ms. An endpoint that cannot sustain that load is also
   measured at half its own max, for reading.
3. Storm: STORM_EVENTS triggers over STORM_KEYS dedup keys (each key as often,
   in a shuffled order, so concurrent requests often name the same alert) from
   STORM_SENDERS concurrent senders, to a fresh integration: PagerDuty Events
   v2 when /v2/enqueue accepts events, else Alertmanager. It must end with
   exactly STORM_KEYS open alerts for that integration, every event counted
   (alerts + duplicates) and every answer 202, checked through the ORM.

The integrations' rate limits are raised out of reach (the check still runs):
at the default 600 a minute the senders would measure 429s. Between phases the
engine is let catch up (nothing due, nothing sending, the inbound log still),
so each phase starts from a quiet server; a last row says whether it always
did within SETTLE_LIMIT s (a stalled engine pages nobody), and a note says
what it left. Client and server share the CPUs: the notes give the load
average and how late the generator itself was.
"""

import asyncio
import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

from bench import harness
from bench.harness import BenchError, Report, now
from bench.ingest import payload as alertmanager_payload
from bench.load import (
    CONNECTIONS,
    GRACE,
    REQUEST_TIMEOUT,
    SECONDS,
    WRK_SCRIPT,
    Closed,
    Opened,
    Target,
    open_loop,
    request_bytes,
    run_wrk,
    say,
    storm_send,
)

SETTLE_LIMIT = 120.0
UNREACHED_LIMIT = 100_000_000  # requests a minute
STORM_EVENTS = int(os.environ.get("BENCH_STORM_EVENTS", 10_000))
STORM_KEYS = 100
STORM_SENDERS = 16
TARGET_P99 = 0.050
WRK_INSTALL = "apt-get install -y wrk"


def main() -> None:
    harness.setup_django()
    harness.install_cleanup()
    report = Report("e. throughput")
    try:
        measure(report)
    finally:
        harness.stop_all()
    report.emit()


# -- the server and its data -----------------------------------------------------------------


def pagerduty_body(routing_key: str) -> Callable[[str], bytes]:
    def body(dedup_key: str) -> bytes:
        event = {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": "Checkout error rate over 5% on web-3",
                "source": "web-3.example.com",
                "severity": "critical",
            },
        }
        return json.dumps(event).encode()

    return body


def alertmanager_body(dedup_key: str) -> bytes:
    webhook = alertmanager_payload(1, "alertmanager", "bench")
    webhook["alerts"][0]["fingerprint"] = dedup_key
    return json.dumps(webhook).encode()


def integrations():
    """The demo group, its Alertmanager integration and a PagerDuty one, limits out of reach."""
    from alertops.management.commands.demo import GROUP_NAME
    from groups.models import Group
    from integrations.models import Integration, IntegrationKind

    group = Group.objects.get(name=GROUP_NAME)
    alertmanager = group.integrations.filter(kind=IntegrationKind.ALERTMANAGER).first()
    if alertmanager is None:
        raise BenchError("the demo data has no Alertmanager integration")
    pagerduty = group.integrations.filter(kind=IntegrationKind.PAGERDUTY).first()
    if pagerduty is None:
        pagerduty = Integration.objects.create(
            name="PagerDuty (benchmark)", kind=IntegrationKind.PAGERDUTY, group=group
        )
    Integration.objects.filter(pk__in=[alertmanager.pk, pagerduty.pk]).update(
        rate_limit_per_minute=UNREACHED_LIMIT
    )
    return group, alertmanager, pagerduty


def probe(target: Target, port: int) -> None:
    """One request: an endpoint that does not answer as expected is not measured."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        body = target.body(f"probe-{os.urandom(4).hex()}") if target.body else None
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(target.method, target.path, body, headers)
        response = connection.getresponse()
        answer = response.read()[:120].decode(errors="replace")
        if response.status != target.expect:
            target.unavailable = f"{target.method} {target.path} answered {response.status}"
            if response.status != 404:
                target.unavailable += f": {answer}"
    finally:
        connection.close()


class Pauses:
    """Between phases: wait until the engine has caught up and the server is quiet.

    Quiet: no alert due, no notification due or in flight, the inbound log
    still. When the engine has not caught up within SETTLE_LIMIT, what it left
    is kept for the report, and later pauses wait only for the server.
    """

    def __init__(self, server: harness.Server, report: Report) -> None:
        self.server = server
        self.report = report
        self.stalled = ""  # the phase before which the engine first had not caught up
        self.loads: list[float] = []

    def wait(self, before: str) -> None:
        from django.db import close_old_connections
        from django.db.models import Q

        from escalation.models import Alert, Notification, NotificationStatus
        from integrations.models import InboundEvent

        seen = [-1]

        def quiet() -> bool:
            close_old_connections()
            moment = now()
            logged = InboundEvent.objects.count()
            still = logged == seen[0]
            seen[0] = logged
            if self.stalled:
                return still
            due = Alert.objects.filter(next_action_at__lte=moment).exists()
            busy = Notification.objects.filter(
                Q(status=NotificationStatus.PENDING, due_at__lte=moment)
                | Q(status=NotificationStatus.SENDING)
            ).exists()
            return still and not due and not busy

        limit = 30.0 if self.stalled else SETTLE_LIMIT
        try:
            waited = harness.wait_for("a quiet server", quiet, limit, [self.server], 0.5)
            say(f"quiet after {waited:.1f} s, before {before}")
        except BenchError:
            state = engine_state()
            say(f"not quiet after {limit:.0f} s, before {before}: {state}")
            if not self.stalled:
                self.stalled = before
                self.report.note(
                    f"the engine had not caught up {limit:.0f} s before {before}: {state}; "
                    "later pauses waited only for the server"
                )
        self.loads.append(os.getloadavg()[0])


def engine_state() -> str:
    """What the engine has left undone, and whether anything will restart it."""
    from django.db import close_old_connections
    from django_q.models import Schedule

    from alertops.qcluster import WATCHDOG_NAME
    from escalation import ticker
    from escalation.models import Alert, EngineLease, Notification, NotificationStatus

    close_old_connections()
    moment = now()
    due = Alert.objects.filter(next_action_at__lte=moment).count()
    sending = Notification.objects.filter(status=NotificationStatus.SENDING).count()
    lease = EngineLease.objects.filter(name=ticker.LEASE_NAME).first()
    if lease is None:
        held = "no ticker lease"
    elif lease.expires_at > moment:
        held = "the ticker lease is live"
    else:
        held = f"the ticker lease expired {(moment - lease.expires_at).total_seconds():.0f} s ago"
    watchdog = "present" if Schedule.objects.filter(name=WATCHDOG_NAME).exists() else "missing"
    return f"{due:,} alerts due, {sending:,} notifications sending, {held}, watchdog {watchdog}"


def last_alert_id() -> int:
    from django.db.models import Max

    from escalation.models import Alert

    return Alert.objects.aggregate(last=Max("id"))["last"] or 0


def alerts_since(integration_id: int | None, after: int) -> int:
    from django.db import close_old_connections

    from escalation.models import Alert

    close_old_connections()
    return Alert.objects.filter(integration_id=integration_id, id__gt=after).count()


# -- formatting ------------------------------------------------------------------------------


def ms(value: float) -> str:
    if value == float("inf"):
        return f"> {GRACE:g} s"  # unanswered GRACE s after the last request was due
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"


def per_second(value: float) -> str:
    return f"{value:,.0f} req/s"


# -- the phases ------------------------------------------------------------------------------


def measure(report: Report) -> None:
    from django.conf import settings

    wrk = shutil.which("wrk")
    group, alertmanager, pagerduty = integrations()
    server, port = harness.start_service()
    pauses = Pauses(server, report)
    targets = [
        Target("GET /healthz", "GET", "/healthz", 200),
        Target(
            "Alertmanager /in/<key>/",
            "POST",
            alertmanager.url_path,
            202,
            alertmanager_body,
            alertmanager.pk,
        ),
        Target(
            "PagerDuty /v2/enqueue",
            "POST",
            "/v2/enqueue",
            202,
            pagerduty_body(pagerduty.key),
            pagerduty.pk,
        ),
    ]
    for target in targets:
        probe(target, port)
    healthz, *ingests = targets
    if healthz.unavailable:
        raise BenchError(f"the ceiling cannot be measured: {healthz.unavailable}")
    for target in ingests:
        if target.unavailable:
            report.row(f"{target.name}: answers", target.unavailable, f"{target.expect}", False)
            report.note(f"{target.name} not measured: {target.unavailable}")

    if wrk is None:
        report.row("max throughput, closed loop (needs wrk)", "wrk not installed", "wrk", False)
        report.note(
            f"wrk is not installed, so throughput and latency were not measured: "
            f"install it with `{WRK_INSTALL}` (Debian package wrk); the storm runs without it"
        )
    else:
        loads(report, pauses, port, Path(wrk), targets)

    storm(report, pauses, port, group, *ingests)
    pauses.wait("the end")
    report.row(
        f"engine caught up before every phase (within {SETTLE_LIMIT:.0f} s)",
        f"no, not before {pauses.stalled}" if pauses.stalled else "yes",
        "yes",
        not pauses.stalled,
    )

    workers = os.environ.get("WEB_WORKERS", "2")
    report.note(
        f"server: scripts/run as in production: gunicorn gthread, {workers} workers "
        f"(WEB_WORKERS) x 4 threads, access log on, DEBUG=false, on 127.0.0.1:{port}; the q "
        f"cluster ({settings.Q_CLUSTER['workers']} workers, ORM broker) picks every new alert "
        f"up and pages it meanwhile; {os.cpu_count()} CPUs shared by server, engine and "
        f"load generators; 1-minute load average {min(pauses.loads):.1f} to "
        f"{max(pauses.loads):.1f} at the phases' starts"
    )


def loads(report: Report, pauses: Pauses, port: int, wrk: Path, targets: list[Target]) -> None:
    run = os.urandom(3).hex()
    script = Path(os.environ.get("BENCH_WORKDIR", "/tmp")) / f"throughput-{run}.lua"
    script.write_text(WRK_SCRIPT)
    healthz, *ingests = targets
    measured = [t for t in targets if not t.unavailable]

    # Warm every worker and thread up, then the ceiling and each ingest, engine settled.
    run_wrk(wrk, script, healthz, port, f"{run}w", duration=2)
    closed: dict[str, Closed] = {}
    for i, target in enumerate(measured):
        pauses.wait(f"wrk {target.name}")
        before = last_alert_id()
        closed[target.name] = result = run_wrk(wrk, script, target, port, f"{run}c{i}")
        if target.integration_id:
            result.alerts = alerts_since(target.integration_id, before)
    ceiling = closed[healthz.name].rate
    half = ceiling / 2
    report.row(
        f"{healthz.name} max throughput (wrk, {CONNECTIONS} connections, {SECONDS:g} s)",
        per_second(ceiling),
        "(the ceiling)",
    )
    for target in ingests:
        if target.unavailable:
            continue
        result = closed[target.name]
        report.row(
            f"{target.name} max throughput",
            f"{per_second(result.rate)} ({result.rate / ceiling:.0%})",
            f">= {per_second(half)} (half)",
            result.rate >= half and not result.unexpected and not result.socket_errors,
        )
    for target in measured:
        result = closed[target.name]
        opened = f", {result.alerts:,} alerts opened" if result.alerts is not None else ""
        report.note(
            f"{target.name} closed loop: {result.requests:,} answers in {result.seconds:.1f} s"
            f"{opened}, {result.unexpected} not {target.expect}, {result.socket_errors} socket "
            f"errors, latency p50 {ms(result.p50)} / p99 {ms(result.p99)}"
        )

    # Latency at a fixed offered load: half of the ceiling for all three, and
    # half an ingest's own max for one that cannot sustain that.
    for i, target in enumerate(measured):
        rates = [(half, "half /healthz")]
        own = closed[target.name].rate / 2
        if target is not healthz and own < half * 0.95:
            rates.append((own, "half its own max"))
        for j, (rate, what) in enumerate(rates):
            pauses.wait(f"{target.name} at {rate:.0f}/s")
            say(f"open loop {target.name} at {rate:.0f}/s")
            raws = [target.raw(port, f"{run}o{i}{j}-{n}") for n in range(int(rate * SECONDS))]
            result = asyncio.run(open_loop(port, raws, rate))
            latency_row(report, target, result, what, checked=j == 0 and target is not healthz)


def latency_row(report: Report, target: Target, result: Opened, what: str, checked: bool) -> None:
    p99 = result.latency(99)
    wrong = result.wrong(target.expect)
    sustained = not result.unanswered and result.served >= result.offered * 0.95
    measured = f"{ms(result.latency(50))} / {ms(p99)}"
    if not sustained:
        measured += f"; served {per_second(result.served)}"
    report.row(
        f"{target.name} p50/p99 at {per_second(result.offered)} ({what})",
        measured,
        f"p99 <= {ms(TARGET_P99)}" if checked else "-",
        (p99 <= TARGET_P99 and not wrong) if checked else None,
    )
    details = (
        f"{target.name} open loop at {result.offered:.0f}/s for {SECONDS:g} s: "
        f"{result.scheduled:,} requests, {len(result.answers):,} answered "
        f"({len(wrong)} not {target.expect}), {result.unanswered:,} unanswered {GRACE:g} s after "
        f"the last was due; generator p99 lag {ms(result.lag)}"
    )
    if not sustained:
        details += f"; the server cannot sustain {result.offered:.0f}/s"
    if wrong:
        details += f"; e.g. {wrong[0].status} {wrong[0].error}"
    report.note(details)


def storm(
    report: Report,
    pauses: Pauses,
    port: int,
    group,
    alertmanager: Target,
    pagerduty: Target,
) -> None:
    from django.db import close_old_connections
    from django.db.models import Sum

    from escalation.models import Alert, AlertStatus
    from integrations.models import InboundEvent, Integration, IntegrationKind

    on_pagerduty = not pagerduty.unavailable
    target = pagerduty if on_pagerduty else alertmanager
    kind = IntegrationKind.PAGERDUTY if on_pagerduty else IntegrationKind.ALERTMANAGER
    integration = Integration.objects.create(
        name=f"Storm ({kind.label}, benchmark)",
        kind=kind,
        group=group,
        rate_limit_per_minute=UNREACHED_LIMIT,
    )
    body = pagerduty_body(integration.key) if on_pagerduty else alertmanager_body
    path = target.path if on_pagerduty else integration.url_path
    run = os.urandom(3).hex()
    keys = [f"storm-{run}-{n % STORM_KEYS}" for n in range(STORM_EVENTS)]
    random.Random(STORM_EVENTS).shuffle(keys)
    raws = [request_bytes("POST", path, port, body(key)) for key in keys]
    pauses.wait("the storm")
    say(f"storm to {path}")
    statuses, errors, took = asyncio.run(storm_send(port, raws, STORM_SENDERS))
    pauses.server.check()

    close_old_connections()
    alerts = Alert.objects.filter(integration=integration)
    open_count = alerts.filter(status=AlertStatus.OPEN).count()
    counted = alerts.count() + (alerts.aggregate(n=Sum("duplicate_count"))["n"] or 0)
    logged = InboundEvent.objects.filter(integration=integration).count()
    bad = sum(n for status, n in statuses.items() if status != 202)
    label = f"storm: {STORM_EVENTS:,} {'PagerDuty' if on_pagerduty else 'Alertmanager'} triggers"
    report.row(
        f"{label} over {STORM_KEYS} keys, open alerts after",
        f"{open_count}",
        f"= {STORM_KEYS}",
        open_count == STORM_KEYS,
    )
    report.row(f"storm: answers other than 202 (of {STORM_EVENTS:,})", f"{bad}", "0", bad == 0)
    report.row(
        "storm: events counted (alerts + duplicates)",
        f"{counted:,}",
        f"= {STORM_EVENTS:,}",
        counted == STORM_EVENTS,
    )
    report.row(
        f"storm: time taken, {STORM_SENDERS} concurrent senders",
        f"{took:.1f} s ({STORM_EVENTS / took:,.0f} events/s)",
    )
    answers = ", ".join(f"{status}: {n:,}" for status, n in sorted(statuses.items(), key=str))
    report.note(
        f"storm to {path.replace(integration.key, '<key>')} ({integration.name}): answers "
        f"{answers}; {logged:,} inbound log rows; {alerts.count()} alerts in all"
    )
    if errors:
        report.note(f"storm: first errors: {'; '.join(errors[:3])}")
    if not on_pagerduty:
        report.note(f"storm ran on Alertmanager webhooks: {pagerduty.unavailable}")


if __name__ == "__main__":
    main()
