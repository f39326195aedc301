"""The outbound webhook form: name, URL, which events, which groups, enabled."""

from django import forms

from groups.models import Group
from integrations.models import OutboundWebhook, WebhookEvent
from integrations.outbound import targets


class OutboundWebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="Tick none to send every event, including any added later.",
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.none(),
        required=False,
        label="Groups",
        help_text="Choose none to send the alerts of every group.",
    )

    class Meta:
        model = OutboundWebhook
        fields = ["name", "url", "events", "groups", "enabled"]
        labels = {"url": "URL", "enabled": "Enabled"}
        help_texts = {
            "url": "Where each event is POSTed as JSON, e.g. your ticketing system's webhook URL.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.order_by("name")
        self.fields["groups"].widget.attrs["size"] = 6
        self.fields["name"].error_messages["required"] = "Give the webhook a name."
        self.fields["url"].error_messages.update(
            required="Enter the URL to send events to.",
            invalid="Enter a full URL, starting with https:// or http://.",
        )
        self.fields["url"].widget.attrs.update(spellcheck="false", autocomplete="off")
        if not self.instance.pk:
            self.fields["enabled"].initial = True

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        try:
            targets.check_url(url)
        except targets.TargetRefused as error:
            raise forms.ValidationError(f"This URL is refused: {error}") from None
        except targets.TargetUnresolved as error:
            raise forms.ValidationError(
                f"{error} Check the host name: events could not be delivered to it."
            ) from None
        return url

    def clean_events(self) -> list[str]:
        chosen = set(self.cleaned_data["events"])
        return [value for value in WebhookEvent.values if value in chosen]
