"""Inbound email in tests: messages as mail clients write them, and the ways they arrive."""

import base64
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from django.conf import settings
from django.test import Client

from groups.models import Group
from integrations.email import receive
from integrations.models import Integration, IntegrationKind
from tests.conftest import T0

DATA = Path(__file__).parent / "data"
# The key the raw messages under tests/data/ are addressed to.
KEY = "Nagios-Mail-Key-0123456789"
WEBHOOK_SECRET = "postmark:s3cret-inbound"


def thunderbird() -> bytes:
    """multipart/mixed: text/plain and text/html alternatives in quoted-printable with
    non-ASCII text, an RFC 2047 subject, two base64 attachments (one with an RFC 2231 name)."""
    return (DATA / "thunderbird_multipart.eml").read_bytes()


def make_integration(group: Group, key: str = KEY, **fields) -> Integration:
    return Integration.objects.create(
        name=fields.pop("name", "Nagios mail"),
        kind=IntegrationKind.EMAIL,
        group=group,
        key=key,
        **fields,
    )


def address(integration: Integration) -> str:
    return f"{integration.key}@{settings.INBOUND_EMAIL_DOMAIN}"


def message(
    to: str,
    subject: str = "Disk full on db-1",
    body: str = "Disk / is 97% full on db-1.",
    sender: str = "Nagios <nagios@example.com>",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """A plain message as a monitoring tool sends it (with an HTML part when asked)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(T0)
    mail["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        mail[name] = value
    if body is not None:
        mail.set_content(body)
    if html is not None:
        if body is None:
            mail.set_content(html, subtype="html")
        else:
            mail.add_alternative(html, subtype="html")
    return mail.as_bytes()


def deliver(raw: bytes, now=T0, recipients=()) -> receive.Received:
    """Deliver a raw message the way every carrier does."""
    return receive.receive_bytes(raw, now, "test-suite", recipients=list(recipients))


def basic_auth(secret: str = WEBHOOK_SECRET) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def post_postmark(client: Client, raw: bytes, secret: str | None = WEBHOOK_SECRET, **extra):
    """Postmark's inbound webhook with the raw message, through anymail's own URL."""
    import json

    payload = {"RawEmail": raw.decode("utf-8"), "MessageID": "pm-1", **extra}
    headers = {"HTTP_AUTHORIZATION": basic_auth(secret)} if secret else {}
    return client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        **headers,
    )


def post_raw(client: Client, raw: bytes, secret: str | None = WEBHOOK_SECRET, query: str = ""):
    """The raw-MIME endpoint, as a mail server posts to it."""
    headers = {"HTTP_AUTHORIZATION": basic_auth(secret)} if secret else {}
    return client.generic(
        "POST", f"/inbound/email/{query}", raw, content_type="message/rfc822", **headers
    )
