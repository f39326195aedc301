"""How other apps find a user's contact methods."""

from accounts.models import ContactMethod, User


def contact_for(user: User, channel: str) -> ContactMethod | None:
    """The user's first contact method for a channel, or None."""
    return user.contact_methods.filter(channel=channel).order_by("position", "id").first()
