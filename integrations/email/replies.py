"""Replies to alert emails: "ack" or "resolve" from a responder's mail client.

An alert email's Reply-To is `reply+<token>@INBOUND_EMAIL_DOMAIN`, the token
naming the alert and the user paged (escalation.transports.email). A reply
acts when:

- the token is one this service made (else it is forged or damaged);
- the first line of the reply that is neither empty nor quoted (`>`) starts
  with the word ack, acked, acknowledge(d), or resolve(d);
- it is no automatic reply (Auto-Submitted, Precedence: bulk, an
  out-of-office) and the provider did not mark it as spam;
- the From address is a known responder's: the email of an active user, or
  one of their verified email contact methods, and that user may respond
  (not a Stakeholder) and belongs to the alert's group, or was paged for it.

The sender, not the token's user, is who acted: a page forwarded to a
colleague in the group can be acknowledged by them. Anything else is
logged with why, and changes nothing.
"""

import re
from dataclasses import dataclass

from django.db.models import Q
from django.http import QueryDict

from accounts.models import Channel, User
from escalation import actions
from escalation.models import Alert, Notification
from escalation.transports.email import read_reply_token
from integrations.email.parse import Email
from integrations.models import Outcome

VIA = "email reply"
COMMANDS = {
    "ack": "acknowledge",
    "acked": "acknowledge",
    "acknowledge": "acknowledge",
    "acknowledged": "acknowledge",
    "resolve": "resolve",
    "resolved": "resolve",
}


@dataclass
class Handled:
    outcome: str
    message: str
    alert_id: int | None = None


def command_of(text: str) -> tuple[str | None, str]:
    """(the action, the line it came from) of a reply's first own line."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(">"):
            continue
        word = re.match(r"[A-Za-z]+", line)
        return COMMANDS.get(word.group(0).lower()) if word else None, line
    return None, ""


def responders(address: str) -> list[User]:
    """The active users an email address belongs to: their own email or a verified contact."""
    if not address:
        return []
    verified = Q(
        contact_methods__channel=Channel.EMAIL,
        contact_methods__address__iexact=address,
        contact_methods__verified_at__isnull=False,
    )
    return list(
        User.objects.filter(Q(email__iexact=address) | verified, is_active=True)
        .distinct()
        .order_by("pk")
    )


def may_act(user: User, alert: Alert, paged_user_id: int | None) -> bool:
    if not user.can_respond:
        return False
    if user.pk == paged_user_id or alert.group.memberships.filter(user=user).exists():
        return True
    return Notification.objects.filter(alert=alert, user=user).exists()


def handle(email: Email, token: str, now) -> Handled:
    """Act on the alert a reply names, or say why not. Call inside a transaction."""
    sender = email.sender_address or "an unknown sender"
    grant = read_reply_token(token)
    if grant is None:
        return Handled(
            Outcome.REJECTED,
            f"Reply from {sender} refused: its address is not one this service gave out "
            "(forged or damaged).",
        )
    alert = Alert.objects.select_related("group").filter(pk=grant.alert_id).first()
    if alert is None:
        return Handled(
            Outcome.REJECTED, f"Reply from {sender} refused: alert #{grant.alert_id} is gone."
        )
    if email.automatic:
        return Handled(
            Outcome.IGNORED,
            f"Automatic reply from {sender} ({email.automatic}) ignored: only a person's reply "
            "acts on an alert.",
            alert.pk,
        )
    if email.spam:
        return Handled(
            Outcome.REJECTED,
            f"Reply from {sender} refused: the email provider marked it as spam.",
            alert.pk,
        )
    action, line = command_of(email.stripped_text or email.body)
    if action is None:
        said = f"it begins {line[:60]!r}" if line else "it is empty"
        return Handled(
            Outcome.IGNORED,
            f"Reply from {sender} ignored: {said}; the first line must start with ack or resolve.",
            alert.pk,
        )
    user = _responder(email.sender_address, alert, grant.user_id)
    if isinstance(user, str):
        return Handled(Outcome.REJECTED, f"Reply from {sender} refused: {user}.", alert.pk)
    done = actions.perform(alert, action, QueryDict(), user, VIA, now)
    if not done.done:
        return Handled(Outcome.IGNORED, f"Reply from {user.display_name}: {done.message}", alert.pk)
    outcome = Outcome.ACKNOWLEDGED if action == "acknowledge" else Outcome.RESOLVED
    verb = "acknowledged" if action == "acknowledge" else "resolved"
    return Handled(outcome, f"Reply from {user.display_name} ({sender}): {verb}.", alert.pk)


def _responder(address: str, alert: Alert, paged_user_id: int | None) -> User | str:
    """The user who may act on the alert with this address, or why there is none."""
    users = responders(address)
    if not users:
        return (
            f"{address or 'the sender'} is not the email of any user nor a verified email "
            "contact method"
        )
    allowed = [u for u in users if may_act(u, alert, paged_user_id)]
    if not allowed:
        names = ", ".join(u.display_name for u in users)
        return (
            f"{names} may not act on alert #{alert.pk}: a responder must be able to respond "
            f"(not a Stakeholder) and be in {alert.group.name} or have been paged for it"
        )
    paged = [u for u in allowed if u.pk == paged_user_id]
    if paged:
        return paged[0]
    if len(allowed) > 1:
        return f"{address} belongs to several users ({', '.join(u.username for u in allowed)})"
    return allowed[0]
