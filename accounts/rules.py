"""Personal notification rules: how each person wants to be reached, and when."""

from dataclasses import dataclass

from accounts.contacts import contact_for
from accounts.models import Channel, ContactMethod, NotificationRule, Urgency, User

# For anybody who has not written rules of their own: email at once, SMS
# after 1 minute, a call after 3; low urgency by email only.
DEFAULT_RULES: dict[str, list[tuple[str, int]]] = {
    Urgency.HIGH: [(Channel.EMAIL, 0), (Channel.SMS, 1), (Channel.VOICE, 3)],
    Urgency.LOW: [(Channel.EMAIL, 0)],
}
HIGH_URGENCY_SEVERITIES = {"critical", "error"}


@dataclass(frozen=True)
class Reach:
    """One way to reach one person, and how long after they are paged."""

    channel: str
    contact: ContactMethod
    delay_minutes: int
    reason: str


def urgency_of(severity: str) -> str:
    return Urgency.HIGH if severity in HIGH_URGENCY_SEVERITIES else Urgency.LOW


def rules_for(user: User, urgency: str) -> list[Reach]:
    """The user's own rules for an urgency, or the defaults applied to their contact methods."""
    label = Urgency(urgency).label.lower()
    own = (
        NotificationRule.objects.filter(user=user, urgency=urgency)
        .select_related("contact_method")
        .order_by("delay_minutes", "id")
    )
    if own:
        return [
            Reach(
                rule.contact_method.channel,
                rule.contact_method,
                rule.delay_minutes,
                f"{user.display_name}'s {label} rule: "
                f"{rule.contact_method.get_channel_display()} after {rule.delay_minutes} min",
            )
            for rule in own
        ]
    reaches = []
    for channel, delay in DEFAULT_RULES[urgency]:
        contact = contact_for(user, channel)
        if contact is not None:
            reaches.append(
                Reach(
                    channel,
                    contact,
                    delay,
                    f"default {label} rule: {Channel(channel).label} after {delay} min",
                )
            )
    return reaches


def make_default_rules(user: User) -> list[NotificationRule]:
    """Write the defaults down as the user's own rules, to edit from there."""
    made = []
    for urgency in (Urgency.HIGH, Urgency.LOW):
        if NotificationRule.objects.filter(user=user, urgency=urgency).exists():
            continue
        for reach in rules_for(user, urgency):
            made.append(
                NotificationRule.objects.create(
                    user=user,
                    urgency=urgency,
                    contact_method=reach.contact,
                    delay_minutes=reach.delay_minutes,
                )
            )
    return made
