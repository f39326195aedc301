"""An inbound email, as anymail hands it over, read into what the rules and
the alert need: the decoded subject, the text body (text/plain, else the
HTML as text), the sender, every address it was delivered to, the
Message-ID and the attachments' names (never their contents).

Mail from the wild is often malformed: a header that does not parse, a
charset nobody knows, a part that lies about its encoding. Each is read as
well as it can be rather than refused; only a message with no headers at
all is Unreadable.
"""

import contextlib
import logging
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from typing import Any

from integrations.email import html_text
from integrations.email.decide import ACTIONS, Decision, Mail
from integrations.ingest import storable
from integrations.parsers.base import NormalizedEvent

log = logging.getLogger(__name__)

# An alert keeps this much of the body; the inbound log keeps the whole message.
MAX_BODY_CHARACTERS = 20_000
MAX_SUBJECT_CHARACTERS = 1000
# Mail to thousands of addresses is not mail to an integration; the first ones are read.
MAX_RECIPIENTS = 50
RECIPIENT_HEADERS = ("To", "Cc", "Bcc", "Delivered-To", "X-Original-To", "Envelope-To")
WORDS_OF_HEADERS = ("From", "To", "Cc", "Subject", "Message-ID", "Date")


class Unreadable(ValueError):
    """The bytes are not an email; the message says why."""


@dataclass
class Email:
    subject: str
    body: str
    sender: str  # the From line, decoded: 'Nagios <nagios@example.com>'
    sender_address: str  # the address alone, lower case; "" when there is none
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    # Every address it was delivered to: the headers' and the envelope's.
    recipients: list[str] = field(default_factory=list)
    message_id: str = ""
    date: str = ""
    attachments: list[str] = field(default_factory=list)
    # RFC 3834's Auto-Submitted, or a Precedence of bulk, junk or auto_reply.
    automatic: str = ""
    spam: bool = False
    # The reply alone, when the provider cut the quoted mail off (Postmark, Mailgun).
    stripped_text: str = ""

    def mail(self) -> Mail:
        return Mail(
            sender=self.sender,
            subject=self.subject,
            body=self.body,
            sender_address=self.sender_address,
            message_id=self.message_id,
        )

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"from": self.sender, "to": ", ".join(self.to)}
        if self.cc:
            details["cc"] = ", ".join(self.cc)
        details.update(date=self.date, message_id=self.message_id, body=self.body)
        if self.attachments:
            details["attachments"] = self.attachments
        return {name: value for name, value in details.items() if value}


def read(message: Message, envelope_recipients: list[str] | tuple[str, ...] = ()) -> Email:
    """The email in `message` (an AnymailInboundMessage); Unreadable if it has no headers."""
    names = {name.lower() for name in message}
    if not names & {name.lower() for name in WORDS_OF_HEADERS}:
        raise Unreadable(
            "this is not an email: it has none of the headers From, To, Cc, Subject, "
            "Message-ID or Date"
        )
    senders = _addresses(message, "From") or _addresses(message, "Sender")
    envelope_sender = getattr(message, "envelope_sender", None) or ""
    sender_line = (_header(message, "From") or envelope_sender).strip()
    sender_address = senders[0][1] if senders else plain_address(envelope_sender)
    to = [_formatted(pair) for pair in _addresses(message, "To")]
    cc = [_formatted(pair) for pair in _addresses(message, "Cc")]
    recipients: list[str] = []
    for name in RECIPIENT_HEADERS:
        recipients += [address for _, address in _addresses(message, name)]
    envelope = getattr(message, "envelope_recipient", None)
    for address in [*envelope_recipients, *([envelope] if envelope else [])]:
        recipients.append(plain_address(address))
    plain, html = _bodies(message)
    body = plain if plain.strip() else html_text.to_text(html)
    subject = " ".join(_header(message, "Subject").split())
    return Email(
        subject=subject[:MAX_SUBJECT_CHARACTERS],
        body=body.strip()[:MAX_BODY_CHARACTERS],
        sender=" ".join(sender_line.split()),
        sender_address=sender_address.lower(),
        to=to,
        cc=cc,
        recipients=list(dict.fromkeys(a for a in recipients if a))[:MAX_RECIPIENTS],
        message_id=_header(message, "Message-ID").strip()[:500],
        date=_header(message, "Date").strip()[:200],
        attachments=_attachments(message),
        automatic=_automatic(message),
        spam=bool(getattr(message, "spam_detected", False)),
        stripped_text=(getattr(message, "stripped_text", None) or "").strip(),
    )


