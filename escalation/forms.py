"""Forms for escalation policies (with their ordered steps) and the dry run.

A policy and its steps are edited on one page: `PolicyEditor` holds the
policy form and the step formset, validates them together (a step's channel
sequence is required only with the Policy notification type) and saves them
in one transaction. Versions are raised by the models, not here.
"""

from typing import Any

from django import forms
from django.db import transaction
from django.forms import BaseInlineFormSet, inlineformset_factory

from accounts.models import Channel, User
from escalation.models import (
    EscalationPolicy,
    EscalationStep,
    NotificationType,
    Severity,
    StepTarget,
)
from groups.models import Group

MAX_MINUTES = 7 * 24 * 60
MAX_REPEATS = 10
MAX_RETRIES = 10
# The three rows of a step's channel sequence, in the order they are shown.
CHANNEL_ROWS = [Channel.EMAIL, Channel.SMS, Channel.VOICE]


def count_field(label: str, maximum: int, what: str, **kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=maximum,
        error_messages={
            "min_value": f"{what} cannot be negative.",
            "max_value": f"{what} can be at most {maximum}.",
            "invalid": f"{what} must be a whole number.",
            "required": f"Enter {what.lower()} (0 for none).",
        },
        widget=forms.NumberInput(attrs={"min": 0, "max": maximum, "inputmode": "numeric"}),
        **kwargs,
    )


def minutes_field(label: str, what: str, minimum: int = 0, **kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=minimum,
        max_value=MAX_MINUTES,
        error_messages={
            "min_value": f"{what} cannot be negative."
            if minimum == 0
            else f"{what} must be at least {minimum} minute.",
            "max_value": f"{what} can be at most {MAX_MINUTES} minutes (a week).",
            "invalid": f"{what} must be a whole number of minutes.",
            "required": f"Enter {what.lower()} in minutes.",
        },
        widget=forms.NumberInput(
            attrs={"min": minimum, "max": MAX_MINUTES, "inputmode": "numeric"}
        ),
        **kwargs,
    )


class PolicyForm(forms.ModelForm):
    repeat_count = count_field(
        "Repeat the whole policy",
        MAX_REPEATS,
        "The repeat count",
        initial=0,
        help_text="How many more times the policy runs when nobody acknowledges (0 to 10).",
    )
    ack_timeout_minutes = minutes_field(
        "Acknowledgement timeout (minutes)",
        "The acknowledgement timeout",
        minimum=1,
        required=False,
        help_text="Escalate again when an acknowledged alert is not resolved within this time. "
        "Leave empty to turn it off.",
    )

    class Meta:
        model = EscalationPolicy
        fields = [
            "name",
            "description",
            "notification_type",
            "repeat_count",
            "low_urgency_email_only",
            "ack_timeout_minutes",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "notification_type": forms.RadioSelect,
        }
        labels = {"low_urgency_email_only": "Low-urgency alerts by email only"}
        error_messages = {
            "name": {
                "unique": "Another policy already has this name; choose a different one.",
                "required": "Give the policy a name, like “Payments: business hours”.",
            }
        }


