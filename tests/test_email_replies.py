"""Replies to alert emails: "ack" or "resolve" from a known responder acts on the
alert; anything else is logged with why and changes nothing."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils.http import int_to_base36

from accounts.models import Channel, ContactMethod, PlatformRole
from escalation import ticker
from escalation.alerts import AlertInput, raise_alert
from escalation.models import Alert, AlertStatus, EventKind
from escalation.transports.email import read_reply_token, reply_address, reply_token
from integrations.models import InboundEvent
from tests.conftest import T0, make_user
from tests.email_helpers import WEBHOOK_SECRET, deliver, message, post_postmark


@pytest.fixture
def alert(group) -> Alert:
    alert, _ = raise_alert(group, AlertInput(summary="Database is down", dedup_key="db"), T0)
    return alert


def reply(alert, user_id, body, sender="Alice <alice@example.com>", **kwargs) -> bytes:
    return message(
        reply_address(alert.pk, user_id),
        subject=f"Re: [Error] #{alert.pk} Database is down",
        body=body,
        sender=sender,
        **kwargs,
    )


def row() -> InboundEvent:
    return InboundEvent.objects.order_by("-id").first()


def test_the_alert_email_carries_a_reply_address_and_says_how_to_reply(
    alert, alice, mailoutbox, settings
):
    ticker.tick(T0)

    sent = mailoutbox[0]
    assert sent.to == ["alice@example.com"]
    (reply_to,) = sent.reply_to
    local, domain = reply_to.split("@")
    assert domain == settings.INBOUND_EMAIL_DOMAIN
    assert local.startswith("reply+") and len(local) <= 64
    grant = read_reply_token(local.removeprefix("reply+"))
    assert (grant.alert_id, grant.user_id) == (alert.pk, alice.pk)
    assert 'Or reply to this email with "ack" or "resolve"' in sent.body
    assert "<b>ack</b> or <b>resolve</b>" in sent.alternatives[0][0]


def test_replying_ack_to_the_sent_email_acknowledges_it(alert, alice, mailoutbox):
    ticker.tick(T0)
    reply_to = mailoutbox[0].reply_to[0]
    raw = message(
        reply_to,
        subject=f"Re: {mailoutbox[0].subject}",
        body="Ack, on it.\n\nOn Mon, 2 Mar 2026 AlertOps wrote:\n> Database is down\n",
        sender="Alice <alice@example.com>",
    )

    received = deliver(raw, now=T0 + timedelta(minutes=1))

    assert received.status == "accepted"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == alice
    event = alert.events.get(kind=EventKind.ACKNOWLEDGED)
    assert "via email reply" in event.message
    assert event.actor == alice
    logged = row()
    assert (logged.outcome, logged.alert, logged.integration) == ("acknowledged", alert, None)
    assert logged.endpoint == "email reply:test-suite"
    assert logged.message == "Reply from Alice (alice@example.com): acknowledged."
    assert logged.body == raw.decode()


def test_resolve_from_a_group_member_other_than_the_one_paged(alert, alice, bob):
    deliver(reply(alert, alice.pk, "resolve\n", sender="Bob <BOB@Example.com>"))

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_by == bob
    assert row().outcome == "resolved"


def test_quoted_and_blank_lines_before_the_command_are_skipped(alert, alice):
    deliver(reply(alert, alice.pk, "\n\n> quoted text first\n>\n  RESOLVED  \n"))

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_a_reply_address_whose_case_was_changed_still_works(alert, alice):
    raw = message(
        reply_address(alert.pk, alice.pk).upper(),
        body="ack",
        sender="alice@example.com",
    )

    deliver(raw)

    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED


def test_a_verified_email_contact_method_is_a_known_responder(alert, alice):
    ContactMethod.objects.create(
        user=alice, channel=Channel.EMAIL, address="alice@phone.example", verified_at=T0
    )

    deliver(reply(alert, alice.pk, "ack", sender="alice@phone.example"))

    alert.refresh_from_db()
    assert alert.acknowledged_by == alice


def test_an_unverified_contact_method_is_not(alert, alice):
    ContactMethod.objects.create(user=alice, channel=Channel.EMAIL, address="alice@phone.example")

    received = deliver(reply(alert, alice.pk, "ack", sender="alice@phone.example"))

    assert received.status == "refused"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert "alice@phone.example is not the email of any user" in row().message


def test_a_reply_from_an_unknown_sender_is_refused(alert, alice):
    received = deliver(reply(alert, alice.pk, "ack", sender="Mallory <mallory@evil.example>"))

    assert received.status == "refused"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    logged = row()
    assert (logged.outcome, logged.alert) == ("rejected", alert)
    assert logged.message.startswith("Reply from mallory@evil.example refused:")


def test_a_forged_token_is_refused(alert, alice):
    good = reply_token(alert.pk, alice.pk)
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    raw = message(
        f"reply+{forged}@inbound.alertops.localhost", body="ack", sender="alice@example.com"
    )

    received = deliver(raw)

    assert received.status == "refused"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert "not one this service gave out (forged or damaged)" in row().message
    assert row().alert is None


def test_a_token_for_another_alert_cannot_be_made_from_this_one(alert, alice, group):
    other, _ = raise_alert(group, AlertInput(summary="Other", dedup_key="other"), T0)
    mine = reply_token(alert.pk, alice.pk)
    _, user_part, mac = mine.split(".")
    raw = message(
        f"reply+{int_to_base36(other.pk)}.{user_part}.{mac}@inbound.alertops.localhost",
        body="resolve",
        sender="alice@example.com",
    )

    deliver(raw)

    other.refresh_from_db()
    assert other.status == AlertStatus.OPEN


def test_a_stakeholder_may_not_act_by_reply(alert, group, stakeholder):
    from groups.models import Membership

    Membership.objects.create(group=group, user=stakeholder, position=5)

    received = deliver(reply(alert, stakeholder.pk, "ack", sender="sam@example.com"))

    assert received.status == "refused"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert "Sam may not act on alert" in row().message


def test_a_user_outside_the_group_who_was_not_paged_may_not_act(alert, alice):
    make_user("dave", PlatformRole.BASIC)

    deliver(reply(alert, alice.pk, "resolve", sender="dave@example.com"))

    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert "be in Payments or have been paged for it" in row().message


def test_a_reply_without_a_command_is_ignored_and_says_what_it_read(alert, alice):
    received = deliver(reply(alert, alice.pk, "Looking into it\n> ack\n"))

    assert received.status == "accepted"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    logged = row()
    assert logged.outcome == "ignored"
    assert "it begins 'Looking into it'" in logged.message


def test_an_automatic_reply_never_acts(alert, alice):
    raw = reply(
        alert,
        alice.pk,
        "Acknowledged: I am out of office",
        headers={"Auto-Submitted": "auto-replied"},
    )

    deliver(raw)

    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert "Automatic reply from alice@example.com (Auto-Submitted: auto-replied)" in row().message


def test_acking_an_alert_already_resolved_changes_nothing_and_says_so(alert, alice):
    deliver(reply(alert, alice.pk, "resolve"))
    deliver(reply(alert, alice.pk, "ack"))

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert row().outcome == "ignored"
    assert "Nothing changed: the alert was already resolved." in row().message


def test_a_reply_to_a_deleted_alert_is_refused(alert, alice):
    raw = reply(alert, alice.pk, "ack")
    Alert.objects.filter(pk=alert.pk).delete()

    deliver(raw)

    assert row().outcome == "rejected"
    assert "is gone" in row().message


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
def test_a_reply_through_postmark_uses_its_stripped_reply_and_spam_verdict(client, alert, alice):
    raw = reply(alert, alice.pk, "On Monday AlertOps wrote:\nack")

    post_postmark(client, raw, StrippedTextReply="resolve")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert row().endpoint == "email reply:postmark"

    other, _ = raise_alert(alert.group, AlertInput(summary="Other", dedup_key="o"), T0)
    spam = reply(other, alice.pk, "ack", headers={"X-Spam-Status": "Yes"})
    post_postmark(client, spam)
    other.refresh_from_db()
    assert other.status == AlertStatus.OPEN
    assert "marked it as spam" in row().message


def test_reply_tokens_stay_short_for_large_ids():
    token = reply_token(10**12, 10**9)

    assert len("reply+" + token) <= 64
    assert read_reply_token(token.upper()).alert_id == 10**12
    assert read_reply_token("not.a.token") is None
    assert read_reply_token("") is None


def test_another_services_reply_address_in_the_headers_is_no_reply(group):
    from tests.email_helpers import address, make_integration

    mailbox = make_integration(group)
    raw = message(f"{address(mailbox)}, reply+ABCDEF123@reply.github.com", subject="Forwarded")

    received = deliver(raw)

    assert received.status == "accepted"
    assert [r.endpoint for r in InboundEvent.objects.all()] == ["email:test-suite"]
    assert Alert.objects.get().summary == "Forwarded"