def event_of(email: Email, decision: Decision) -> NormalizedEvent:
    """The normalized event an email makes, given what the rules decided."""
    subject = email.subject or f"Email from {email.sender or 'an unknown sender'} (no subject)"
    event = NormalizedEvent(
        action=decision.action or "trigger",
        dedup_key=decision.dedup_key,
        summary=subject,
        details=email.details(),
        source=email.sender_address[:255],
        actor=email.sender_address,
    )
    if decision.action == ACTIONS["close"]:
        event.note = f"Closed by email: {subject}"
    elif decision.action == ACTIONS["update"]:
        event.note = f"Update by email: {subject}" + (f"\n\n{email.body}" if email.body else "")
    return event


def _header(message: Message, name: str) -> str:
    """A header's decoded text; a header Python cannot parse is decoded by hand."""
    try:
        value = message.get(name)
        return "" if value is None else clean(str(value))
    except Exception:  # the email package raises all sorts on malformed headers
        log.warning("could not parse the %s header; decoding it by hand", name, exc_info=True)
    for raw in _raw(message, name):
        return _decoded(raw)
    return ""


def _raw(message: Message, name: str) -> list[str]:
    """The header's values as they came, unfolded."""
    wanted = name.lower()
    return [
        re.sub(r"\r?\n[ \t]", " ", str(value))
        for key, value in message.raw_items()
        if key.lower() == wanted
    ]


def clean(text: str) -> str:
    """Text any database column takes: raw 8-bit header bytes (kept by the parser
    as surrogate escapes) read as UTF-8, anything else undecodable replaced."""
    with contextlib.suppress(UnicodeError):  # a surrogate that is no escaped byte
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return storable(text)


def _decoded(raw: str) -> str:
    try:
        return clean(str(make_header(decode_header(raw))))
    except (LookupError, UnicodeError, ValueError):
        return clean(raw)


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) of each address in every `name` header; only ones with an @.

    Split before decoding, so a comma in an encoded display name ("Müller,
    Hans") cannot split an address in two.
    """
    pairs = getaddresses(_raw(message, name))
    return [
        (_decoded(display), clean(address.strip())) for display, address in pairs if "@" in address
    ]


def plain_address(text: str) -> str:
    pairs = getaddresses([text or ""])
    address = pairs[0][1] if pairs else ""
    return address.strip().strip("<>") if "@" in address else ""


def _formatted(pair: tuple[str, str]) -> str:
    display, address = pair
    if not display:
        return address
    if re.search(r'[,;:<>@"()\[\]]', display):
        display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{display} <{address}>"


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know: UTF-8 covers ASCII and most mail
        text = payload.decode("utf-8", errors="replace")
    return clean(re.sub(r"\r\n?", "\n", text))


def _bodies(message: Message) -> tuple[str, str]:
    """The first text/plain and text/html parts that are not attachments."""
    plain = html = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _text_of(part)
        elif kind == "text/html" and html is None:
            html = _text_of(part)
    return plain or "", html or ""


def _attachments(message: Message) -> list[str]:
    names = []
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        try:
            filename = part.get_filename()
        except Exception:  # a malformed Content-Disposition
            log.warning("could not read an attachment's name", exc_info=True)
            filename = None
        if filename or part.get_content_disposition() == "attachment":
            names.append(" ".join(str(filename or f"unnamed {part.get_content_type()}").split()))
    return names[:100]


def _automatic(message: Message) -> str:
    submitted = _header(message, "Auto-Submitted").strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply", "list"):
        return f"Precedence: {precedence}"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "an auto-reply header"
    return ""
