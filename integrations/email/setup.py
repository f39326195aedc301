"""How to point a tool that can only send email at an email integration: the
address, an example email, an ESP's inbound webhook, Postfix piping, the
raw-MIME endpoint, and the test email the page sends.

The example and the test email are built by the same function and the test
goes through receive.receive_bytes, the path every carrier takes, so what
the page shows is what it proves works.
"""

import shlex
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.conf import settings
from django.urls import reverse

from alertops.lib import clock
from integrations.email import decide, receive, rules
from integrations.models import Integration

SAMPLE_SENDER = "monitor@example.com"
# The ESPs whose inbound webhooks anymail serves, with their paths under /anymail/.
ESP_PATHS = [
    ("Postmark", "postmark/inbound/"),
    ("Mailgun (raw MIME)", "mailgun/inbound_mime/"),
    ("SendGrid Inbound Parse", "sendgrid/inbound/"),
    ("Amazon SES (through SNS)", "amazon_ses/inbound/"),
    ("SparkPost", "sparkpost/inbound/"),
    ("Mailjet", "mailjet/inbound/"),
    ("Brevo", "brevo/inbound/"),
    ("MailerSend", "mailersend/inbound/"),
    ("Postal", "postal/inbound/"),
    ("Resend", "resend/inbound/"),
    ("Mailtrap", "mailtrap/inbound/"),
    ("Mandrill", "mandrill/"),
]


@dataclass
class Snippet:
    title: str
    text: str
    note: str = ""


@dataclass
class Example:
    subject: str
    body: str
    raw: bytes


def secret_is_set() -> bool:
    return bool(settings.ANYMAIL.get("WEBHOOK_SECRET"))


def example(
    integration: Integration, summary: str, key: str, now: datetime, sender: str = SAMPLE_SENDER
) -> Example:
    """An email that opens one alert under the integration's rules, keyed `key` when
    its markers can carry it (a regex is the admin's own: the example cannot guess it)."""
    found, _ = rules.load(integration.email_rules)
    subject = summary
    body = [f"{summary}.", "", "Host: db-1", "Free space: 0 B"]
    if found.mode == "keywords" and found.open_keywords:
        subject = f"{found.open_keywords[0]}: {summary}"
    if found.dedup_start:
        marked = f"{found.dedup_start} {key}" + (f" {found.dedup_end}" if found.dedup_end else "")
        if found.dedup_in == "body":
            body.insert(1, marked)
        else:
            subject = f"{subject} {marked}"
    message = EmailMessage()
    message["From"] = f"Monitoring <{sender}>"
    message["To"] = integration.email_address
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("\n".join(body) + "\n")
    return Example(subject, "\n".join(body), message.as_bytes())


def described(integration: Integration, sample: Example) -> str:
    """What the rules would do with the example, in words."""
    found, _ = rules.load(integration.email_rules)
    decision = decide.decide(
        found,
        decide.Mail(
            sender=f"Monitoring <{SAMPLE_SENDER}>",
            subject=sample.subject,
            body=sample.body,
            sender_address=SAMPLE_SENDER,
        ),
    )
    does = {"trigger": "opens an alert", "resolve": "closes", "note": "updates"}
    what = does.get(decision.action or "", "is ignored")
    return f"Under the current rules this email {what}: {decision.explanation}."


def raw_url(base: str) -> str:
    return f"{base}{reverse('inbound-email')}"


def curl(integration: Integration, base: str) -> str:
    """A shell line that posts a small email to the raw-MIME endpoint."""
    found, _ = rules.load(integration.email_rules)
    subject = "Disk full on db-1"
    if found.mode == "keywords" and found.open_keywords:
        subject = f"{found.open_keywords[0]}: {subject}"
    text = (
        f"From: {SAMPLE_SENDER}\\nTo: {integration.email_address}\\nSubject: {subject}\\n\\n"
        "Disk / is 97%% full on db-1.\\n"
    )
    post = ["curl", "-sS", "--user", "USER:PASSWORD", "-H", "Content-Type: message/rfc822"]
    post += ["--data-binary", "@-", raw_url(base)]
    return f"printf {shlex.quote(text)} | " + " ".join(shlex.quote(p) for p in post)


