"""Maintenance windows: when they run (in their own zone, across DST), and
what they do to alerts: recorded, marked, paging nobody until the window ends.
Time is passed in, never slept."""

from datetime import UTC, datetime, timedelta

import pytest

from escalation import engine
from escalation.alerts import AlertInput, acknowledge, assign, raise_alert, resolve
from escalation.models import Alert, AlertStatus, Notification
from groups.models import Group
from integrations import heartbeats, maintenance
from integrations.models import InboundEvent, Integration, IntegrationKind, Repeat
from tests.conftest import T0, post_json
from tests.maintenance_helpers import BERLIN, window


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paged(alert: Alert) -> list[str]:
    return [n.user.username for n in alert.notifications.order_by("id")]


def send(client, integration, key="db-1/disk"):
    response = post_json(client, integration, {"summary": "Disk full", "dedup_key": key})
    assert response.status_code == 202, response.content
    return response.json()


# When windows run


def test_a_daily_window_keeps_its_wall_clock_time_across_the_spring_dst_change(group):
    # Daily 09:00-10:00 in Berlin: 08:00 UTC in winter, 07:00 UTC from 29 March 2026.
    daily = window(
        group=group, start=datetime(2026, 3, 20, 9, 0, tzinfo=BERLIN), minutes=60, repeat="daily"
    )

    assert maintenance.current(daily, utc(2026, 3, 28, 8, 30))
    assert not maintenance.current(daily, utc(2026, 3, 28, 7, 30))
    assert maintenance.current(daily, utc(2026, 3, 30, 7, 30))
    assert not maintenance.current(daily, utc(2026, 3, 30, 8, 30))
    on_30th = maintenance.current(daily, utc(2026, 3, 30, 7, 0))
    assert (on_30th.start, on_30th.end) == (utc(2026, 3, 30, 7, 0), utc(2026, 3, 30, 8, 0))


def test_an_occurrence_that_spans_the_change_lasts_its_real_length(group):
    # 01:30 Berlin for 2 hours on 29 March: 00:30 UTC to 02:30 UTC, although the
    # wall clock jumps from 02:00 to 03:00 in between (it ends at 04:30 local).
    daily = window(
        group=group, start=datetime(2026, 3, 27, 1, 30, tzinfo=BERLIN), minutes=120, repeat="daily"
    )
    spanning = maintenance.current(daily, utc(2026, 3, 29, 2, 0))
    assert (spanning.start, spanning.end) == (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 2, 30))
    assert spanning.end.astimezone(BERLIN).hour == 4


def test_a_weekly_window_across_the_autumn_change(group):
    # Sundays 02:00-04:00 in Berlin; 25 October 2026 the clocks go back at 03:00.
    weekly = window(
        group=group, start=datetime(2026, 10, 18, 2, 0, tzinfo=BERLIN), minutes=120, repeat="weekly"
    )
    before = maintenance.next_occurrence(weekly, utc(2026, 10, 12))
    after = maintenance.next_occurrence(weekly, utc(2026, 10, 19))
    later = maintenance.next_occurrence(weekly, utc(2026, 10, 26))
    assert before.start == utc(2026, 10, 18, 0, 0)  # 02:00 CEST
    assert after.start == utc(2026, 10, 25, 0, 0)  # 02:00 CEST, the first of the two 02:00s
    assert later.start == utc(2026, 11, 1, 1, 0)  # 02:00 CET
    assert later.end - later.start == timedelta(hours=2)


def test_monthly_window_and_its_last_day(group):
    monthly = window(
        group=group,
        start=datetime(2026, 1, 15, 22, 0, tzinfo=BERLIN),
        minutes=30,
        repeat="monthly",
        repeat_until=datetime(2026, 4, 15).date(),
    )
    assert maintenance.next_occurrence(monthly, utc(2026, 2, 1)).start == utc(2026, 2, 15, 21, 0)
    assert maintenance.next_occurrence(monthly, utc(2026, 4, 1)).start == utc(2026, 4, 15, 20, 0)
    assert maintenance.next_occurrence(monthly, utc(2026, 4, 16)) is None
    assert maintenance.current(monthly, utc(2026, 5, 15, 20, 10)) is None


def test_once_window_runs_once_and_ending_it_stops_it(group):
    once = window(group=group, start=T0, minutes=60)
    assert maintenance.current(once, T0 + minutes(59))
    assert not maintenance.current(once, T0 + minutes(60))
    assert maintenance.next_occurrence(once, T0 + minutes(61)) is None

    daily = window(group=group, start=T0, minutes=60, repeat="daily")
    maintenance.end_now(daily, T0 + minutes(30))
    daily.refresh_from_db()
    assert not maintenance.current(daily, T0 + minutes(31))
    assert maintenance.current(daily, T0 + timedelta(days=1, minutes=10)) is None


