"""Forms for a schedule, its layers (with participants and restrictions) and overrides.

Participants are a list of user ids in order (one select per place on the
page, so a person may hold several places); restrictions are a small formset.
Every refusal says in words what was wrong.
"""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import recurrence
from django import forms
from django.db import transaction
from django.forms import formset_factory
from django.utils import timezone
from recurrence.exceptions import DeserializationError

from accounts.models import User
from alertops.lib import clock
from groups.models import Group
from schedules import overrides, signals
from schedules.models import (
    Override,
    Restriction,
    Rotation,
    RotationMember,
    Schedule,
    ShiftUnit,
)

WEEKDAYS = [
    ("0", "Mon"),
    ("1", "Tue"),
    ("2", "Wed"),
    ("3", "Thu"),
    ("4", "Fri"),
    ("5", "Sat"),
    ("6", "Sun"),
]
MAX_SHIFT = {ShiftUnit.HOURS: 24 * 28, ShiftUnit.DAYS: 28, ShiftUnit.WEEKS: 12}
MAX_PARTICIPANTS = 100
# A custom rule must hand over at most this often (checked on its first occurrences).
MIN_CUSTOM_SHIFT = timedelta(hours=1)
CHECKED_OCCURRENCES = 200


def group_users(group: Group):
    return User.objects.filter(memberships__group=group, is_active=True).order_by(
        "full_name", "username"
    )


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["time_zone"]
        labels = {"time_zone": "Time zone"}
        widgets = {"time_zone": forms.TextInput(attrs={"list": "zones", "autocomplete": "off"})}
        error_messages = {"time_zone": {"required": "Enter the schedule's time zone."}}