def snippets(integration: Integration, base: str) -> list[Snippet]:
    address = integration.email_address
    sample = example(integration, "Disk full on db-1", "db-1/disk", clock.now())
    secret = (
        "ANYMAIL_WEBHOOK_SECRET is set on this server: use its user:password."
        if secret_is_set()
        else "ANYMAIL_WEBHOOK_SECRET is not set on this server: the ESP webhooks are open to "
        "anyone and the raw endpoint refuses everything. Set it to user:password first."
    )
    scheme, _, host = base.partition("://")
    esp_lines = [
        f"  {name + ':':26} {scheme}://USER:PASSWORD@{host}/anymail/{path}"
        for name, path in ESP_PATHS
    ]
    manage = f"{settings.BASE_DIR}/manage.py"
    short = f"Subject: {sample.subject}\\n\\nDisk / is 97%% full.\\n"  # printf's escapes
    domain = settings.INBOUND_EMAIL_DOMAIN
    return [
        Snippet(
            "An example email",
            sample.raw.decode("utf-8", errors="replace").replace("\r\n", "\n"),
            described(integration, sample)
            + " The subject becomes the alert's summary and the body its details.",
        ),
        Snippet(
            "Through an email provider (ESP) with inbound webhooks",
            f"1. Point the MX record of {domain} at your ESP's inbound servers.\n"
            "2. Set the ESP's inbound webhook URL (USER:PASSWORD is ANYMAIL_WEBHOOK_SECRET):\n"
            + "\n".join(esp_lines)
            + "\n",
            f"{secret} Mail to {address} then reaches this integration. With the ESP's own "
            f"inbound address, put the key after a plus: <inbound-hash>+{integration.key}@….",
        ),
        Snippet(
            "Postfix on your mail server: pipe the domain into the command",
            "# A wrapper that loads the service's environment (DATABASE_URL, SECRET_KEY, ...)\n"
            "cat > /usr/local/bin/alertops-receive-email <<'EOF'\n"
            "#!/bin/sh\n"
            "set -a; . /etc/alertops/env; set +a\n"
            f'exec {sys.executable} {manage} receive_email --recipient "$1"\n'
            "EOF\n"
            "chmod 755 /usr/local/bin/alertops-receive-email\n\n"
            "# /etc/postfix/main.cf\n"
            f"relay_domains = $mydestination, {domain}\n"
            "transport_maps = hash:/etc/postfix/transport\n\n"
            "# /etc/postfix/transport (then: postmap /etc/postfix/transport)\n"
            f"{domain}  alertops:\n\n"
            "# /etc/postfix/master.cf\n"
            "alertops  unix  -  n  n  -  4  pipe\n"
            "  flags=DORq user=alertops argv=/usr/local/bin/alertops-receive-email ${recipient}\n",
            "The command reads one message on standard input and prints what became of it. Mail "
            "to an unknown address exits 67, a refused reply 77 and not-an-email 65 (Postfix "
            "bounces them); a failure to store exits 75, and Postfix tries again later. For a "
            "single address, "
            f'an alias does the same: {integration.key}: "|/usr/local/bin/alertops-receive-email".',
        ),
        Snippet(
            "Raw MIME over HTTP",
            f"POST {raw_url(base)}\n"
            "Authorization: Basic (USER:PASSWORD, the ANYMAIL_WEBHOOK_SECRET)\n"
            "Content-Type: message/rfc822\n"
            "Body: the whole message, as the mail server received it\n",
            "For a mail server that can post to a URL. Answers 202 with what became of the "
            "mail, 401 without the secret, 413 over "
            f"{settings.INBOUND_EMAIL_MAX_BYTES // 2**20} MB, 400 for what is not an email, 404 "
            "when no integration has the address. Add ?recipient=<address> for the envelope "
            "recipient when the headers do not name it (Bcc).",
        ),
        Snippet(
            "Try it from a shell",
            f"printf {shlex.quote(short)} | sendmail {address}\n",
            "Through your own mail system, once its mail for the domain reaches this service.",
        ),
    ]


def send_test(
    integration: Integration, summary: str, now: datetime, remote_addr: str | None
) -> receive.Received:
    """Send a test email through the path every email takes; each test is its own alert."""
    key = f"test-{uuid.uuid4().hex[:12]}"
    found, _ = rules.load(integration.email_rules)
    subject = summary if found.dedup_start else f"{summary} ({key})"
    sample = example(integration, subject, key, now)
    return receive.receive_bytes(sample.raw, now, "test", remote_addr=remote_addr)
