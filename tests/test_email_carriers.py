"""How mail arrives: Postmark's inbound webhook through anymail, the command a
mail server pipes into, and the raw-MIME endpoint; and how it is addressed."""

import io
import json
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.test import override_settings

from escalation.models import Alert
from integrations import protection
from integrations.email import receive
from integrations.models import InboundEvent, Integration, IntegrationKind
from tests.conftest import T0
from tests.email_helpers import (
    KEY,
    WEBHOOK_SECRET,
    address,
    basic_auth,
    deliver,
    make_integration,
    message,
    post_postmark,
    post_raw,
    thunderbird,
)

ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def mailbox(group):
    return make_integration(group)


# Postmark's inbound webhook, through anymail's URL and its basic auth.


@override_settings(ANYMAIL=ANYMAIL)
def test_postmark_inbound_webhook_opens_the_alert(client, mailbox, now):
    response = post_postmark(client, thunderbird())

    assert response.status_code == 200
    alert = Alert.objects.get()
    assert alert.summary == "PROBLEM: Festplatte voll auf db-1 \N{EN DASH} noch 0 B frei"
    row = InboundEvent.objects.get()
    assert (row.endpoint, row.outcome, row.integration) == ("email:postmark", "created", mailbox)
    assert row.body == thunderbird().decode()


@override_settings(ANYMAIL=ANYMAIL)
def test_postmark_parsed_fields_without_the_raw_email(client, mailbox, now):
    payload = {
        "FromFull": {"Email": "zabbix@example.com", "Name": "Zabbix"},
        "ToFull": [{"Email": address(mailbox), "Name": ""}],
        "Subject": "Problem: High CPU on web-2",
        "TextBody": "CPU load 12.5 on web-2",
        "HtmlBody": "<p>CPU load 12.5 on web-2</p>",
        "MessageID": "pm-2",
        "Headers": [{"Name": "Message-ID", "Value": "<z-1@example.com>"}],
        "Attachments": [
            {"Name": "graph.png", "Content": "iVBORw0KGgo=", "ContentType": "image/png"}
        ],
    }

    response = client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(),
    )

    assert response.status_code == 200
    alert = Alert.objects.get()
    assert alert.summary == "Problem: High CPU on web-2"
    assert alert.details["body"] == "CPU load 12.5 on web-2"
    assert alert.details["from"] == "Zabbix <zabbix@example.com>"
    assert alert.details["attachments"] == ["graph.png"]
    assert alert.details["message_id"] == "<z-1@example.com>"
    assert "Subject: Problem: High CPU on web-2" in InboundEvent.objects.get().body


@override_settings(ANYMAIL=ANYMAIL)
def test_postmark_without_the_secret_is_refused_by_anymail(client, mailbox):
    response = post_postmark(client, thunderbird(), secret="postmark:wrong")

    assert response.status_code == 400
    assert not Alert.objects.exists()
    assert not InboundEvent.objects.exists()


@override_settings(ANYMAIL=ANYMAIL)
def test_postmark_original_recipient_finds_a_bcc_integration(client, mailbox):
    raw = message("someone-else@example.com", subject="Bcc'd alert")

    post_postmark(client, raw, OriginalRecipient=address(mailbox))

    assert Alert.objects.get().summary == "Bcc'd alert"