class RotationForm(forms.ModelForm):
    recurrence_text = forms.CharField(
        label="Custom rule",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "RRULE:FREQ=WEEKLY;BYDAY=MO,TH"}),
        help_text=(
            "Only for a custom rotation: an RFC 5545 rule; every occurrence, counted from the "
            "start date and handoff time, hands over to the next participant."
        ),
    )

    class Meta:
        model = Rotation
        fields = [
            "name",
            "role",
            "layer",
            "start_date",
            "handoff_time",
            "shift_unit",
            "shift_length",
            "end_date",
        ]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "handoff_time": forms.TimeInput(attrs={"type": "time"}),
            "end_date": forms.DateInput(attrs={"type": "date"}),
        }
        error_messages = {
            "name": {"required": "Give the layer a name, e.g. “Weekly Primary”."},
            "start_date": {
                "required": "Enter the date the first shift starts.",
                "invalid": "Enter the start date as YYYY-MM-DD.",
            },
            "handoff_time": {
                "required": "Enter the handoff time, e.g. 09:00.",
                "invalid": "Enter the handoff time as HH:MM, e.g. 09:00.",
            },
            "end_date": {"invalid": "Enter the end date as YYYY-MM-DD."},
            "shift_length": {
                "required": "Enter how long one shift lasts.",
                "invalid": "The shift length must be a whole number.",
            },
            "layer": {"invalid": "The layer must be a whole number."},
        }

    def __init__(self, *args: Any, group: Group, schedule: Schedule, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group
        self.schedule = schedule
        zone = schedule.time_zone
        self.fields["start_date"].label = f"Start date ({zone})"
        self.fields["handoff_time"].label = f"Handoff time ({zone})"
        self.fields["end_date"].label = f"End date ({zone}, optional)"
        if self.instance.pk and self.instance.recurrence:
            self.initial["recurrence_text"] = recurrence.serialize(self.instance.recurrence)
        self.choices = list(group_users(group))
        by_id = {u.pk: u for u in self.choices}
        if self.is_bound:
            raw = [v for v in self.data.getlist("participant") if v]
        else:
            raw = [str(m.user_id) for m in self.instance.members.all()] if self.instance.pk else []
        self.participant_ids = raw
        self.participants: list[User] = []
        self.participant_error = ""
        for value in raw:
            user = by_id.get(int(value)) if value.isdigit() else None
            if user is None:
                self.participant_error = (
                    "Every participant must be an active member of "
                    f"{group.name}; add people to the group first."
                )
            else:
                self.participants.append(user)

    def participant_rows(self) -> list[str]:
        """The selected user ids, one select each, plus three empty places."""
        return [*self.participant_ids, "", "", ""]

    def clean_layer(self) -> int:
        layer = self.cleaned_data.get("layer")
        if layer is None:
            raise forms.ValidationError("Enter the layer number (1 is the lowest).")
        if not 1 <= layer <= 99:
            raise forms.ValidationError("The layer must be between 1 and 99.")
        return layer

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        unit, length = data.get("shift_unit"), data.get("shift_length")
        if unit in MAX_SHIFT and length is not None:
            limit = MAX_SHIFT[unit]
            if not 1 <= length <= limit:
                self.add_error(
                    "shift_length",
                    f"A shift of {ShiftUnit(unit).label.lower()} must be between 1 and {limit}.",
                )
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end <= start:
            self.add_error("end_date", "The end date must be after the start date.")
        text = (data.get("recurrence_text") or "").strip()
        data["recurrence"] = None
        if unit == ShiftUnit.CUSTOM:
            data["recurrence"] = self._rule(text, start, data.get("handoff_time"))
        if self.participant_error:
            raise forms.ValidationError(self.participant_error)
        if not self.participants:
            raise forms.ValidationError(
                "Choose at least one participant: a layer without people puts nobody on call."
            )
        if len(self.participants) > MAX_PARTICIPANTS:
            raise forms.ValidationError(f"A layer can have at most {MAX_PARTICIPANTS} places.")
        return data

    def _rule(self, text: str, start, handoff):
        if not text:
            self.add_error(
                "recurrence_text",
                "A custom rotation needs a rule, e.g. RRULE:FREQ=WEEKLY;BYDAY=MO,TH.",
            )
            return None
        if not text.upper().startswith(("RRULE:", "DTSTART", "EXRULE:", "RDATE:", "EXDATE:")):
            text = "RRULE:" + text
        try:
            # Dates in the rule without a "Z" are the schedule's wall-clock dates,
            # as oncall.compile_rotation reads them back.
            with timezone.override(self.schedule.zone):
                rule = recurrence.deserialize(text)
        except (DeserializationError, ValueError, TypeError) as exc:
            self.add_error(
                "recurrence_text",
                f"The rule could not be read ({exc}). Example: RRULE:FREQ=DAILY;INTERVAL=2.",
            )
            return None
        if not rule.rrules:
            self.add_error("recurrence_text", "The rule needs an RRULE line.")
            return None
        if start and handoff:
            first = datetime.combine(start, handoff)
            try:
                with timezone.override(self.schedule.zone):
                    occurrences = iter(rule.to_dateutil_rruleset(dtstart=first))
                previous = None
                for _ in range(CHECKED_OCCURRENCES):
                    at = next(occurrences, None)
                    if at is None:
                        break
                    if previous is not None and at - previous < MIN_CUSTOM_SHIFT:
                        self.add_error(
                            "recurrence_text",
                            "The rule hands over more often than once an hour; shifts must "
                            "last at least an hour.",
                        )
                        return None
                    previous = at
            except (ValueError, TypeError) as exc:
                self.add_error("recurrence_text", f"The rule cannot be evaluated: {exc}.")
                return None
        return rule

    def save(self, commit: bool = True) -> Rotation:
        rotation = super().save(commit=False)
        rotation.schedule = self.schedule
        rotation.recurrence = self.cleaned_data.get("recurrence") or recurrence.Recurrence()
        rotation.save()
        rotation.members.all().delete()
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=user, position=n)
            for n, user in enumerate(self.participants)
        )
        return rotation


