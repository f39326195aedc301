"""`manage.py receive_email`: one raw RFC 822 message on standard input, as a
mail server's pipe hands it over, delivered like every inbound email.

For Postfix, a pipe(8) transport for the inbound domain
(`argv=/path/to/wrapper ${recipient}`, the wrapper setting the service's
environment and running `manage.py receive_email --recipient "$1"`), or an
alias (`<key>: "| /path/to/wrapper"`). It prints what became of the mail,
one line per integration or reply, and exits with a sysexits code Postfix
understands:

    0   accepted (opened, deduplicated, resolved, noted, or ignored by the rules)
    65  EX_DATAERR   not an email (bounced)
    67  EX_NOUSER    no integration has the address (bounced)
    75  EX_TEMPFAIL  could not be stored, or an internal error (Postfix retries)
    77  EX_NOPERM    every integration or reply it was sent to refused it (bounced)
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from alertops.lib import clock
from integrations.email import receive

EXIT_CODES = {
    receive.UNREADABLE: 65,
    receive.UNKNOWN: 67,
    receive.FAILED: 75,
    receive.REFUSED: 77,
}
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Read one email (raw RFC 822) on standard input and deliver it to its integrations."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help="The envelope recipient (Postfix's ${recipient}); repeat for several. "
            "Needed when the headers do not name the address (Bcc).",
        )

    def handle(self, *args, recipient: list[str], **options) -> None:
        raw = sys.stdin.buffer.read()
        try:
            received = receive.receive_bytes(raw, clock.now(), "pipe", recipients=recipient)
        except DatabaseError as error:
            raise CommandError(
                f"could not store the email ({error}); the mail server should retry",
                returncode=EX_TEMPFAIL,
            ) from error
        for row in received.rows:
            where = row.integration.name if row.integration else "—"
            alert = f" alert #{row.alert_id}" if row.alert_id else ""
            self.stdout.write(f"{row.outcome}{alert} ({where}): {row.message}")
        if received.status in EXIT_CODES:
            raise CommandError(
                f"not delivered: {received.message}", returncode=EXIT_CODES[received.status]
            )
