"""'Send me a test page', the button on the profile page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from alertops.lib import clock
from escalation.selftest import send_test_page


@login_required
@require_POST
def test_page(request: HttpRequest) -> HttpResponse:
    sent = send_test_page(request.user, clock.now())
    if not sent:
        messages.error(
            request, "Nothing was sent: you have no contact methods yet. Add one below first."
        )
        return redirect("profile")
    where = ", ".join(f"{n.get_channel_display()} to {n.recipient}" for n in sent)
    messages.success(
        request,
        f"Test page queued ({where}). The messages will arrive within seconds "
        "and appear in the Outbox.",
    )
    return redirect("profile")