@override_settings(ANYMAIL=ANYMAIL)
def test_postmark_is_asked_to_retry_when_the_mail_cannot_be_stored(client, mailbox, monkeypatch):
    def down(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(receive.addresses, "find", down)
    client.raise_request_exception = False

    response = post_postmark(client, thunderbird())

    assert response.status_code == 500


@override_settings(ANYMAIL=ANYMAIL)
def test_postmark_is_asked_to_retry_after_an_internal_error_and_the_mail_is_kept(
    client, mailbox, monkeypatch
):
    def bug(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(receive.ingest, "apply", bug)
    client.raise_request_exception = False

    response = post_postmark(client, thunderbird())

    assert response.status_code == 500
    row = InboundEvent.objects.get()
    assert (row.outcome, row.integration) == ("rejected", mailbox)
    assert "internal error" in row.message
    assert row.body == thunderbird().decode()


# The command a mail server pipes into.


def run_command(raw: bytes, *args: str) -> tuple[str, int]:
    out = io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
    try:
        call_command("receive_email", *args, stdout=out)
        code = 0
    except CommandError as error:
        code = error.returncode
        out.write(str(error))
    finally:
        sys.stdin = stdin
    return out.getvalue(), code


def test_command_reads_standard_input_and_prints_the_outcome(mailbox, now):
    output, code = run_command(thunderbird())

    assert code == 0
    alert = Alert.objects.get()
    assert output.startswith(f"created alert #{alert.pk} (Nagios mail): Keyed by the sender")
    assert InboundEvent.objects.get().endpoint == "email:pipe"


def test_command_takes_the_envelope_recipient(mailbox, now):
    raw = message("list@example.com", subject="Via a list")

    _, code = run_command(raw, "--recipient", address(mailbox))

    assert code == 0
    assert Alert.objects.get().summary == "Via a list"


def test_command_exits_67_for_an_unknown_address_so_postfix_bounces(mailbox, now):
    output, code = run_command(message("nobody-at-all-1234567@inbound.alertops.localhost"))

    assert code == 67
    assert "No email integration has the address" in output
    assert not Alert.objects.exists()


def test_command_exits_65_for_what_is_not_an_email(mailbox, now):
    _, code = run_command(b"")

    assert code == 65
    assert InboundEvent.objects.get().message == "The message is empty."


def test_command_exits_75_when_the_mail_cannot_be_stored(mailbox, now, monkeypatch):
    def down(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(receive.addresses, "find", down)

    output, code = run_command(thunderbird())

    assert code == 75
    assert "the mail server should retry" in output


# The raw-MIME endpoint.


@override_settings(ANYMAIL=ANYMAIL)
def test_raw_endpoint_accepts_a_message_with_the_secret(client, mailbox, now):
    response = post_raw(client, thunderbird())

    assert response.status_code == 202
    body = response.json()
    alert = Alert.objects.get()
    assert body["status"] == "accepted"
    assert body["outcome"] == "created"
    assert body["results"][0]["alert_id"] == alert.pk
    assert body["results"][0]["integration"] == "Nagios mail"
    row = InboundEvent.objects.get()
    assert (row.endpoint, row.status_code, row.remote_addr) == ("email:raw", 202, "127.0.0.1")


@override_settings(ANYMAIL=ANYMAIL)
@pytest.mark.parametrize("secret", [None, "postmark:wrong", "postmark:s3cret-inbound2"])
def test_raw_endpoint_refuses_without_the_secret(client, mailbox, now, secret):
    response = post_raw(client, thunderbird(), secret=secret)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert "ANYMAIL_WEBHOOK_SECRET" in response.json()["error"]
    assert not Alert.objects.exists()
    row = InboundEvent.objects.get()
    assert (row.outcome, row.status_code, row.integration) == ("rejected", 401, None)
    assert len(row.body) <= 4096


@override_settings(ANYMAIL={})
def test_raw_endpoint_is_closed_while_no_secret_is_set(client, mailbox, now):
    response = post_raw(client, thunderbird(), secret="anything:at-all")

    assert response.status_code == 401
    assert "closed until ANYMAIL_WEBHOOK_SECRET is set" in response.json()["error"]


@override_settings(ANYMAIL={"WEBHOOK_SECRET": ["old:one", WEBHOOK_SECRET]})
def test_raw_endpoint_takes_any_of_several_secrets(client, mailbox, now):
    assert post_raw(client, thunderbird()).status_code == 202


@override_settings(ANYMAIL=ANYMAIL, INBOUND_EMAIL_MAX_BYTES=2048)
def test_raw_endpoint_refuses_a_message_over_the_limit_with_413(client, mailbox, now):
    raw = message(address(mailbox), body="x" * 4000)

    response = post_raw(client, raw)

    assert response.status_code == 413
    assert response.json()["error"].endswith("is over the 2 KB limit")
    row = InboundEvent.objects.get()
    assert (row.outcome, row.status_code, row.body, row.body_size) == (
        "rejected",
        413,
        "",
        len(raw),
    )
    assert not Alert.objects.exists()


@override_settings(ANYMAIL=ANYMAIL, INGEST_MAX_BODY_BYTES=2048)
def test_a_message_larger_than_the_log_keeps_is_taken_and_its_start_logged(client, mailbox, now):
    raw = message(address(mailbox), body="attachment-sized " * 400)

    response = post_raw(client, raw)

    assert response.status_code == 202
    assert Alert.objects.count() == 1
    row = InboundEvent.objects.get()
    assert (len(row.body), row.body_size) == (2048, len(raw))


@override_settings(ANYMAIL=ANYMAIL)
def test_raw_endpoint_answers_400_for_what_is_not_an_email(client, mailbox, now):
    response = post_raw(client, b"\r\n\r\n")

    assert response.status_code == 400
    assert response.json()["error"] == "The message is empty."
    assert InboundEvent.objects.get().status_code == 400


@override_settings(ANYMAIL=ANYMAIL)
def test_raw_endpoint_answers_404_for_an_unknown_address(client, mailbox, now):
    response = post_raw(client, message("who@inbound.alertops.localhost"))

    assert response.status_code == 404
    assert "No email integration has the address" in response.json()["error"]


@override_settings(ANYMAIL=ANYMAIL)
def test_raw_endpoint_takes_the_envelope_recipient_from_the_query(client, mailbox, now):
    raw = message("undisclosed-recipients:;", subject="Bcc")

    response = post_raw(client, raw, query=f"?recipient={address(mailbox)}")

    assert response.status_code == 202
    assert Alert.objects.get().summary == "Bcc"


@override_settings(ANYMAIL=ANYMAIL)
def test_raw_endpoint_takes_only_post(client):
    response = client.get("/inbound/email/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"


@override_settings(ANYMAIL=ANYMAIL)
def test_raw_endpoint_answers_503_when_the_mail_cannot_be_stored(client, mailbox, now, monkeypatch):
    def down(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(receive.addresses, "find", down)

    response = post_raw(client, thunderbird())

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


# Addressing.


def test_mail_to_no_known_address_is_logged_and_refused(mailbox):
    received = deliver(message("stranger-0000000000000000@inbound.alertops.localhost"))

    assert received.status == "unknown"
    row = InboundEvent.objects.get()
    assert (row.outcome, row.integration) == ("rejected", None)
    assert "stranger-0000000000000000@inbound.alertops.localhost" in row.message
    assert not Alert.objects.exists()


def test_the_address_matches_whatever_the_case_and_with_a_plus_tag(mailbox):
    deliver(message(f"{KEY.upper()}@INBOUND.ALERTOPS.LOCALHOST", subject="upper"))
    deliver(message(f"{KEY.lower()}+nagios@inbound.alertops.localhost", subject="plus"))
    deliver(message(f"abc123hash+{KEY}@inbound.postmarkapp.com", subject="postmark's own"))

    assert sorted(Alert.objects.values_list("summary", flat=True)) == [
        "plus",
        "postmark's own",
        "upper",
    ]


def test_an_exact_match_wins_over_a_key_that_differs_only_in_case(group):
    lower = make_integration(group, key=KEY.lower(), name="lower")
    exact = make_integration(group, key=KEY, name="exact")

    deliver(message(address(exact)))

    assert Alert.objects.get().integration == exact
    assert lower.inbound_events.count() == 0


def test_one_email_to_two_integrations_lands_in_each_with_its_own_row(group):
    first = make_integration(group, name="first")
    second = make_integration(group, key="Second-Mail-Key-0123456789", name="second")
    raw = message(f"{address(first)}, {address(second)}")

    received = deliver(raw, recipients=[address(first)])

    assert received.status == "accepted"
    assert sorted(Alert.objects.values_list("integration__name", flat=True)) == ["first", "second"]
    assert InboundEvent.objects.filter(outcome="created").count() == 2


def test_a_disabled_integration_ignores_its_mail_and_logs_it(mailbox):
    mailbox.enabled = False
    mailbox.save()

    received = deliver(thunderbird())

    assert received.status == "accepted"
    assert not Alert.objects.exists()
    row = InboundEvent.objects.get()
    assert (row.outcome, row.integration) == ("ignored", mailbox)
    assert row.message == "The integration is disabled: its mail opens no alerts."


def test_a_webhook_integrations_key_as_an_address_is_refused(webhook):
    received = deliver(message(f"{webhook.key}@inbound.alertops.localhost"))

    assert received.status == "refused"
    row = InboundEvent.objects.get()
    assert (row.outcome, row.integration) == ("rejected", webhook)
    assert "Generic JSON webhook integration, which takes no email" in row.message


def test_the_previous_address_works_during_its_grace_and_says_so(mailbox):
    old = mailbox.email_address
    protection.rotate(mailbox, T0, timedelta(hours=1))

    deliver(message(old, subject="to the old address"))
    deliver(message(old, subject="too late"), now=T0 + timedelta(hours=2))

    assert Alert.objects.get().summary == "to the old address"
    first, second = InboundEvent.objects.order_by("id")
    assert "previous address, which stops working at 2026-03-02 10:00 UTC" in first.message
    assert mailbox.email_address in first.message
    assert (second.outcome, second.integration) == ("rejected", None)


def test_an_email_key_on_the_webhook_url_is_still_refused_with_its_address(client, mailbox):
    response = client.post(
        mailbox.url_path, data=json.dumps({"summary": "x"}), content_type="application/json"
    )

    assert response.status_code == 400
    assert mailbox.email_address in response.json()["error"]
    assert Integration.objects.get().kind == IntegrationKind.EMAIL
