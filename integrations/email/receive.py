"""Inbound email: the one entry point of every carrier (anymail's ESP webhooks,
`manage.py receive_email` on a mail server's pipe, the raw-MIME endpoint,
the page's test email).

Each email integration the mail was sent to gets the mail read by its rules
and applied (ingest.apply) in one transaction with its own InboundEvent row;
each reply address acts on its alert the same way. Mail to no known address,
a message that is not an email and an internal failure are logged too, with
the raw message, so nothing that arrives is lost without a trace. Only a
failure to store (DatabaseError) escapes, so the carrier can ask the sender
to retry: an ESP gets 500, Postfix a temporary failure.

Email is not held to an integration's rate limit: a mail server cannot be
asked to come back later the way a webhook sender can, and dedup keeps a
storm of the same problem on one alert.
"""

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anymail.inbound import AnymailInboundMessage
from django.conf import settings
from django.db import DatabaseError, transaction

from integrations import ingest
from integrations.email import addresses, decide, parse, replies, rules
from integrations.models import InboundEvent, Integration, IntegrationKind, Outcome

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
# What the carrier should say, besides the log rows.
ACCEPTED = "accepted"  # at least one integration or reply took it (ignoring counts)
UNKNOWN = "unknown"  # no address it was sent to is an integration's or a reply's
REFUSED = "refused"  # every integration and reply it was sent to refused it
UNREADABLE = "unreadable"  # empty, or not an email
FAILED = "failed"  # an internal error: logged; the sender may retry
INTERNAL = "The email could not be processed (an internal error); the message is kept here."


@dataclass
class Received:
    status: str
    rows: list[InboundEvent] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        order = [*ingest.SIGNIFICANCE, Outcome.REJECTED]
        found = [row.outcome for row in self.rows]
        rank = {outcome: i for i, outcome in enumerate(order)}
        return min(found, key=lambda o: rank.get(o, len(order))) if found else Outcome.REJECTED

    @property
    def message(self) -> str:
        return " ".join(row.message for row in self.rows if row.message)

    def results(self) -> list[dict[str, Any]]:
        return [
            {
                "integration": row.integration.name if row.integration else None,
                "outcome": row.outcome,
                "message": row.message,
                "alert_id": row.alert_id,
            }
            for row in self.rows
        ]


@dataclass
class _Log:
    """Writes the InboundEvent rows of one email, each with the raw message."""

    raw: bytes
    endpoint: str
    now: datetime
    remote_addr: str | None = None
    status_code: int | None = None
    # The whole message's size, when only part of it was read.
    size: int | None = None

    def write(
        self,
        integration: Integration | None,
        outcome: str,
        message: str,
        results: list[dict[str, Any]] | None = None,
        alert_id: int | None = None,
        endpoint: str = "",
    ) -> InboundEvent:
        limit = settings.INGEST_MAX_BODY_BYTES
        size = max(len(self.raw), self.size or 0)
        return InboundEvent.objects.create(
            integration=integration,
            received_at=self.now,
            endpoint=(endpoint or self.endpoint)[:64],
            remote_addr=self.remote_addr,
            content_type=CONTENT_TYPE,
            body=parse.clean(self.raw[:limit].decode("utf-8", errors="replace")),
            body_size=min(size, ingest.MAX_RECORDED_BODY_SIZE),
            outcome=outcome,
            message=parse.clean(message),
            status_code=self.status_code,
            results=results or [],
            alert_id=alert_id,
        )


def refused(
    raw: bytes,
    now: datetime,
    carrier: str,
    status_code: int,
    message: str,
    remote_addr: str | None = None,
    size: int | None = None,
) -> InboundEvent:
    """Log mail a carrier refused before reading it all (no authentication, too large):
    `raw` is what was read of it, `size` its whole size."""
    record = _Log(raw, endpoint_of(carrier), now, remote_addr, status_code, size)
    return record.write(None, Outcome.REJECTED, message)


def endpoint_of(carrier: str) -> str:
    """The inbound log's endpoint for mail that came by `carrier`: "email:postmark"."""
    return "email:" + "_".join(carrier.lower().split())


def receive_bytes(
    raw: bytes,
    now: datetime,
    carrier: str,
    recipients: list[str] | tuple[str, ...] = (),
    remote_addr: str | None = None,
) -> Received:
    """Read a raw RFC 822 message and deliver it; see the module's docstring."""
    record = _Log(raw, endpoint_of(carrier), now, remote_addr)
    if not raw.strip():
        row = record.write(None, Outcome.REJECTED, "The message is empty.")
        return Received(UNREADABLE, [row])
    try:
        message = AnymailInboundMessage.parse_raw_mime_bytes(raw)
    except Exception:  # the parser is lenient; whatever it still refuses is logged, not lost
        log.exception("could not parse an inbound email of %d bytes", len(raw))
        row = record.write(None, Outcome.REJECTED, "The message could not be read as an email.")
        return Received(UNREADABLE, [row])
    return _deliver(message, record, recipients)


