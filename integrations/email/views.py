"""The raw-MIME endpoint a mail server can post to, and the form that saves or
previews an email integration's rules (its page is integrations/views/pages.py,
with the email parts from integrations/email/page.py).

POST /inbound/email/ takes one whole message (Content-Type message/rfc822)
with HTTP basic auth against ANYMAIL["WEBHOOK_SECRET"], the secret anymail's
ESP webhooks check too. It answers 202 with what became of the mail, 401
without the secret, 413 over INBOUND_EMAIL_MAX_BYTES, 400 for what is not an
email, 404 when no integration has the address, 403 when every one it was
sent to refused it; 503 and 500 mean "retry later", as on every webhook.
"""

from anymail.utils import get_request_basic_auth
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_POST

from alertops.lib import clock
from integrations import ingest
from integrations.email import page, receive, rules
from integrations.email.forms import EmailRulesForm
from integrations.models import InboundEvent, Integration, IntegrationKind
from integrations.views.inbound import guarded
from integrations.views.pages import _detail, managers_only

CARRIER = "raw"
STATUS = {
    receive.ACCEPTED: 202,
    receive.UNREADABLE: 400,
    receive.REFUSED: 403,
    receive.UNKNOWN: 404,
    receive.FAILED: 500,
}


def secrets() -> list[str]:
    """The accepted 'user:password' strings (anymail takes one or a list)."""
    configured = settings.ANYMAIL.get("WEBHOOK_SECRET") or []
    return [configured] if isinstance(configured, str) else [s for s in configured if s]


def _authorized(request: HttpRequest) -> bool:
    given = get_request_basic_auth(request) or ""
    # any() may stop early: that tells how many secrets there are, never their contents.
    return bool(given) and any(constant_time_compare(given, secret) for secret in secrets())


@guarded
def raw_email(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = JsonResponse({"error": "Use POST to send a message to this URL."}, status=405)
        response["Allow"] = "POST"
        return response
    now, remote = clock.now(), request.META.get("REMOTE_ADDR")
    cap = settings.INBOUND_EMAIL_MAX_BYTES
    if not _authorized(request):
        why = (
            "authenticate with HTTP basic auth: the user:password of ANYMAIL_WEBHOOK_SECRET"
            if secrets()
            else "this endpoint is closed until ANYMAIL_WEBHOOK_SECRET is set on the server"
        )
        sample = request.read(ingest.UNKNOWN_KEY_BODY_LIMIT)
        receive.refused(sample, now, CARRIER, 401, f"Refused: {why}.", remote, _declared(request))
        response = JsonResponse({"error": why}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="AlertOps inbound email"'
        return response
    body, size = _read(request, cap)
    if body is None:
        limit = f"{cap // 2**20} MB" if cap >= 2**20 else f"{cap // 1024} KB"
        message = f"the message of {size} bytes is over the {limit} limit"
        receive.refused(b"", now, CARRIER, 413, f"Refused: {message}.", remote, size)
        return JsonResponse({"error": message}, status=413)
    received = receive.receive_bytes(
        body, now, CARRIER, recipients=request.GET.getlist("recipient"), remote_addr=remote
    )
    status = STATUS[received.status]
    InboundEvent.objects.filter(pk__in=[row.pk for row in received.rows]).update(status_code=status)
    if status != 202:
        return JsonResponse(
            {"error": received.message, "results": received.results()}, status=status
        )
    return JsonResponse(
        {"status": "accepted", "outcome": received.outcome, "results": received.results()},
        status=202,
    )


def _declared(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _read(request: HttpRequest, cap: int) -> tuple[bytes | None, int]:
    """The body, or (None, its size) when it is over the cap, without reading it all."""
    declared = _declared(request)
    if declared > cap:
        return None, declared
    body = request.read(cap + 1)
    if len(body) > cap:
        return None, len(body)
    return body, len(body)


@managers_only
@require_POST
def email_rules(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("group"), pk=integration_id)
    if integration.kind != IntegrationKind.EMAIL:
        return HttpResponse("Only email integrations have email rules.", status=400)
    form = EmailRulesForm(request.POST)
    if not form.is_valid():
        return _detail(request, integration, 400, email_rules_form=form)
    stored = form.rules_json()
    if request.POST.get("do") == "preview":
        shown = page.preview(rules.parse(stored), *form.sample())
        return _detail(request, integration, email_rules_form=form, email_preview=shown)
    integration.email_rules = stored
    integration.save(update_fields=["email_rules"])
    if stored:
        messages.success(request, "Saved the email rules: mail is read with them from now on.")
    else:
        messages.success(request, "Saved the email rules: every email opens an alert.")
    return redirect(reverse("integration-detail", args=[integration.pk]) + "#email-rules")
