"""'Send me a test page': one notification to each of a user's contact methods."""

import uuid
from datetime import datetime

from accounts.models import User
from escalation.models import Notification


def send_test_page(user: User, now: datetime) -> list[Notification]:
    """Queue a test message to every contact method; the engine sends them on its next tick."""
    batch = uuid.uuid4().hex[:12]
    rows = [
        Notification(
            alert=None,
            user=user,
            channel=contact.channel,
            recipient=contact.address,
            due_at=now,
            created_at=now,
            idempotency_key=f"test:{batch}:u{user.pk}:c{contact.pk}",
        )
        for contact in user.contact_methods.order_by("channel", "position", "id")
    ]
    return Notification.objects.bulk_create(rows)