def receive_message(
    message: AnymailInboundMessage,
    now: datetime,
    carrier: str,
    raw: bytes | None = None,
    recipients: list[str] | tuple[str, ...] = (),
) -> Received:
    """Deliver a message an ESP's webhook parsed; `raw` is what the ESP sent, when it did."""
    record = _Log(raw if raw is not None else flatten(message), endpoint_of(carrier), now)
    return _deliver(message, record, recipients)


def flatten(message: AnymailInboundMessage) -> bytes:
    """The message as bytes, for the log; never raises."""
    for render in (message.as_bytes, lambda: message.as_string().encode("utf-8", "replace")):
        try:
            return render()
        except Exception:  # a message built from an ESP's fields may not serialise
            log.warning("could not serialise an inbound email for the log", exc_info=True)
    return repr(message).encode("utf-8", "replace")


def _deliver(
    message: AnymailInboundMessage, record: _Log, recipients: list[str] | tuple[str, ...]
) -> Received:
    try:
        email = parse.read(message, recipients)
    except parse.Unreadable as error:
        return Received(UNREADABLE, [record.write(None, Outcome.REJECTED, f"{error}.")])
    except Exception:  # a bug must not lose the mail: it is logged with the raw message
        log.exception("could not read an inbound email")
        return Received(FAILED, [record.write(None, Outcome.REJECTED, INTERNAL)])
    addressed = addresses.find(email.recipients, record.now)
    work = [
        (target.integration, functools.partial(_to_integration, record, target, email))
        for target in addressed.integrations
    ]
    work += [
        (None, functools.partial(_reply, record, email, token)) for _, token in addressed.replies
    ]
    rows, failed = [], False
    for integration, deliver in work:
        try:
            with transaction.atomic():
                rows.append(deliver())
        except DatabaseError:
            raise  # nothing could be stored: the sender must retry
        except Exception:
            log.exception("an inbound email could not be processed")
            rows.append(record.write(integration, Outcome.REJECTED, INTERNAL))
            failed = True
    if not rows:
        sent_to = ", ".join(email.recipients[:5]) or "no address at all"
        message = (
            f"No email integration has the address this was sent to ({sent_to}); "
            "an integration's address is on its page."
        )
        return Received(UNKNOWN, [record.write(None, Outcome.REJECTED, message)])
    if failed:
        return Received(FAILED, rows)
    if all(row.outcome == Outcome.REJECTED for row in rows):
        return Received(REFUSED, rows)
    return Received(ACCEPTED, rows)


def _to_integration(record: _Log, target: addresses.Target, email: parse.Email) -> InboundEvent:
    integration = target.integration
    notes = []
    if target.previous_key:
        ends = f"{integration.previous_key_expires_at:%Y-%m-%d %H:%M} UTC"
        notes.append(
            f"Sent to the integration's previous address, which stops working at {ends}; "
            f"give the sender the new one, {integration.email_address}."
        )
    if integration.kind != IntegrationKind.EMAIL:
        return record.write(
            integration,
            Outcome.REJECTED,
            f"{target.address} names a {integration.get_kind_display()} integration, which "
            "takes no email; create an Inbound email integration for mail.",
        )
    if not integration.enabled:
        return record.write(
            integration, Outcome.IGNORED, "The integration is disabled: its mail opens no alerts."
        )
    found, broken = rules.load(integration.email_rules)
    if broken:
        notes.append(_sentence(broken))
    decision = decide.decide(found, email.mail())
    message = " ".join([_sentence(decision.explanation), *notes])
    if decision.action is None:
        Integration.objects.filter(pk=integration.pk).update(last_received_at=record.now)
        return record.write(integration, Outcome.IGNORED, message)
    event = parse.event_of(email, decision)
    applied = ingest.apply(integration, [event], record.now)
    return record.write(integration, applied.outcome, message, applied.results, applied.alert_id)


def _reply(record: _Log, email: parse.Email, token: str) -> InboundEvent:
    handled = replies.handle(email, token, record.now)
    endpoint = record.endpoint.replace("email:", "email reply:", 1)
    return record.write(
        None, handled.outcome, handled.message, alert_id=handled.alert_id, endpoint=endpoint
    )


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}." if text else ""
