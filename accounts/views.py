"""The profile: a person's own name, time zone, contact methods and notification rules.

Every view acts on request.user only; another person's contact method or
rule is not found (404), never edited. The "Send me a test page" button posts
to escalation.views.selftest, which may import the escalation app.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import rules
from accounts.forms import ContactMethodForm, NotificationRuleForm, ProfileForm
from accounts.models import ContactMethod, NotificationRule, Urgency, User
from accounts.timezones import zone_of
from alertops.lib import clock


def _sections(user: User, rule_forms: dict[str, NotificationRuleForm]) -> list[dict]:
    """One section per urgency: the user's own rules, or the defaults that apply."""
    sections = []
    for urgency in (Urgency.HIGH, Urgency.LOW):
        own = list(
            NotificationRule.objects.filter(user=user, urgency=urgency)
            .select_related("contact_method")
            .order_by("delay_minutes", "id")
        )
        sections.append(
            {
                "urgency": urgency,
                "label": urgency.label,
                "own": own,
                "defaults": [] if own else rules.rules_for(user, urgency),
                "form": rule_forms.get(urgency)
                or NotificationRuleForm(user=user, urgency=urgency, prefix=urgency),
            }
        )
    return sections


def _render(
    request: HttpRequest,
    profile_form: ProfileForm | None = None,
    contact_form: ContactMethodForm | None = None,
    rule_forms: dict[str, NotificationRuleForm] | None = None,
) -> HttpResponse:
    user = request.user
    zone = zone_of(user)
    return render(
        request,
        "accounts/profile.html",
        {
            "profile_form": profile_form or ProfileForm(instance=user),
            "contact_form": contact_form or ContactMethodForm(user=user, prefix="contact"),
            "contacts": user.contact_methods.order_by("channel", "position", "id"),
            "sections": _sections(user, rule_forms or {}),
            "zone_name": zone.key,
            "local_now": clock.now().astimezone(zone),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Bound to a fresh copy, so a refused time zone does not leak into this page.
        form = ProfileForm(request.POST, instance=User.objects.get(pk=request.user.pk))
        if form.is_valid():
            form.instance.save(update_fields=["full_name", "time_zone"])
            messages.success(
                request, f"Saved. Times are now shown in {form.cleaned_data['time_zone']}."
            )
            return redirect("profile")
        return _render(request, profile_form=form)
    return _render(request)


@login_required
@require_POST
def contact_add(request: HttpRequest) -> HttpResponse:
    form = ContactMethodForm(request.POST, user=request.user, prefix="contact")
    if not form.is_valid():
        return _render(request, contact_form=form)
    contact = form.save()
    messages.success(request, f"Added {contact}.")
    return redirect("profile")


@login_required
@require_POST
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(ContactMethod, pk=contact_id, user=request.user)
    used = contact.notification_rules.count()
    contact.delete()
    note = f" and the {used} notification rule(s) that used it" if used else ""
    messages.success(request, f"Deleted {contact}{note}.")
    return redirect("profile")


def _urgency(value: str) -> Urgency:
    if value not in Urgency.values:
        raise Http404("No such urgency.")
    return Urgency(value)


@login_required
@require_POST
def rule_add(request: HttpRequest, urgency: str) -> HttpResponse:
    urgency = _urgency(urgency)
    form = NotificationRuleForm(request.POST, user=request.user, urgency=urgency, prefix=urgency)
    if not form.is_valid():
        return _render(request, rule_forms={urgency: form})
    rule = form.save()
    messages.success(
        request,
        f"{urgency.label}: {rule.delay_minutes} min after you are paged, "
        f"you will be notified via {rule.contact_method}.",
    )
    return redirect("profile")


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(NotificationRule, pk=rule_id, user=request.user)
    urgency = Urgency(rule.urgency)
    rule.delete()
    text = f"Deleted the {urgency.label.lower()} rule: {rule.delay_minutes} min via "
    text += f"{rule.contact_method}."
    if not NotificationRule.objects.filter(user=request.user, urgency=urgency).exists():
        text += f" That was your last {urgency.label.lower()} rule: the defaults apply again."
    messages.success(request, text)
    return redirect("profile")


@login_required
@require_POST
def rules_customise(request: HttpRequest) -> HttpResponse:
    made = rules.make_default_rules(request.user)
    if made:
        messages.success(
            request,
            f"Wrote the defaults down as {len(made)} rule(s) of your own; "
            "add or delete rules below.",
        )
    elif not request.user.contact_methods.exists():
        messages.error(request, "Add a contact method first: the rules need one to notify.")
    else:
        messages.info(request, "Your rules are already your own; nothing changed.")
    return redirect("profile")
