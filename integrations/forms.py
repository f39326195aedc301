"""Forms for integration pages: settings, the field mapping, routing rules, key rotation."""

from datetime import timedelta

from django import forms

from groups.models import Group
from integrations import routing
from integrations.models import Integration, IntegrationKind, MatchOperator, RoutingRule
from integrations.parsers import mapped

MAX_RATE_LIMIT = 100_000
MAX_HEARTBEAT_MINUTES = 7 * 24 * 60
GRACE_CHOICES = [
    ("0", "None: the old key stops at once"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
]


class IntegrationForm(forms.ModelForm):
    rate_limit_per_minute = forms.IntegerField(
        label="Rate limit (requests a minute)",
        min_value=0,
        max_value=MAX_RATE_LIMIT,
        initial=600,
        help_text="Beyond it the sender is answered 429 with Retry-After; 0 turns the limit off.",
        error_messages={
            "min_value": "The rate limit cannot be negative.",
            "max_value": f"The rate limit can be at most {MAX_RATE_LIMIT} a minute.",
            "invalid": "The rate limit must be a whole number.",
            "required": "Enter the rate limit (0 for none).",
        },
    )

    heartbeat_minutes = forms.IntegerField(
        label="Expect a ping every (minutes)",
        min_value=1,
        max_value=MAX_HEARTBEAT_MINUTES,
        initial=5,
        required=False,
        help_text="Heartbeats: how often the job pings.",
        error_messages={
            "min_value": "A heartbeat needs at least 1 minute between pings.",
            "max_value": f"A heartbeat can wait at most {MAX_HEARTBEAT_MINUTES} minutes (a week).",
            "invalid": "The interval must be a whole number of minutes.",
        },
    )
    heartbeat_grace_minutes = forms.IntegerField(
        label="Grace (minutes)",
        min_value=0,
        max_value=MAX_HEARTBEAT_MINUTES,
        initial=1,
        required=False,
        help_text="How late a ping may be before the alert opens.",
        error_messages={
            "min_value": "The grace cannot be negative.",
            "max_value": f"The grace can be at most {MAX_HEARTBEAT_MINUTES} minutes (a week).",
            "invalid": "The grace must be a whole number of minutes.",
        },
    )

    class Meta:
        model = Integration
        fields = [
            "name",
            "kind",
            "group",
            "enabled",
            "rate_limit_per_minute",
            "heartbeat_minutes",
            "heartbeat_grace_minutes",
            "signing_secret",
            "signature_header",
            "timestamp_header",
        ]
        labels = {
            "group": "Default group",
            "signing_secret": "Signing secret (Grafana HMAC)",
            "signature_header": "Signature header",
            "timestamp_header": "Timestamp header",
        }
        widgets = {"signing_secret": forms.PasswordInput(render_value=True)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = Group.objects.order_by("name")
        self.fields["group"].error_messages["required"] = "Choose the group alerts go to."
        self.fields["name"].error_messages["required"] = "Give the integration a name."
        if self.instance.pk:
            # The kind decides what the sender posts; changing it would break the sender.
            self.fields["kind"].disabled = True

    def clean(self):
        data = super().clean()
        for name, default in (("heartbeat_minutes", 5), ("heartbeat_grace_minutes", 1)):
            if data.get(name) is None and name not in self.errors:
                data[name] = getattr(self.instance, name, None) or default
        signed = data.get("kind") == IntegrationKind.GRAFANA and data.get("signing_secret")
        if signed and not (data.get("signature_header") or "").strip():
            self.add_error("signature_header", "Name the header Grafana puts the signature in.")
        return data


class MappingForm(forms.Form):
    """JMESPath expressions, one per field of the alert (parsers/mapped.py)."""

    summary = forms.CharField(
        required=False, help_text="Required to map: e.g. title, or join(' ', [host, check])"
    )
    dedup_key = forms.CharField(
        label="Dedup key", required=False, help_text="e.g. incident.id; empty: every post is new"
    )
    severity = forms.CharField(
        required=False, help_text="A word: critical, error, warning, info (or high, p1, …)"
    )
    action = forms.CharField(
        required=False, help_text="A word: trigger, acknowledge, resolve (or firing, ok, …)"
    )
    resolve_when = forms.CharField(
        label="Resolve when",
        required=False,
        help_text="True for a recovery, e.g. state == 'ok'",
    )
    source = forms.CharField(required=False, help_text="e.g. host")
    labels = forms.CharField(required=False, help_text="An object, e.g. tags")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.update({"spellcheck": "false", "autocomplete": "off"})

    def mapping(self) -> dict[str, str]:
        return {name: value.strip() for name, value in self.cleaned_data.items() if value.strip()}

    def clean(self):
        data = super().clean()
        values = {name: (value or "").strip() for name, value in data.items()}
        if not any(values.values()):
            return data  # no mapping: the documented event format
        for name, error in mapped.check({k: v for k, v in values.items() if v}).items():
            self.add_error(name, error)
        return data


class RuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = ["field", "operator", "value", "group", "severity"]
        labels = {"field": "When field", "group": "Send to group"}
        help_texts = {
            "field": "labels.<name>, details.<name>, summary, source, severity or dedup_key",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = Group.objects.order_by("name")
        self.fields["group"].empty_label = "(keep the default group)"
        choices = list(self.fields["severity"].choices)[1:]
        self.fields["severity"].choices = [("", "(keep the event's)"), *choices]
        self.fields["field"].error_messages["required"] = "Name the field the rule looks at."
        self.fields["value"].error_messages["required"] = "Enter the value to compare with."

    def clean_field(self):
        path = self.cleaned_data["field"].strip()
        problem = routing.check_field(path)
        if problem:
            raise forms.ValidationError(f"{path!r} names nothing: {problem}.")
        return path

    def clean(self):
        data = super().clean()
        if data.get("operator") == MatchOperator.MATCHES and data.get("value"):
            problem = routing.check_pattern(data["value"])
            if problem:
                self.add_error("value", problem.capitalize() + ".")
        return data


class RotateForm(forms.Form):
    grace = forms.ChoiceField(
        label="Keep the old key working for",
        choices=GRACE_CHOICES,
        initial="86400",
        help_text="Time to give every sender the new key.",
    )

    def grace_period(self) -> timedelta:
        return timedelta(seconds=int(self.cleaned_data["grace"]))
