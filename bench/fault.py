"""(c) kill -9 the q cluster mid-run: nothing lost, nothing sent twice.

The q cluster runs; 1,000 alerts of the demo group are written with their
first step due evenly over WINDOW seconds. Half way through, the cluster's
whole process group is killed with SIGKILL and a new cluster is started at
once. When every expected notification is sent (or RECOVERY_LIMIT passes):

- lost: expected rows (the Primary by email and by SMS, round 0, step 0,
  attempt 0, for every alert) missing or not in status sent;
- duplicated: Notification rows sharing alert/user/channel/round/step/attempt,
  and sends recorded twice (more than one "notified" timeline entry for one
  notification);
- recovery: from the kill to the last expected notification's sent_at.

The transports' own output (the console email backend and the development
Twilio client write each message handed to them to the cluster's log) is
counted too: a message handed over and then killed before its row was marked
sent goes again, by design (at least once), and shows up there.

The SMS/voice rate limit is turned off (THROTTLE_* = 0) for this run: with it,
the 1,000 SMS to the one Primary would be bundled and spread over hours.
"""

import os
import re
import time
from collections import Counter

from bench import harness
from bench.harness import BenchError, Report, now, seconds, secs

ALERTS = int(os.environ.get("BENCH_FAULT_ALERTS", 1_000))
WINDOW = float(os.environ.get("BENCH_FAULT_WINDOW", 20))
LEAD = 3.0
KILL_AFTER = WINDOW / 2  # seconds after the first due time
RECOVERY_LIMIT = float(os.environ.get("BENCH_FAULT_RECOVERY_LIMIT", 150))
NO_THROTTLE = {"THROTTLE_SMS_VOICE_PER_MINUTE": "0", "THROTTLE_SMS_VOICE_PER_15_MINUTES": "0"}
EMAIL_MARK = re.compile(rb"^X-AlertOps-Alert: (\d+)\s*$", re.MULTILINE)
SMS_MARK = b"development Twilio POST Messages.json"


def main() -> None:
    harness.setup_django()
    harness.install_cleanup()
    report = Report("c. kill -9")
    try:
        measure(report)
    finally:
        harness.stop_all()
    report.emit()


def status_counts(ids: list[int]) -> Counter:
    from django.db import close_old_connections

    from escalation.models import Notification

    close_old_connections()
    return Counter(Notification.objects.filter(alert_id__in=ids).values_list("status", flat=True))


def unfired(ids: list[int]) -> int:
    from escalation.models import Alert

    return Alert.objects.filter(pk__in=ids, round=0, step_index=0).count()


def measure(report: Report) -> None:
    from escalation.models import Notification, NotificationStatus

    first = harness.Server("qcluster-1", [harness.PYTHON, "manage.py", "qcluster"], NO_THROTTLE)
    first.start()
    harness.wait_for("the engine ticker to start", harness.ticker_is_live, 60, [first])
    first_due = now() + seconds(LEAD)
    due = harness.create_due_alerts(ALERTS, first_due, WINDOW)
    ids = sorted(due)
    expected_rows = 2 * len(ids)

    harness.wait_until(first_due + seconds(KILL_AFTER))
    killed_at = now()
    first.kill_hard()
    gone = (now() - killed_at).total_seconds()
    before = status_counts(ids)
    stuck = set(
        Notification.objects.filter(
            alert_id__in=ids, status=NotificationStatus.SENDING
        ).values_list("id", flat=True)
    )
    report.note(
        f"killed at {KILL_AFTER:g} s of a {WINDOW:g} s window ({gone:.2f} s until the whole "
        f"group was gone): {ALERTS - unfired(ids)} of {ALERTS} steps fired, rows by status "
        f"{dict(sorted(before.items()))}"
    )

    second = harness.Server(
        "qcluster-2", [harness.PYTHON, "manage.py", "qcluster"], NO_THROTTLE
    ).start()

    def recovered() -> bool:
        counts = status_counts(ids)
        return counts[NotificationStatus.SENT] >= expected_rows and not unfired(ids)

    try:
        harness.wait_for("every expected notification sent", recovered, RECOVERY_LIMIT, [second])
    except BenchError:
        report.note(f"not recovered {RECOVERY_LIMIT:.0f} s after the kill: {status_counts(ids)}")
    time.sleep(2)  # anything still running would show as a duplicate
    second.stop()

    rows = list(
        Notification.objects.filter(alert_id__in=ids).values(
            "id", "alert_id", "user_id", "channel", "round", "step_index", "step_attempt"
        )
    )
    sent = Notification.objects.filter(alert_id__in=ids, status=NotificationStatus.SENT)
    count_lost(report, ids, rows, set(sent.values_list("id", flat=True)))
    count_duplicates(report, ids, rows, [first, second])

    last = max((s for s in sent.values_list("sent_at", flat=True)), default=None)
    if last is not None and status_counts(ids)[NotificationStatus.SENT] >= expected_rows:
        report.row(
            "recovery: kill -> every expected row sent", secs((last - killed_at).total_seconds())
        )
    else:
        report.row("recovery: kill -> every expected row sent", f"> {RECOVERY_LIMIT:.0f} s")
    explain_recovery(report, ids, killed_at, stuck)


