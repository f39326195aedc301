"""Dispatch: claiming due notifications and handing them to email, SMS and voice."""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailRecipientStatus
from django.core import mail

from escalation import dispatch, engine, transports
from escalation.alerts import AlertInput, acknowledge, raise_alert
from escalation.models import Alert, EventKind, Notification, NotificationStatus
from tests.conftest import T0

PENDING, SENDING, SENT = NotificationStatus.PENDING, NotificationStatus.SENDING, "sent"
FAILED, CANCELLED = NotificationStatus.FAILED, NotificationStatus.CANCELLED
TWILIO_400 = (400, '{"code": 21211, "message": "Invalid To phone number", "status": 400}')


@pytest.fixture
def alert(group, policy) -> Alert:
    """An open alert whose first step paged Alice by email, SMS and voice at T0."""
    policy.steps.filter(position=0).update(channels=["email", "sms", "voice"])
    alert, _ = raise_alert(group, AlertInput(summary="Disk full on db-1", dedup_key="disk"), T0)
    engine.run_due(T0)
    assert alert.notifications.filter(status=PENDING).count() == 3
    return alert


def claimed(alert: Alert, channel: str, now=T0) -> Notification:
    """Claim what is due at `now` and return the alert's row for `channel`."""
    ids = dispatch.claim_due(now)
    row = alert.notifications.get(channel=channel)
    assert row.id in ids
    return row


def reload(row: Notification) -> Notification:
    row.refresh_from_db()
    return row


def events(alert: Alert, kind: str) -> list[str]:
    return list(alert.events.filter(kind=kind).values_list("message", flat=True))


def test_claim_due_takes_only_due_pending_rows(alert):
    email, sms, voice = (alert.notifications.get(channel=c) for c in ("email", "sms", "voice"))
    Notification.objects.filter(pk=sms.pk).update(due_at=T0 + timedelta(minutes=1))
    Notification.objects.filter(pk=voice.pk).update(status=CANCELLED)

    assert dispatch.claim_due(T0) == [email.pk]
    assert dispatch.claim_due(T0) == []

    email = reload(email)
    assert (email.status, email.attempts, email.claimed_at) == (SENDING, 1, T0)
    assert reload(sms).status == PENDING
    assert reload(voice).status == CANCELLED


def test_concurrent_claimers_never_share_a_row(alert, monkeypatch):
    # Claimer B runs whole between claimer A's SELECT and A's UPDATE.
    others: list[list[int]] = []

    def racing_uuid4():
        if not others:
            others.append([])
            others[0] = dispatch.claim_due(T0)
        return uuid.uuid4()

    monkeypatch.setattr(dispatch, "uuid", SimpleNamespace(uuid4=racing_uuid4))

    mine = dispatch.claim_due(T0)

    assert mine == []
    assert sorted(others[0]) == sorted(alert.notifications.values_list("id", flat=True))
    assert set(alert.notifications.values_list("status", "attempts")) == {(SENDING, 1)}


def test_deliver_email(alert):
    row = claimed(alert, "email")

    assert dispatch.deliver(row.pk, now=T0) == "sent"

    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert "Disk full on db-1" in message.subject
    assert "http://testserver/r/" in message.body
    assert [mimetype for _, mimetype in message.alternatives] == ["text/html"]
    row = reload(row)
    assert (row.status, row.sent_at, row.error) == (SENT, T0, "")
    assert row.body == message.body
    assert row.subject == message.subject
    assert events(alert, EventKind.NOTIFIED) == ["Notified Alice via Email (alice@example.com)."]


def test_deliver_email_keeps_the_providers_message_id(alert, anymail_test_backend, monkeypatch):
    monkeypatch.setattr(AnymailTestBackend, "get_esp_message_id", lambda self, m: "esp-42")
    row = claimed(alert, "email")

    assert dispatch.deliver(row.pk, now=T0) == "sent"

    [message] = mail.outbox
    assert message.anymail_status.message_id == "esp-42"
    assert reload(row).provider_ref == "esp-42"


def test_deliver_sms(alert, fake_twilio, settings):
    row = claimed(alert, "sms")

    assert dispatch.deliver(row.pk, now=T0) == "sent"

    [request] = fake_twilio.requests
    assert request["uri"].endswith("/Messages.json")
    data = request["data"]
    assert (data["To"], data["From"]) == ("+15550000001", settings.TWILIO_FROM_NUMBER)
    assert "Disk full on db-1" in data["Body"]
    assert "http://testserver/r/" in data["Body"]
    row = reload(row)
    assert row.status == SENT
    assert row.body == data["Body"]
    assert row.provider_ref == fake_twilio.sent[-1]["sid"]
    assert row.provider_ref.startswith("SM")


def test_deliver_voice(alert, fake_twilio, settings):
    row = claimed(alert, "voice")

    assert dispatch.deliver(row.pk, now=T0) == "sent"

    [request] = fake_twilio.requests
    assert request["uri"].endswith("/Calls.json")
    data = request["data"]
    assert (data["To"], data["From"]) == ("+15550000001", settings.TWILIO_FROM_NUMBER)
    assert data["Twiml"].count("Disk full on db-1") == 2
    row = reload(row)
    assert row.status == SENT
    assert row.provider_ref == fake_twilio.sent[-1]["sid"]
    assert row.provider_ref.startswith("CA")