class StepForm(forms.ModelForm):
    order = forms.IntegerField(
        label="Order",
        min_value=1,
        required=False,
        error_messages={"min_value": "The order starts at 1.", "invalid": "Order is a number."},
        widget=forms.NumberInput(attrs={"min": 1, "class": "order", "inputmode": "numeric"}),
        help_text="Steps run from the lowest number up; leave empty to add at the end.",
    )
    target = forms.ChoiceField(
        label="Notify",
        choices=[("", "Choose who to notify…"), *StepTarget.choices],
        error_messages={"required": "Choose who this step notifies."},
    )
    users = forms.ModelMultipleChoiceField(
        label="Named users",
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Only with the target Named users.",
    )
    # Initial values match the model's defaults, so an untouched new step is "unchanged".
    retries = count_field("Retries", MAX_RETRIES, "Retries", initial=0)
    retry_interval_minutes = minutes_field(
        "Minutes between retries", "The retry interval", initial=5
    )
    member_wait_minutes = minutes_field(
        "Minutes between members",
        "The wait between members",
        initial=0,
        help_text="0 notifies everybody the step targets at once.",
    )
    wait_minutes = minutes_field(
        "Minutes before the next step", "The wait before the next step", initial=5
    )

    class Meta:
        model = EscalationStep
        fields = [
            "target",
            "users",
            "retries",
            "retry_interval_minutes",
            "member_wait_minutes",
            "wait_minutes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for channel in CHANNEL_ROWS:
            label = Channel(channel).label
            self.fields[f"{channel}_use"] = forms.BooleanField(label=f"Use {label}", required=False)
            self.fields[f"{channel}_after"] = minutes_field(
                f"{label} after (minutes)", f"The {label} delay", required=False
            )
        if self.instance.pk:
            self.initial["order"] = self.instance.position + 1
            self.initial.update(channel_initial(self.instance.channels))
        else:
            self.initial.setdefault("email_use", True)
            self.initial.update(
                {f"{c}_after": 0 for c in CHANNEL_ROWS if f"{c}_after" not in self.initial}
            )

    def channel_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [(Channel(c).label, self[f"{c}_use"], self[f"{c}_after"]) for c in CHANNEL_ROWS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        target, users = data.get("target"), data.get("users")
        if target == StepTarget.USERS and not users:
            self.add_error("users", "Choose at least one person: this step notifies named users.")
        elif target and target != StepTarget.USERS and users:
            self.add_error(
                "users",
                "Named users are only notified when the target is Named users: "
                "clear the selection or choose Named users as the target.",
            )
        if data.get("retries") and data.get("retry_interval_minutes") == 0:
            self.add_error(
                "retry_interval_minutes", "With retries, wait at least 1 minute between them."
            )
        data["channels"] = self._channel_sequence(data)
        return data

    def _channel_sequence(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = []
        for index, channel in enumerate(CHANNEL_ROWS):
            if not data.get(f"{channel}_use"):
                continue
            delay = data.get(f"{channel}_after")
            if delay is None and f"{channel}_after" not in self.errors:
                delay = 0
            if delay is not None:
                chosen.append((delay, index, channel))
        return [{"channel": str(c), "delay_minutes": delay} for delay, _, c in sorted(chosen)]


def channel_initial(channels: list) -> dict[str, Any]:
    """The three channel rows' initial values from a stored channel sequence."""
    initial: dict[str, Any] = {}
    for channel in CHANNEL_ROWS:
        initial[f"{channel}_use"] = False
        initial[f"{channel}_after"] = 0
    for entry in channels or []:
        name = entry if isinstance(entry, str) else entry.get("channel")
        if name in CHANNEL_ROWS:
            initial[f"{name}_use"] = True
            initial[f"{name}_after"] = (
                0 if isinstance(entry, str) else entry.get("delay_minutes", 0)
            )
    return initial


class BaseStepFormSet(BaseInlineFormSet):
    notification_type: str = NotificationType.POLICY

    def live_forms(self) -> list[StepForm]:
        """The steps to keep (not deleted, not left empty), in the order they will run."""
        live = [
            (index, form)
            for index, form in enumerate(self.forms)
            if not self._should_delete_form(form) and (form.instance.pk or form.has_changed())
        ]
        live.sort(key=lambda pair: (pair[1].cleaned_data.get("order") or 10**6, pair[0]))
        return [form for _, form in live]

    def clean(self) -> None:
        super().clean()
        live = self.live_forms()
        if self.notification_type == NotificationType.POLICY:
            for form in live:
                if not any(form.cleaned_data.get(f"{c}_use") for c in CHANNEL_ROWS):
                    form.add_error(
                        None,
                        "Choose at least one channel (Email, SMS or Voice): with the Policy "
                        "notification type the step's channels are how people are reached.",
                    )
        if not live:
            raise forms.ValidationError(
                "Add at least one step: a policy without steps pages nobody."
            )


StepFormSet = inlineformset_factory(
    EscalationPolicy,
    EscalationStep,
    form=StepForm,
    formset=BaseStepFormSet,
    extra=1,
    can_delete=True,
    max_num=30,
)


class PolicyEditor:
    """The policy form and its steps, validated and saved together."""

    def __init__(
        self, data: Any = None, instance: EscalationPolicy | None = None, extra: int = 1
    ) -> None:
        self.form = PolicyForm(data, instance=instance)
        self.steps = StepFormSet(data, instance=instance or EscalationPolicy(), prefix="steps")
        # Set before the forms are built: a new policy starts with more empty steps.
        self.steps.extra = extra
        if instance is not None:
            self.steps.notification_type = instance.notification_type

    def is_valid(self) -> bool:
        form_ok = self.form.is_valid()
        self.steps.notification_type = self.form.cleaned_data.get(
            "notification_type", self.steps.notification_type
        )
        return self.steps.is_valid() and form_ok

    @transaction.atomic
    def save(self) -> EscalationPolicy:
        policy = self.form.save()
        for form in self.steps.deleted_forms:
            if form.instance.pk:
                form.instance.delete()
        for position, form in enumerate(self.steps.live_forms()):
            step = form.save(commit=False)
            if step.pk and not form.has_changed() and step.position == position:
                continue
            step.policy = policy
            step.position = position
            step.channels = form.cleaned_data["channels"]
            step.save()
            form.save_m2m()
        policy.refresh_from_db(fields=["version"])
        return policy


class DryRunForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.CRITICAL)
    start = forms.DateTimeField(
        label="Start",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: now.",
        error_messages={"invalid": "Enter the start as a date and time, like 2026-03-02 09:00."},
    )
    group = forms.ModelChoiceField(
        queryset=Group.objects.none(),
        required=False,
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the listed groups."},
    )

    def __init__(self, *args: Any, groups: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if groups is None:
            del self.fields["group"]
        else:
            self.fields["group"].queryset = groups
            self.fields["group"].required = True
            self.fields["group"].error_messages["required"] = "Choose a group to simulate against."
