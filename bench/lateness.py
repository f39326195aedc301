"""(a) Step lateness with 10,000 open alerts due over a two-minute window.

The q cluster runs (`manage.py qcluster`, its ticker firing due steps at
every tick). 10,000 alerts of the demo group are written straight to the
database with their first step due evenly over WINDOW seconds, starting LEAD
seconds ahead. Each alert's lateness is its first Notification's created_at
(the `now` of the tick that fired the step) minus the due time it was given.

Two more figures, for information: the same lateness as this process first
saw the notification committed (polling every POLL seconds: what the tick's
`now` hides when one tick takes long); due time to the first notification's
sent_at (handed to its transport) if every alert was paged within SEND_WAIT
seconds of the last step firing, else how many were; and the delivery rate.
"""

import itertools
import os
import time
from collections import Counter

from bench import harness
from bench.harness import BenchError, Report, now, seconds, secs, spread

ALERTS = int(os.environ.get("BENCH_LATENESS_ALERTS", 10_000))
WINDOW = float(os.environ.get("BENCH_LATENESS_WINDOW", 120))
LEAD = 10.0
DRAIN = 45.0  # after the last due time, give up waiting for steps to fire
SEND_WAIT = float(os.environ.get("BENCH_LATENESS_SEND_WAIT", 15))
POLL = 0.25
TARGET_P99 = 1.0


def main() -> None:
    harness.setup_django()
    harness.install_cleanup()
    report = Report("a. step lateness")
    try:
        measure(report)
    finally:
        harness.stop_all()
    report.emit()


def observe(due: dict[int, object], cluster: harness.Server, deadline) -> dict[int, object]:
    """Poll new Notification rows; return when this process first saw each alert's first one."""
    from django.db import close_old_connections

    from escalation.models import Notification

    seen: dict[int, object] = {}
    last_id = 0
    while len(seen) < len(due) and now() < deadline:
        cluster.check()
        close_old_connections()
        asked = now()
        batch = list(
            Notification.objects.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "alert_id")[:5000]
        )
        for notification_id, alert_id in batch:
            last_id = notification_id
            if alert_id in due:
                seen.setdefault(alert_id, asked)
        if len(batch) < 5000:
            time.sleep(POLL)
    return seen


def wait_sent(alert_ids: set[int], cluster: harness.Server, timeout: float) -> float:
    from escalation.models import Notification, NotificationStatus

    def all_sent() -> bool:
        paged = Notification.objects.filter(status=NotificationStatus.SENT, step_index=0)
        return paged.values("alert_id").distinct().count() >= len(alert_ids)

    try:
        return harness.wait_for("first notifications sent", all_sent, timeout, [cluster], 0.5)
    except BenchError:
        return timeout


def measure(report: Report) -> None:
    from django.db.models import Min

    from escalation.models import Notification

    cluster = harness.qcluster().start()
    harness.wait_for("the engine ticker to start", harness.ticker_is_live, 60, [cluster])

    first_due = now() + seconds(LEAD)
    began = time.monotonic()
    due = harness.create_due_alerts(ALERTS, first_due, WINDOW)
    report.note(
        f"{ALERTS} alerts written in {time.monotonic() - began:.1f} s, first step due "
        f"evenly over {WINDOW:.0f} s from {LEAD:.0f} s ahead ({ALERTS / WINDOW:.0f} per second); "
        "demo policy: step 1 pages the Primary by email and SMS"
    )
    seen = observe(due, cluster, first_due + seconds(WINDOW + DRAIN))
    fired_all_at = now()
    sent_wait = wait_sent(set(due), cluster, SEND_WAIT) if len(seen) == len(due) else 0.0
    cluster.stop()

    first = {
        row["alert_id"]: row
        for row in Notification.objects.filter(alert_id__in=list(due), round=0, step_index=0)
        .values("alert_id")
        .annotate(created=Min("created_at"), sent=Min("sent_at"))
    }
    missing = len(due) - len(first)
    if missing:
        report.note(f"{missing} alerts had no notification {DRAIN:.0f} s after the window")
    if not first:
        raise BenchError("no step fired at all")

    lateness = [(row["created"] - due[a]).total_seconds() for a, row in first.items()]
    p99 = harness.percentile(lateness, 99)
    report.row(
        f"lateness p50/p99/max, {ALERTS} alerts (created_at - due)",
        spread(lateness),
        f"p99 <= {TARGET_P99:g} s",
        p99 <= TARGET_P99 and not missing,
    )
    committed = [(seen[a] - due[a]).total_seconds() for a in first if a in seen]
    if committed:
        report.row(f"lateness p50/p99/max as committed (seen, +-{POLL:g} s)", spread(committed))
    sent = [(row["sent"] - due[a]).total_seconds() for a, row in first.items() if row["sent"]]
    if len(sent) == len(first):
        report.row("due -> first sent_at p50/p99/max", spread(sent))
        report.note(f"every alert was paged within {sent_wait:.1f} s after the last step fired")
    else:
        report.row(
            f"alerts paged (a sent_at) {SEND_WAIT:.0f} s after the last step fired",
            f"{len(sent)} of {len(first)}",
        )
    stamps = list(
        Notification.objects.filter(alert_id__in=list(due), sent_at__isnull=False).values_list(
            "sent_at", flat=True
        )
    )
    if len(stamps) > 1:
        span = (max(stamps) - min(stamps)).total_seconds()
        report.row(
            "notifications marked sent per second",
            f"{len(stamps) / span:.0f}/s ({len(stamps)} in {span:.0f} s)",
        )

    late = sum(1 for x in lateness if x > TARGET_P99)
    report.note(f"{late} of {len(lateness)} steps fired more than {TARGET_P99:g} s late")
    describe_ticks(report, [row["created"] for row in first.values()])
    last = (fired_all_at - first_due).total_seconds()
    report.note(f"the last step fired {last:.1f} s after the first was due")


def describe_ticks(report: Report, stamps: list) -> None:
    """Each tick stamps its rows with its own `now`: the gaps between ticks show stalls."""
    per_tick = Counter(stamps)
    ticks = sorted(per_tick)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ticks)]
    if gaps:
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        report.note(
            f"{len(ticks)} ticks fired steps; steps per tick max {max(per_tick.values())}; "
            f"gap between ticks p50 {secs(harness.percentile(gaps, 50))}, "
            f"max {secs(gaps[worst])} (after the tick at {ticks[worst]:%H:%M:%S.%f})"
        )


if __name__ == "__main__":
    main()