def test_temporary_failure_is_retried_with_backoff_then_fails(alert, fake_twilio, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    fake_twilio.fail_with = (500, '{"message": "oops"}')
    row = claimed(alert, "sms")

    assert dispatch.deliver(row.pk, now=T0) == "retrying"
    row = reload(row)
    assert (row.status, row.due_at) == (PENDING, T0 + timedelta(seconds=15))
    assert "500" in row.error
    assert "attempt 1 of 3" in events(alert, EventKind.WARNING)[-1]

    # Not before its backoff has passed.
    assert dispatch.claim_due(row.due_at - timedelta(seconds=1)) == []
    assert dispatch.claim_due(row.due_at) == [row.pk]
    assert dispatch.deliver(row.pk, now=row.due_at) == "retrying"
    second_try = row.due_at
    row = reload(row)
    assert row.due_at == second_try + timedelta(seconds=30)

    assert dispatch.claim_due(row.due_at) == [row.pk]
    assert dispatch.deliver(row.pk, now=row.due_at) == "failed"
    row = reload(row)
    assert (row.status, row.attempts) == (FAILED, 3)
    assert len(fake_twilio.requests) == 3
    [failure] = events(alert, EventKind.FAILED)
    assert "gave up after 3 attempts" in failure


def test_email_provider_error_is_retried(alert, anymail_test_backend, monkeypatch):
    def provider_down(self, payload, message):
        raise AnymailAPIError("ESP answered 503")

    monkeypatch.setattr(AnymailTestBackend, "post_to_esp", provider_down)
    row = claimed(alert, "email")

    assert dispatch.deliver(row.pk, now=T0) == "retrying"

    row = reload(row)
    assert (row.status, row.due_at) == (PENDING, T0 + timedelta(seconds=15))
    assert "503" in row.error


def test_email_recipient_refused_fails_at_once(alert, anymail_test_backend, monkeypatch):
    def refuse(self, payload, message):
        rejected = AnymailRecipientStatus(message_id=None, status="rejected")
        return {"recipient_status": {"alice@example.com": rejected}}

    monkeypatch.setattr(AnymailTestBackend, "post_to_esp", refuse)
    row = claimed(alert, "email")

    assert dispatch.deliver(row.pk, now=T0) == "failed"
    assert (reload(row).status, reload(row).attempts) == (FAILED, 1)
    assert "permanent failure" in events(alert, EventKind.FAILED)[0]


def test_permanent_twilio_error_fails_at_once(alert, fake_twilio):
    fake_twilio.fail_with = TWILIO_400
    row = claimed(alert, "sms")

    assert dispatch.deliver(row.pk, now=T0) == "failed"

    row = reload(row)
    assert (row.status, row.attempts) == (FAILED, 1)
    assert "Invalid To phone number" in row.error
    [failure] = events(alert, EventKind.FAILED)
    assert "permanent failure" in failure
    assert dispatch.claim_due(T0 + timedelta(hours=1)) == []


def test_crashing_transport_is_retried_not_fatal(alert, monkeypatch):
    def crash(notification):
        raise RuntimeError("bug in transport")

    monkeypatch.setitem(transports.REGISTRY, "email", crash)
    row = claimed(alert, "email")

    assert dispatch.deliver(row.pk, now=T0) == "retrying"

    row = reload(row)
    assert row.status == PENDING
    assert "bug in transport" in row.error
    assert mail.outbox == []


def test_row_stuck_in_sending_is_reaped_and_sent_again(alert):
    row = claimed(alert, "email")  # ... and its worker dies before delivering
    sent_to: list[int] = []

    assert dispatch.dispatch_due(T0 + dispatch.SENDING_TIMEOUT, sent_to.append) == 0
    assert reload(row).status == SENDING

    later = T0 + dispatch.SENDING_TIMEOUT + timedelta(seconds=1)
    assert dispatch.dispatch_due(later, sent_to.append) == 3
    assert row.pk in sent_to
    assert reload(row).attempts == 2
    assert dispatch.deliver(row.pk, now=later) == "sent"
    assert len(mail.outbox) == 1


def test_acknowledged_between_claim_and_deliver_is_cancelled(alert, alice, fake_twilio):
    row = claimed(alert, "sms")
    acknowledge(alert, T0, by=alice)

    assert dispatch.deliver(row.pk, now=T0) == "cancelled"

    assert reload(row).status == CANCELLED
    assert fake_twilio.requests == []
    assert events(alert, EventKind.NOTIFIED) == []


def test_deliver_twice_sends_once(alert):
    row = claimed(alert, "email")

    assert dispatch.deliver(row.pk, now=T0) == "sent"
    assert dispatch.deliver(row.pk, now=T0) == "skipped"

    assert len(mail.outbox) == 1
    assert len(events(alert, EventKind.NOTIFIED)) == 1
