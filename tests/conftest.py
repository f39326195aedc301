"""Fixtures built in code: the Payments group with Alice (Primary), Bob
(Secondary) and Carol (Manager), the default three-step policy, and one
integration of each kind. Dave is an outsider; Sam is a Stakeholder."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from accounts.models import Channel, ContactMethod, PlatformRole, User
from alertops.lib import clock
from escalation import policies
from escalation.models import EscalationPolicy, EscalationStep, StepTarget
from escalation.transports import twilio_client
from groups.models import Group, Membership
from integrations import routing
from integrations.models import InboundEvent, Integration, IntegrationKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def now(monkeypatch):
    """The time the views see; tests move it by assigning now.value."""

    class Now:
        value = T0

    monkeypatch.setattr(clock, "now", lambda: Now.value)
    return Now


# Who may use the pages of integrations, maintenance windows and outbound
# webhooks: (platform role, allowed), for parametrized permission tests.
INTEGRATION_MANAGER_ROLES = [
    (PlatformRole.OWNER, True),
    (PlatformRole.APP_ADMIN, True),
    (PlatformRole.INTEGRATIONS_ADMIN, True),
    (PlatformRole.GROUP_ADMIN, False),
    (PlatformRole.BASIC, False),
    (PlatformRole.STAKEHOLDER, False),
]


def last_inbound() -> InboundEvent | None:
    return InboundEvent.objects.order_by("-id").first()


def make_user(username: str, role: str = PlatformRole.BASIC, phone: str = "") -> User:
    user = User.objects.create_user(
        username, f"{username}@example.com", "pw", full_name=username.title(), role=role
    )
    ContactMethod.objects.create(user=user, channel=Channel.EMAIL, address=user.email)
    if phone:
        ContactMethod.objects.create(user=user, channel=Channel.SMS, address=phone)
        ContactMethod.objects.create(user=user, channel=Channel.VOICE, address=phone)
    return user


@pytest.fixture
def alice(db) -> User:
    return make_user("alice", PlatformRole.OWNER, "+15550000001")


@pytest.fixture
def bob(db) -> User:
    return make_user("bob", PlatformRole.BASIC, "+15550000002")


@pytest.fixture
def carol(db) -> User:
    return make_user("carol", PlatformRole.GROUP_ADMIN, "+15550000003")


@pytest.fixture
def stakeholder(db) -> User:
    return make_user("sam", PlatformRole.STAKEHOLDER)


@pytest.fixture
def policy(db) -> EscalationPolicy:
    """Primary at once, Secondary after 5 minutes, Manager after 10 more; email only."""
    policy = EscalationPolicy.objects.create(name="Default")
    for position, (target, wait) in enumerate(
        [(StepTarget.PRIMARY, 5), (StepTarget.SECONDARY, 10), (StepTarget.MANAGER, 10)]
    ):
        EscalationStep.objects.create(
            policy=policy,
            position=position,
            target=target,
            channels=[Channel.EMAIL],
            wait_minutes=wait,
        )
    return policy


@pytest.fixture
def group(db, alice, bob, carol, policy) -> Group:
    group = Group.objects.create(name="Payments", escalation_policy=policy)
    Membership.objects.create(group=group, user=alice, is_primary=True, position=0)
    Membership.objects.create(group=group, user=bob, is_secondary=True, position=1)
    Membership.objects.create(group=group, user=carol, is_manager=True, position=2)
    return group


@pytest.fixture
def alertmanager(group) -> Integration:
    return Integration.objects.create(
        name="Alertmanager", kind=IntegrationKind.ALERTMANAGER, group=group
    )


@pytest.fixture
def webhook(group) -> Integration:
    return Integration.objects.create(name="Webhook", kind=IntegrationKind.WEBHOOK, group=group)


@pytest.fixture
def grafana(group) -> Integration:
    return Integration.objects.create(name="Grafana", kind=IntegrationKind.GRAFANA, group=group)


@pytest.fixture
def pagerduty(group) -> Integration:
    return Integration.objects.create(name="PagerDuty", kind=IntegrationKind.PAGERDUTY, group=group)


@pytest.fixture
def opsgenie(group) -> Integration:
    return Integration.objects.create(name="Opsgenie", kind=IntegrationKind.OPSGENIE, group=group)


@pytest.fixture
def disk_alert(client, opsgenie, now):
    """An alert Opsgenie's API opened, with alias db-1-disk."""
    from escalation.models import Alert
    from tests.opsgenie_helpers import create

    create(client, opsgenie, {"message": "Disk full", "alias": "db-1-disk"})
    return Alert.objects.get()


def am_alert(fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    """One entry of an Alertmanager v4 payload's alerts[]."""
    return {
        "status": status,
        "labels": {"alertname": "HighLatency", "severity": "critical", **labels},
        "annotations": {"summary": f"p99 latency high ({fingerprint})"},
        "startsAt": "2026-03-02T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """An Alertmanager version 4 webhook body."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "alertops",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": list(alerts),
    }


def post_json(client: Client, integration: Integration, body: Any):
    import json

    return client.post(integration.url_path, data=json.dumps(body), content_type="application/json")


class FakeTwilio(twilio_client.DevelopmentHttpClient):
    """Records every Twilio API request; answers with `fail_with` when set."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.fail_with: tuple[int, str] | None = None

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **kwargs):
        from twilio.http.response import Response

        self.requests.append({"method": method, "uri": uri, "data": dict(data or {})})
        if self.fail_with:
            status, text = self.fail_with
            return Response(status, text)
        return super().request(method, uri, params, data, headers, auth, **kwargs)


@pytest.fixture
def fake_twilio(monkeypatch) -> FakeTwilio:
    """Twilio's client talks to this fake; nothing reaches the network."""
    fake = FakeTwilio()
    monkeypatch.setattr(twilio_client, "make_http_client", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Per-process caches keyed by row ids: a rolled-back test's ids come back
    in the next test (SQLite reuses them), so each test starts with none."""
    policies._snapshots.clear()
    routing._rules.clear()


@pytest.fixture(autouse=True)
def _no_twilio_network(monkeypatch) -> None:
    """Any test that does not ask for fake_twilio still never reaches Twilio."""
    monkeypatch.setattr(
        twilio_client, "make_http_client", lambda: twilio_client.DevelopmentHttpClient()
    )


@pytest.fixture
def anymail_test_backend(settings) -> None:
    """Send email through anymail's test backend (records to mail.outbox with statuses)."""
    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}
