"""The responder page: opened from the link in a page, works on a phone, no login."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import User
from accounts.timezones import zone_of
from alertops.lib import clock
from escalation import actions, links
from escalation.models import Alert


@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        grant = links.read_token(token)
    except links.LinkExpired:
        return render(request, "escalation/responder_refused.html", {"expired": True}, status=410)
    except links.LinkInvalid:
        return render(request, "escalation/responder_refused.html", {"expired": False}, status=404)
    alert = Alert.objects.select_related("group").filter(pk=grant.alert_id).first()
    responder = User.objects.filter(pk=grant.user_id, is_active=True).first()
    if alert is None or (grant.user_id is not None and responder is None):
        return render(request, "escalation/responder_refused.html", {"expired": False}, status=404)

    # A Stakeholder is paged to stay informed, never to act (receive-only).
    can_act = responder is None or responder.can_respond
    timezone.activate(zone_of(responder))
    if request.method == "POST":
        if not can_act:
            return render(
                request,
                "escalation/responder_refused.html",
                {"forbidden": True, "responder": responder},
                status=403,
            )
        try:
            outcome = actions.perform(
                alert,
                request.POST.get("action", ""),
                request.POST,
                responder,
                "the responder page",
                clock.now(),
            )
        except actions.ActionError as error:
            return HttpResponse(str(error), status=400)
        (messages.success if outcome.done else messages.info)(request, outcome.message)
        return redirect(request.path)

    return render(
        request,
        "escalation/responder.html",
        {
            "alert": alert,
            "responder": responder,
            "can_act": can_act,
            "events": alert.events.select_related("actor"),
            "assignable": actions.assignable_users(alert),
        },
    )
