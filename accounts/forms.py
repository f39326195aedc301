"""Forms for a person's own profile: name and time zone, contact methods, rules."""

import re
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import Channel, ContactMethod, NotificationRule, User

# E.164: a plus sign, a country code that does not start with 0, at most 15 digits.
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# What people type between digits; removed before the number is checked.
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
MAX_RULE_DELAY = 24 * 60


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        error_messages={
            "invalid_choice": "“%(value)s” is not a time zone we know: choose one from the "
            "list, like Europe/Berlin or America/New_York."
        },
        help_text="Every time on these pages and in your messages is shown in this zone.",
    )

    class Meta:
        model = User
        fields = ["full_name", "time_zone"]
        labels = {"full_name": "Name"}


class ContactMethodForm(forms.ModelForm):
    channel = forms.ChoiceField(label="Channel", choices=Channel.choices)

    class Meta:
        model = ContactMethod
        fields = ["channel", "address", "label"]
        labels = {"address": "Address or number", "label": "Label (optional)"}
        help_texts = {
            "address": "An email address, or for SMS and voice a number in international "
            "form, like +15551234567.",
        }
        widgets = {"address": forms.TextInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel, address = data.get("channel"), (data.get("address") or "").strip()
        if not channel or not address:
            return data
        if channel == Channel.EMAIL:
            try:
                validate_email(address)
            except ValidationError:
                self.add_error(
                    "address",
                    f"“{address}” is not an email address; enter one like alice@example.com.",
                )
                return data
        else:
            number = PHONE_SEPARATORS.sub("", address)
            if number.startswith("00"):
                number = "+" + number[2:]
            if not E164.match(number):
                self.add_error(
                    "address",
                    f"“{address}” is not a phone number in international form: start with + "
                    "and the country code, then the number, like +15551234567.",
                )
                return data
            address = number
        data["address"] = address
        if ContactMethod.objects.filter(user=self.user, channel=channel, address=address).exists():
            self.add_error(
                "address", f"You already have {Channel(channel).label} {address} on your profile."
            )
        return data

    def save(self, commit: bool = True) -> ContactMethod:
        contact = super().save(commit=False)
        contact.user = self.user
        contact.address = self.cleaned_data["address"]
        last = (
            ContactMethod.objects.filter(user=self.user, channel=contact.channel)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        contact.position = 0 if last is None else last + 1
        if commit:
            contact.save()
        return contact


class NotificationRuleForm(forms.Form):
    delay_minutes = forms.IntegerField(
        label="Minutes after I am paged",
        min_value=0,
        max_value=MAX_RULE_DELAY,
        initial=0,
        error_messages={
            "min_value": "The delay cannot be negative: 0 means at once.",
            "max_value": f"The delay can be at most {MAX_RULE_DELAY} minutes (a day).",
            "invalid": "The delay must be a whole number of minutes.",
            "required": "Enter how many minutes after the page (0 for at once).",
        },
        widget=forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
    )
    contact_method = forms.ModelChoiceField(
        label="Notify me via",
        queryset=ContactMethod.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of your own contact methods."},
    )

    def __init__(self, *args: Any, user: User, urgency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.urgency = user, urgency
        self.fields["contact_method"].queryset = user.contact_methods.order_by(
            "channel", "position", "id"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        contact, delay = data.get("contact_method"), data.get("delay_minutes")
        if contact is not None and delay is not None:
            duplicate = NotificationRule.objects.filter(
                user=self.user, urgency=self.urgency, contact_method=contact, delay_minutes=delay
            )
            if duplicate.exists():
                raise ValidationError(f"You already have this rule: {delay} min via {contact}.")
        return data

    def save(self) -> NotificationRule:
        return NotificationRule.objects.create(
            user=self.user,
            urgency=self.urgency,
            contact_method=self.cleaned_data["contact_method"],
            delay_minutes=self.cleaned_data["delay_minutes"],
        )