def explain_recovery(report: Report, ids: list[int], killed_at, stuck: set[int]) -> None:
    """When the new ticker fired its first step, and when the rows caught in `sending` went."""
    from django.db.models import Max, Min

    from escalation.models import Notification

    def after_kill(moment) -> str:
        return f"{(moment - killed_at).total_seconds():.1f} s" if moment else "never"

    rows = Notification.objects.filter(alert_id__in=ids)
    back = rows.filter(created_at__gt=killed_at).aggregate(first=Min("created_at"))["first"]
    others = rows.exclude(pk__in=stuck).aggregate(last=Max("sent_at"))["last"]
    caught = rows.filter(pk__in=stuck).aggregate(first=Min("sent_at"), last=Max("sent_at"))
    if stuck:
        in_flight = (
            f"the {len(stuck)} rows caught in `sending` went between "
            f"{after_kill(caught['first'])} and {after_kill(caught['last'])} (the reaper "
            "waits dispatch.SENDING_TIMEOUT)"
        )
    else:
        in_flight = "no row was caught in `sending`"
    report.note(
        f"after the kill: the new ticker fired its first step at {after_kill(back)}; rows not "
        f"caught in flight were all sent by {after_kill(others)}; {in_flight}"
    )


def expected_keys(ids: list[int]) -> set[tuple]:
    from accounts.models import Channel
    from alertops.management.commands.demo import GROUP_NAME
    from groups.models import Membership

    primary = Membership.objects.get(group__name=GROUP_NAME, is_primary=True).user_id
    return {(a, primary, c, 0, 0, 0) for a in ids for c in (Channel.EMAIL, Channel.SMS)}


def key(row: dict) -> tuple:
    return (
        row["alert_id"],
        row["user_id"],
        row["channel"],
        row["round"],
        row["step_index"],
        row["step_attempt"],
    )


def count_lost(report: Report, ids: list[int], rows: list[dict], sent: set[int]) -> None:
    expected = expected_keys(ids)
    found = {key(r) for r in rows}
    sent_keys = {key(r) for r in rows if r["id"] in sent}
    missing = expected - found
    unsent = (expected & found) - sent_keys
    lost = len(missing) + len(unsent)
    report.row(
        f"lost notifications (of {len(expected)} expected)",
        f"{lost} ({len(missing)} missing, {len(unsent)} not sent)",
        "0",
        lost == 0,
    )
    unexpected = found - expected
    if unexpected:
        report.note(f"{len(unexpected)} unexpected rows, e.g. {sorted(unexpected)[:3]}")


def count_duplicates(
    report: Report, ids: list[int], rows: list[dict], clusters: list[harness.Server]
) -> None:
    from escalation.models import AlertEvent, EventKind

    per_key = Counter(key(r) for r in rows)
    twin_rows = sum(n - 1 for n in per_key.values() if n > 1)
    notified = Counter(
        AlertEvent.objects.filter(
            alert_id__in=ids, kind=EventKind.NOTIFIED, notification__isnull=False
        ).values_list("notification_id", flat=True)
    )
    twice = sum(n - 1 for n in notified.values() if n > 1)
    report.row(
        "duplicated: rows with the same key / sends recorded twice",
        f"{twin_rows} / {twice}",
        "0 / 0",
        twin_rows == 0 and twice == 0,
    )
    silent = len({r["id"] for r in rows} - set(notified))
    if silent:
        report.note(f"{silent} notifications have no 'notified' entry on their alert's timeline")

    logs = b"".join(c.log_path.read_bytes() for c in clusters if c.log_path.exists())
    wanted = set(ids)
    emails = Counter(int(m) for m in EMAIL_MARK.findall(logs) if int(m) in wanted)
    sms = logs.count(SMS_MARK)
    again = sum(n - 1 for n in emails.values() if n > 1) + max(sms - len(ids), 0)
    report.row(
        "messages handed to a transport twice (from its log)",
        f"{again} (emails {sum(emails.values())}, SMS {sms})",
    )
    if len(emails) < len(ids):
        report.note(f"{len(ids) - len(emails)} alerts have no email in the transport log")


if __name__ == "__main__":
    main()
