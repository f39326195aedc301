"""Where the time of (a) goes: the cost of one step, one dispatch, one delivery.

No cluster: this process writes STEPS due alerts of the demo group and calls
engine.run_due once (as one tick would), then ticker.tick (nothing is due any
more, so only its dispatch: claim the rows and enqueue their delivery), then
dispatch.deliver on a few claimed rows per channel (what a q worker runs).
Each is timed, its queries counted (CaptureQueriesContext) and the time spent
inside the database driver summed (connection.execute_wrapper), on an
otherwise idle process: these are best cases for the same work in the cluster.

The SMS/voice rate limit is off here, so every row is its own message.
"""

import contextlib
import io
import os
import re
import time
from collections import Counter

from bench import harness
from bench.harness import Report, now, seconds

STEPS = 500
DELIVERIES = 20
os.environ.update({"THROTTLE_SMS_VOICE_PER_MINUTE": "0", "THROTTLE_SMS_VOICE_PER_15_MINUTES": "0"})
TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"')


class DriverTime:
    """Sums the time spent executing SQL (driver and database), per query."""

    def __init__(self) -> None:
        self.total = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.total += time.perf_counter() - started


@contextlib.contextmanager
def measured():
    """Yield a dict that gets `seconds`, `queries` (their SQL) and `driver` seconds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result: dict = {}
    driver = DriverTime()
    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(driver):
        started = time.perf_counter()
        yield result
        result["seconds"] = time.perf_counter() - started
    result["queries"] = [q["sql"] for q in queries.captured_queries]
    result["driver"] = driver.total


def breakdown(queries: list[str], per: int) -> str:
    """Queries per unit by verb and table, e.g. 'SELECT accounts_contactmethod 2.0'."""
    kinds = Counter()
    for sql in queries:
        verb = sql.split(None, 1)[0].upper()
        table = TABLE.search(sql)
        kinds[f"{verb} {table.group(1) if table else ''}".strip()] += 1
    return ", ".join(f"{kind} {n / per:.2g}" for kind, n in kinds.most_common())


def describe(m: dict, per: int) -> str:
    ms = m["seconds"] / per * 1000
    share = m["driver"] / m["seconds"] * 100 if m["seconds"] else 0
    return f"{ms:.1f} ms, {len(m['queries']) / per:.1f} queries ({share:.0f}% in the driver)"


def main() -> None:
    harness.setup_django()
    report = Report("a. cost per unit")
    measure(report)
    report.emit()


def measure(report: Report) -> None:
    from escalation import dispatch, engine, ticker
    from escalation.models import Notification, NotificationStatus

    harness.create_due_alerts(STEPS, now() - seconds(5), 1)
    with measured() as step:
        fired = engine.run_due(now())
    per_second = fired / step["seconds"] if step["seconds"] else 0
    report.row(
        f"engine.run_due, per step ({fired} due at once)",
        f"{describe(step, fired)}: {per_second:.0f} steps/s",
    )
    report.note(f"queries per step: {breakdown(step['queries'], fired)}")

    # The ticker's own pass, handing claimed rows to the q workers its own way;
    # nothing is due any more, so this is the dispatch alone.
    with measured() as claim:
        _, claimed = ticker.tick(now())
    report.row(
        f"ticker.tick dispatch, per row claimed and enqueued ({claimed})",
        describe(claim, claimed),
    )
    report.note(f"queries per dispatched row: {breakdown(claim['queries'], claimed)}")

    sending = Notification.objects.filter(status=NotificationStatus.SENDING)
    for channel in ("email", "sms"):
        ids = list(sending.filter(channel=channel).values_list("id", flat=True)[:DELIVERIES])
        if not ids:
            continue
        with contextlib.redirect_stdout(io.StringIO()), measured() as delivery:
            for notification_id in ids:
                dispatch.deliver(notification_id)
        report.row(f"dispatch.deliver, per {channel} (no q overhead)", describe(delivery, len(ids)))


if __name__ == "__main__":
    main()
