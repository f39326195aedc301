"""The REST API, the production-settings system checks, and the demo command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Channel, ContactMethod, PlatformRole, User
from escalation import alerts, engine, ticker
from escalation.alerts import AlertInput, raise_alert
from escalation.models import EscalationPolicy, EscalationStep, Notification
from groups.models import Group, Membership
from integrations.models import Integration, IntegrationKind
from tests.conftest import T0

OUR_CHECKS = {"alertops.W001", "alertops.W002"}
STRONG_KEY = "k3y-" + "x7Qp9" * 12


# --- API -------------------------------------------------------------------


def test_health_says_stopped_without_a_live_lease(client, db):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"engine": "stopped", "database": "ok"}


def test_health_says_running_while_a_ticker_holds_the_lease(client, db):
    assert ticker.acquire("ticker-1", timezone.now())
    assert client.get("/api/health").json()["engine"] == "running"
    ticker.release("ticker-1", timezone.now())
    assert client.get("/api/health").json()["engine"] == "stopped"


def test_health_says_stopped_when_the_lease_has_expired(client, db):
    assert ticker.acquire("ticker-1", timezone.now() - timedelta(minutes=5))
    assert client.get("/api/health").json()["engine"] == "stopped"


def test_alerts_need_a_login(client, group):
    raise_alert(group, AlertInput(summary="Database is down", dedup_key="a"), now=T0)
    response = client.get("/api/alerts")
    assert response.status_code == 401
    assert "Database is down" not in response.content.decode()


@pytest.mark.parametrize("who", ["alice", "bob", "sam"])
def test_alerts_lists_active_alerts_only(client, group, stakeholder, who):
    opened, _ = raise_alert(group, AlertInput(summary="Database is down", dedup_key="a"), now=T0)
    acked, _ = raise_alert(group, AlertInput(summary="Disk full", dedup_key="b"), now=T0)
    alerts.acknowledge(acked, T0)
    gone, _ = raise_alert(group, AlertInput(summary="Old cert", dedup_key="c"), now=T0)
    alerts.resolve(gone, T0)
    client.force_login(User.objects.get(username=who))

    response = client.get("/api/alerts")

    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()}
    assert set(rows) == {opened.pk, acked.pk}
    assert rows[opened.pk]["status"] == "open"
    assert rows[acked.pk]["status"] == "acknowledged"
    assert rows[opened.pk]["group"] == "Payments"
    assert rows[opened.pk]["summary"] == "Database is down"


def test_api_docs_are_served(client, db):
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/alerts" in schema["paths"]
    assert "/api/health" in schema["paths"]


# --- System checks ---------------------------------------------------------


def ids(messages) -> set[str]:
    return {m.id for m in messages} & OUR_CHECKS


def test_public_deployment_with_debug_and_dev_key_warns(settings, db):
    settings.PUBLIC_BASE_URL = "https://oncall.example.com"
    settings.DEBUG = True
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    found = [m for m in run_checks() if m.id in OUR_CHECKS]
    assert {m.id for m in found} == OUR_CHECKS
    assert all(m.hint for m in found)


def test_public_deployment_with_safe_settings_is_quiet(settings, db):
    settings.PUBLIC_BASE_URL = "https://oncall.example.com"
    settings.DEBUG = False
    settings.SECRET_KEY = STRONG_KEY
    assert ids(run_checks()) == set()
    assert ids(run_checks(include_deployment_checks=True)) == set()


@pytest.mark.parametrize(
    ("debug", "key", "expected"),
    [(True, STRONG_KEY, {"alertops.W001"}), (False, None, {"alertops.W002"})],
)
def test_each_unsafe_setting_warns_on_its_own(settings, db, debug, key, expected):
    settings.PUBLIC_BASE_URL = "https://oncall.example.com"
    settings.DEBUG = debug
    settings.SECRET_KEY = key or settings.DEVELOPMENT_SECRET_KEY
    assert ids(run_checks()) == expected


def test_local_deployment_warns_only_under_deploy_checks(settings, db):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.DEBUG = True
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    assert ids(run_checks()) == set()
    assert ids(run_checks(include_deployment_checks=True)) == OUR_CHECKS


# --- The demo command ------------------------------------------------------


def demo() -> str:
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = [User, Group, Membership, ContactMethod, EscalationPolicy, EscalationStep]
    found = {m.__name__: m.objects.count() for m in models}
    found["Integration"] = Integration.objects.count()
    return found


def test_demo_creates_admin_group_policy_and_integrations(db):
    output = demo()

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("admin")
    assert admin.role == PlatformRole.OWNER

    group = Group.objects.get(name="Payments On-Call")
    members = list(group.memberships.select_related("user").order_by("position"))
    assert [m.roles for m in members] == [["Primary"], ["Secondary"], ["Manager"]]
    for membership in members:
        channels = set(membership.user.contact_methods.values_list("channel", flat=True))
        assert {Channel.EMAIL, Channel.SMS} <= channels
        assert membership.user.can_respond

    steps = list(group.escalation_policy.steps.order_by("position"))
    assert [(s.target, s.wait_minutes) for s in steps] == [
        ("primary", 5),
        ("secondary", 10),
        ("manager", 10),
    ]
    routed = Integration.objects.filter(group=group)
    assert set(routed.values_list("kind", flat=True)) == {
        IntegrationKind.ALERTMANAGER,
        IntegrationKind.WEBHOOK,
        IntegrationKind.GRAFANA,
        IntegrationKind.PAGERDUTY,
        IntegrationKind.OPSGENIE,
        IntegrationKind.EMAIL,
    }
    email = Integration.objects.get(kind=IntegrationKind.EMAIL)
    assert f"{email.key}@inbound.alertops.localhost" in output


def test_demo_group_pages_its_primary_by_email_and_sms(db):
    demo()
    group = Group.objects.get(name="Payments On-Call")
    alert, _ = raise_alert(group, AlertInput(summary="Card auth failing", dedup_key="x"), now=T0)

    assert engine.run_due(T0) == 1

    sent = Notification.objects.filter(alert=alert)
    assert {(n.user.username, n.channel) for n in sent} == {("priya", "email"), ("priya", "sms")}


def test_demo_twice_creates_nothing_new(db):
    first = demo()
    before = counts()
    second = demo()
    assert counts() == before
    assert second == first


def test_demo_prints_where_to_go(db):
    output = demo()
    assert "http://testserver/\n" in output
    assert "admin / admin" in output
    by_kind = {i.kind: i for i in Integration.objects.all()}
    for kind in (IntegrationKind.ALERTMANAGER, IntegrationKind.WEBHOOK, IntegrationKind.GRAFANA):
        assert f"http://testserver/in/{by_kind[kind].key}/" in output
    pagerduty = by_kind[IntegrationKind.PAGERDUTY]
    assert f"http://testserver/v2/enqueue  (key {pagerduty.key})" in output
    opsgenie = by_kind[IntegrationKind.OPSGENIE]
    assert f"http://testserver/v2/alerts  (key {opsgenie.key})" in output
    assert Integration.objects.count() == 6