# What windows do to alerts


def test_alert_in_a_window_is_recorded_marked_and_pages_nobody_until_it_ends(
    client, webhook, group, now
):
    window(integration=webhook, start=T0 - minutes(10), minutes=40, reason="Disk swap")

    result = send(client, webhook)

    alert = Alert.objects.get()
    assert result["outcome"] == "suppressed"
    assert "maintenance window 'Disk swap'" in result["results"][0]["message"]
    assert InboundEvent.objects.get().outcome == "suppressed"
    assert alert.status == AlertStatus.OPEN
    assert alert.held_until == T0 + minutes(30)
    assert alert.next_action_at == T0 + minutes(30)
    assert "maintenance window 'Disk swap'" in alert.hold_reason
    assert alert.maintenance_window.reason == "Disk swap"
    timeline = " ".join(alert.events.values_list("message", flat=True))
    assert "nobody is paged until" in timeline

    for at in (T0, T0 + minutes(5), T0 + minutes(29)):
        engine.run_due(at)
    assert paged(alert) == []

    engine.run_due(T0 + minutes(30))
    alert.refresh_from_db()
    assert paged(alert) == ["alice"]
    assert alert.held_until is None
    assert alert.hold_reason  # still marked as having arrived in maintenance
    assert alert.events.filter(message__contains="is over and the alert is still open").exists()
    engine.run_due(T0 + minutes(35))
    assert paged(alert) == ["alice", "bob"]  # the policy's timing from the window's end


def test_an_alert_resolved_during_the_window_never_pages(client, webhook, now):
    window(integration=webhook, start=T0, minutes=30)
    send(client, webhook)
    alert = Alert.objects.get()

    resolve(alert, T0 + minutes(10))
    for at in (T0 + minutes(30), T0 + minutes(60)):
        engine.run_due(at)

    assert Notification.objects.count() == 0


def test_an_alert_acknowledged_during_the_window_does_not_page_when_it_ends(client, webhook, now):
    window(integration=webhook, start=T0, minutes=30)
    send(client, webhook)
    alert = Alert.objects.get()

    assert acknowledge(alert, T0 + minutes(10))
    engine.run_due(T0 + minutes(31))

    assert Notification.objects.count() == 0


def test_assigning_a_held_alert_pages_the_assignee_at_once(client, webhook, bob, now):
    window(integration=webhook, start=T0, minutes=30)
    send(client, webhook)
    alert = Alert.objects.get()

    assert assign(alert, bob, T0 + minutes(5))
    engine.run_due(T0 + minutes(5))

    assert paged(alert) == ["bob"]


def test_windows_silence_their_scope_and_nothing_else(
    client, group, webhook, alertmanager, policy, now
):
    other_group = Group.objects.create(name="Search", escalation_policy=policy)
    other_group.memberships.create(
        user=group.memberships.get(is_primary=True).user, is_primary=True
    )
    search = Integration.objects.create(
        name="Search hook", kind=IntegrationKind.WEBHOOK, group=other_group
    )
    window(integration=alertmanager, start=T0 - minutes(5), minutes=60)  # another integration
    window(group=other_group, start=T0 - minutes(5), minutes=60)  # another group
    window(integration=webhook, start=T0 + minutes(10), minutes=60)  # not yet
    window(integration=webhook, start=T0 - minutes(60), minutes=30)  # over

    assert send(client, webhook)["outcome"] == "created"
    assert send(client, search)["outcome"] == "suppressed"
    engine.run_due(T0)

    assert paged(Alert.objects.get(integration=webhook)) == ["alice"]
    assert paged(Alert.objects.get(integration=search)) == []


def test_a_group_window_holds_every_integration_routed_to_the_group(client, group, webhook, now):
    second = Integration.objects.create(name="Hook 2", kind=IntegrationKind.WEBHOOK, group=group)
    window(group=group, start=T0, minutes=15)

    assert send(client, webhook)["outcome"] == "suppressed"
    assert send(client, second)["outcome"] == "suppressed"
    engine.run_due(T0 + minutes(1))

    assert Alert.objects.count() == 2
    assert Notification.objects.count() == 0


def test_alerts_open_before_the_window_keep_paging(client, webhook, now):
    send(client, webhook)
    engine.run_due(T0)
    window(integration=webhook, start=T0 + minutes(1), minutes=60)

    engine.run_due(T0 + minutes(5))

    assert paged(Alert.objects.get()) == ["alice", "bob"]


def test_a_duplicate_during_the_window_of_a_paging_alert_is_just_counted(client, webhook, now):
    send(client, webhook)
    window(integration=webhook, start=T0 + minutes(1), minutes=60)
    now.value = T0 + minutes(2)

    assert send(client, webhook)["outcome"] == "duplicate"
    assert Alert.objects.get().held_until is None


