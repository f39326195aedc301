"""The form that plans a maintenance window."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms

from accounts.forms import time_zone_choices
from groups.models import Group
from integrations.models import Integration, MaintenanceWindow, Repeat

MAX_DURATION_MINUTES = 31 * 24 * 60
# A repeating window must end before its next occurrence starts.
PERIOD_MINUTES = {
    Repeat.DAILY: 24 * 60,
    Repeat.WEEKLY: 7 * 24 * 60,
    Repeat.MONTHLY: 28 * 24 * 60,
}


def scope_choices() -> list:
    integrations = [(f"integration:{i.pk}", i.name) for i in Integration.objects.order_by("name")]
    groups = [(f"group:{g.pk}", g.name) for g in Group.objects.order_by("name")]
    return [
        ("", "Choose an integration or a group"),
        ("Groups", groups),
        ("Integrations", integrations),
    ]


class MaintenanceWindowForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        help_text="Shown on every alert the window holds, e.g. 'Database upgrade, ticket OPS-12'.",
        error_messages={"required": "Say why: the reason is shown on the alerts it holds."},
    )
    applies_to = forms.ChoiceField(
        label="For",
        help_text="A group's window holds alerts of every integration routed to it.",
        error_messages={
            "required": "Choose the integration or group the window is for.",
            "invalid_choice": "That integration or group no longer exists.",
        },
    )
    time_zone = forms.ChoiceField(
        help_text="The start and the repeats keep to this zone's wall clock across DST."
    )
    start_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave the date and time empty to start now.",
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD."},
    )
    start_time = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        error_messages={"invalid": "Enter the start time as HH:MM."},
    )
    duration_hours = forms.IntegerField(
        label="Lasts (hours)",
        min_value=0,
        initial=1,
        error_messages={
            "min_value": "The hours cannot be negative.",
            "invalid": "The hours must be a whole number.",
            "required": "Enter how many hours the window lasts (0 with some minutes is fine).",
        },
    )
    duration_minutes = forms.IntegerField(
        label="and minutes",
        min_value=0,
        max_value=59,
        initial=0,
        required=False,
        error_messages={
            "min_value": "The minutes cannot be negative.",
            "max_value": "Minutes go up to 59; add an hour instead.",
            "invalid": "The minutes must be a whole number.",
        },
    )
    repeat = forms.ChoiceField(choices=Repeat.choices, initial=Repeat.ONCE)
    repeat_until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Repeating windows: the last day one may start. Empty: until ended.",
        error_messages={"invalid": "Enter the last day as YYYY-MM-DD."},
    )

    def __init__(self, *args, now: datetime, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        self.fields["applies_to"].choices = scope_choices()
        self.fields["time_zone"].choices = time_zone_choices()

    def clean_applies_to(self) -> tuple[str, int]:
        kind, _, pk = self.cleaned_data["applies_to"].partition(":")
        model = {"integration": Integration, "group": Group}.get(kind)
        if model is None or not pk.isdigit() or not model.objects.filter(pk=pk).exists():
            raise forms.ValidationError("That integration or group no longer exists.")
        return kind, int(pk)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        minutes = data["duration_hours"] * 60 + (data.get("duration_minutes") or 0)
        if minutes <= 0:
            raise forms.ValidationError("A window must last at least one minute.")
        if minutes > MAX_DURATION_MINUTES:
            raise forms.ValidationError("A window can last at most 31 days.")
        repeat = data["repeat"]
        if repeat in PERIOD_MINUTES and minutes > PERIOD_MINUTES[repeat]:
            raise forms.ValidationError(
                f"A window that repeats {Repeat(repeat).label.lower()} must end before the next "
                f"one starts: at most {PERIOD_MINUTES[repeat] // 60} hours."
            )
        zone = ZoneInfo(data["time_zone"])
        day, time = data.get("start_date"), data.get("start_time")
        if (day is None) != (time is None):
            raise forms.ValidationError(
                "Give both the start date and time, or neither to start now."
            )
        starts = self.now if day is None else datetime.combine(day, time, tzinfo=zone)
        if repeat == Repeat.ONCE and starts + timedelta(minutes=minutes) <= self.now:
            raise forms.ValidationError(
                "That window would already be over: choose a later start or a longer one."
            )
        until = data.get("repeat_until")
        if until is not None and repeat == Repeat.ONCE:
            raise forms.ValidationError("A window that runs once has no last day to repeat on.")
        if until is not None and until < starts.astimezone(zone).date():
            raise forms.ValidationError("The last day to repeat on is before the first start.")
        data["starts_at"] = starts
        data["minutes"] = minutes
        return data

    def save(self, created_by=None) -> MaintenanceWindow:
        data = self.cleaned_data
        kind, pk = data["applies_to"]
        return MaintenanceWindow.objects.create(
            reason=data["reason"].strip(),
            integration_id=pk if kind == "integration" else None,
            group_id=pk if kind == "group" else None,
            time_zone=data["time_zone"],
            starts_at=data["starts_at"],
            duration_minutes=data["minutes"],
            repeat=data["repeat"],
            repeat_until=data.get("repeat_until"),
            created_by=created_by,
            created_at=self.now,
        )