class RestrictionForm(forms.Form):
    weekdays = forms.MultipleChoiceField(
        label="Days",
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The days the window starts on.",
    )
    start_time = forms.TimeField(
        label="From",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        error_messages={"invalid": "Enter the start as HH:MM."},
    )
    end_time = forms.TimeField(
        label="Until",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        error_messages={"invalid": "Enter the end as HH:MM."},
        help_text="At or before the start: runs past midnight.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        used = [data.get("start_time") is not None, data.get("end_time") is not None]
        if any(used) or data.get("weekdays"):
            if not all(used):
                raise forms.ValidationError(
                    "A restriction needs both a start and an end time (or leave the row empty)."
                )
            if not data.get("weekdays"):
                raise forms.ValidationError("Tick at least one day for this restriction.")
        return data

    @property
    def is_empty(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return data.get("start_time") is None and not data.get("weekdays")


RestrictionFormSet = formset_factory(RestrictionForm, extra=2, max_num=14)


class LayerEditor:
    """The layer form and its restrictions, validated and saved together."""

    def __init__(self, data=None, *, group: Group, schedule: Schedule, instance=None) -> None:
        self.form = RotationForm(data, group=group, schedule=schedule, instance=instance)
        initial = []
        if instance is not None and instance.pk:
            initial = [
                {"weekdays": list(r.weekdays), "start_time": r.start_time, "end_time": r.end_time}
                for r in instance.restrictions.all()
            ]
        self.restrictions = RestrictionFormSet(data, initial=initial, prefix="restriction")

    def is_valid(self) -> bool:
        return self.form.is_valid() & self.restrictions.is_valid()

    def save(self) -> Rotation:
        with transaction.atomic():
            rotation = self.form.save()
            rotation.restrictions.all().delete()
            Restriction.objects.bulk_create(
                Restriction(
                    rotation=rotation,
                    weekdays="".join(sorted(f.cleaned_data["weekdays"])),
                    start_time=f.cleaned_data["start_time"],
                    end_time=f.cleaned_data["end_time"],
                )
                for f in self.restrictions
                if not f.is_empty
            )
            signals.touch(rotation.schedule_id)
        return rotation


class OverrideForm(forms.ModelForm):
    """Dates and times are read in the viewer's time zone (activated per request)."""

    class Meta:
        model = Override
        fields = ["role", "user", "replaces", "starts_at", "ends_at", "note"]
        labels = {"user": "Who is on call", "replaces": "In place of (optional)"}
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "ends_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        }
        error_messages = {
            "user": {"required": "Choose who takes the role."},
            "starts_at": {
                "required": "Enter when the override starts.",
                "invalid": "Enter the start as a date and time.",
            },
            "ends_at": {
                "required": "Enter when the override ends.",
                "invalid": "Enter the end as a date and time.",
            },
        }

    def __init__(
        self, *args: Any, schedule: Schedule, zone: ZoneInfo, allowed=None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.schedule = schedule
        members = group_users(schedule.group)
        self.fields["user"].queryset = members
        self.fields["replaces"].queryset = members
        self.zone = zone
        self.fields["starts_at"].label = f"Starts ({zone.key})"
        self.fields["ends_at"].label = f"Ends ({zone.key})"
        # Who the person filling the form may name (None: anybody, for managers).
        self.allowed = allowed

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user, replaces = data.get("user"), data.get("replaces")
        start, end = data.get("starts_at"), data.get("ends_at")
        if (
            self.allowed is not None
            and user
            and not overrides.names(self.allowed, user.pk, replaces.pk if replaces else None)
        ):
            raise forms.ValidationError(
                "You can only take a shift yourself or have somebody cover for you; "
                "a schedule manager can arrange other overrides."
            )
        if user and start and end and data.get("role"):
            overrides.check(
                self.schedule,
                data["role"],
                user,
                start,
                end,
                replaces,
                exclude=self.instance.pk,
                zone=self.zone,
                now=clock.now(),
            )
        return data

    def save(self, commit: bool = True) -> Override:
        override = super().save(commit=False)
        override.schedule = self.schedule
        return overrides.save(override, zone=self.zone, now=clock.now())