def test_back_to_back_windows_hold_until_the_last_ends(client, webhook, group, now):
    window(integration=webhook, start=T0, minutes=30)
    window(group=group, start=T0 + minutes(30), minutes=30)

    send(client, webhook)

    assert Alert.objects.get().held_until == T0 + minutes(60)


def test_ending_a_window_early_lets_its_alerts_escalate_at_once(client, webhook, now):
    w = window(integration=webhook, start=T0, minutes=120)
    send(client, webhook)
    alert = Alert.objects.get()

    assert maintenance.end_now(w, T0 + minutes(20)) == 1
    engine.run_due(T0 + minutes(20))

    assert paged(alert) == ["alice"]
    assert alert.events.filter(message__contains="was ended early").exists()


def test_deleting_a_running_window_lets_its_alerts_escalate(client, webhook, now):
    w = window(integration=webhook, start=T0, minutes=120)
    send(client, webhook)

    assert maintenance.delete(w, T0 + minutes(5)) == 1
    engine.run_due(T0 + minutes(5))

    alert = Alert.objects.get()
    assert paged(alert) == ["alice"]
    assert alert.maintenance_window is None
    assert alert.hold_reason  # the mark stays


def test_a_new_window_extends_the_hold_of_alerts_it_covers(client, webhook, group, now):
    window(integration=webhook, start=T0, minutes=30)
    send(client, webhook)
    longer = window(group=group, start=T0 + minutes(10), minutes=60)

    maintenance.rehold(longer, T0 + minutes(10), "Another window began")

    alert = Alert.objects.get()
    assert alert.held_until == T0 + minutes(70)
    engine.run_due(T0 + minutes(30))
    assert paged(alert) == []


def test_a_hold_is_not_moved_once_the_alert_has_paged(group):
    alert, _ = raise_alert(group, AlertInput(summary="Disk full", dedup_key="k"), T0)
    engine.run_due(T0)
    alert.refresh_from_db()

    from escalation.alerts import move_hold

    assert not move_hold(alert, T0 + minutes(60), T0, "test")
    alert.refresh_from_db()
    assert alert.held_until is None


def test_across_dst_a_daily_night_window_holds_at_the_right_hour(client, webhook, now):
    """02:00-03:00 Berlin every night: 01:00-02:00 UTC before 29 March, 00:00-01:00 after."""
    window(
        integration=webhook,
        start=datetime(2026, 3, 20, 2, 0, tzinfo=BERLIN),
        minutes=60,
        repeat=Repeat.DAILY,
    )

    now.value = utc(2026, 3, 30, 0, 30)  # 02:30 CEST: inside
    assert send(client, webhook, key="a")["outcome"] == "suppressed"
    assert Alert.objects.get(dedup_key="a").held_until == utc(2026, 3, 30, 1, 0)

    now.value = utc(2026, 3, 30, 1, 30)  # 03:30 CEST: outside, though inside in winter time
    assert send(client, webhook, key="b")["outcome"] == "created"

    now.value = utc(2026, 3, 28, 1, 30)  # 02:30 CET the Saturday before: inside
    assert send(client, webhook, key="c")["outcome"] == "suppressed"


def test_a_missed_heartbeat_in_a_window_pages_nobody(group, now):
    beat = Integration.objects.create(
        name="Backup", kind=IntegrationKind.HEARTBEAT, group=group, heartbeat_minutes=10
    )
    Integration.objects.filter(pk=beat.pk).update(created_at=T0)
    window(integration=beat, start=T0, minutes=60, reason="Backup server move")

    assert heartbeats.check(T0 + minutes(15)) == 1
    engine.run_due(T0 + minutes(15))

    alert = Alert.objects.get()
    assert alert.held_until == T0 + minutes(60)
    assert paged(alert) == []


@pytest.mark.parametrize("zone", ["Nowhere/Atlantis", ""])
def test_an_unknown_zone_is_read_as_utc(group, zone):
    w = window(group=group, start=T0, minutes=60, zone=zone, repeat="daily")
    assert maintenance.current(w, T0 + timedelta(days=3, minutes=5))


def test_outbound_webhooks_are_told_the_alert_is_held(client, webhook, now):
    from tests.outbound_helpers import deliveries, make_webhook

    make_webhook("https://tickets.example.com/hook", events=["created"])
    window(integration=webhook, start=T0, minutes=30, reason="Disk swap")

    send(client, webhook)

    (created,) = deliveries()
    assert created.payload["alert"]["held_until"] == "2026-03-02T09:30:00.000Z"
    assert "Disk swap" in created.payload["alert"]["hold_reason"]
