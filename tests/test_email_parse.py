"""Reading inbound mail: a real client's MIME message becomes an alert with the
right summary and details; odd and broken mail is read or logged, never lost."""

import pytest
from anymail.inbound import AnymailInboundMessage

from escalation.models import Alert
from integrations.email import html_text, parse
from integrations.models import InboundEvent
from tests.email_helpers import KEY, address, deliver, make_integration, message, thunderbird


@pytest.fixture
def mailbox(group):
    return make_integration(group)


def test_a_mail_clients_message_opens_an_alert_with_summary_and_details(mailbox):
    received = deliver(thunderbird())

    assert received.status == "accepted"
    alert = Alert.objects.get()
    assert alert.integration == mailbox
    assert alert.summary == "PROBLEM: Festplatte voll auf db-1 \N{EN DASH} noch 0 B frei"
    assert alert.source == "juergen@monitoring.example.com"
    details = alert.details
    assert details["from"] == "Jürgen Müller <juergen@monitoring.example.com>"
    assert details["to"] == f"Alerts <{KEY}@inbound.alertops.localhost>"
    assert details["cc"] == '"Betrieb, Zürich" <betrieb@example.com>'
    assert details["message_id"] == "<5f1e2b3c-7a8d-4e9f-b0a1-c2d3e4f5a6b7@monitoring.example.com>"
    # The text/plain part, decoded from quoted-printable, soft line breaks joined.
    assert details["body"].startswith("Grüße,\n\ndie Festplatte /var auf db-1 ist voll (100 %)")
    assert "Bitte prüfen." in details["body"]
    assert "<p>" not in details["body"]
    # Names of the attachments only; the text attachment is no body.
    assert details["attachments"] == ["df-ausgabe.txt", "Prüfbericht.pdf"]
    assert "Filesystem" not in details["body"]
    assert "JVBERi0" not in str(details)


def test_the_inbound_log_keeps_the_raw_message_and_the_outcome(mailbox):
    raw = thunderbird()

    deliver(raw)

    row = InboundEvent.objects.get()
    assert row.integration == mailbox
    assert row.outcome == "created"
    assert row.endpoint == "email:test-suite"
    assert row.content_type == "message/rfc822"
    assert row.body == raw.decode()
    assert row.body_size == len(raw)
    assert row.alert == Alert.objects.get()
    assert row.results[0]["outcome"] == "created"
    assert "Keyed by the sender and subject" in row.message


def test_html_only_mail_is_read_as_text_and_its_links_stay_text(mailbox):
    html = (
        "<html><head><style>p {color: red}</style><script>steal()</script></head><body>"
        "<h1>CPU high</h1><p>on <b>web-3</b> &amp; web-4</p>"
        '<a href="javascript:alert(1)">details</a> <a href="https://grafana.example/d/1">graph</a>'
        "</body></html>"
    )

    deliver(message(address(mailbox), subject="CPU high", body=None, html=html))

    body = Alert.objects.get().details["body"]
    assert body == "CPU high\n\non web-3 & web-4\n\ndetails graph (https://grafana.example/d/1)"
    assert "javascript" not in body
    assert "steal" not in body
    assert Alert.objects.get().links == []


def test_text_plain_wins_over_html(mailbox):
    deliver(message(address(mailbox), body="plain words", html="<p>html words</p>"))

    assert Alert.objects.get().details["body"] == "plain words"


def test_an_unknown_charset_and_raw_8bit_headers_are_read_not_refused(mailbox):
    raw = (
        f"From: Störung <alarm@example.com>\r\nTo: {address(mailbox)}\r\n"
        "Subject: Lüfter ausgefallen\r\n"
        "Content-Type: text/plain; charset=x-unknown-8bit\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nLüfter 2 steht.\x00\r\n"
    ).encode()

    received = deliver(raw)

    assert received.status == "accepted"
    alert = Alert.objects.get()
    assert alert.summary == "Lüfter ausgefallen"
    assert alert.details["from"] == "Störung <alarm@example.com>"
    assert alert.details["body"].startswith("Lüfter 2 steht.")
    assert "\x00" not in alert.details["body"]


def test_a_mail_without_subject_gets_a_summary_from_its_sender(mailbox):
    deliver(message(address(mailbox), subject="", body="something broke"))

    assert Alert.objects.get().summary == "Email from Nagios <nagios@example.com> (no subject)"


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"", "The message is empty."),
        (b"  \r\n\r\n ", "The message is empty."),
        (b'{"summary": "this is JSON"}', "this is not an email"),
    ],
)
def test_what_is_no_email_is_logged_with_its_text_and_refused(mailbox, raw, why):
    received = deliver(raw)

    assert received.status == "unreadable"
    row = InboundEvent.objects.get()
    assert row.outcome == "rejected"
    assert row.integration is None
    assert why in row.message
    assert row.body == raw.decode()
    assert not Alert.objects.exists()


def test_a_parser_bug_is_logged_with_the_raw_message(mailbox, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(parse, "read", broken)
    raw = message(address(mailbox))

    received = deliver(raw)

    assert received.status == "failed"
    row = InboundEvent.objects.get()
    assert row.outcome == "rejected"
    assert "internal error" in row.message
    assert row.body == raw.decode()


def test_a_comma_in_an_encoded_display_name_does_not_split_the_address():
    raw = b"From: =?utf-8?q?M=C3=BCller=2C_Hans?= <hans@example.com>\r\nTo: a@b.example\r\n\r\nx"

    email = parse.read(AnymailInboundMessage.parse_raw_mime_bytes(raw))

    assert email.sender_address == "hans@example.com"
    assert email.sender == '"Müller, Hans" <hans@example.com>'


def test_html_to_text_keeps_blocks_and_drops_what_is_not_text():
    text = html_text.to_text(
        "<div>one</div><div>two<br>three</div><table><tr><td>a</td><td>b</td></tr></table>"
        '<a href="https://x.example">https://x.example</a> <a href="data:text/html,x">y</a>'
        "<p>a\n  wrapped   line</p>"
    )

    assert text == "one\ntwo\nthree\n\na b\n\nhttps://x.example y\n\na wrapped line"
