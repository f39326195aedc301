"""The "Email rules" form of an email integration's page, and its preview sample.

The form edits Integration.email_rules (rules.py has the schema); its checks
are the rules' own, so the page and the stored JSON can never disagree on
what is valid.
"""

from typing import Any

from django import forms

from integrations.email import rules

MIN_FILTER_ROWS = 3
FILTER_PREFIX = "filter"


def _words(text: str) -> list[str]:
    return [word.strip() for word in (text or "").split(",") if word.strip()]


class EmailRulesForm(forms.Form):
    mode = forms.ChoiceField(
        label="What an email does",
        choices=[
            ("open", "Every email opens an alert (a repeat counts as a duplicate of the open one)"),
            (
                "keywords",
                "Keywords in the subject open, close or update an alert; other mail is ignored",
            ),
        ],
        widget=forms.RadioSelect,
        initial="open",
    )
    open_keywords = forms.CharField(
        label="Open keywords", required=False, help_text="Comma-separated, e.g. PROBLEM, DOWN"
    )
    close_keywords = forms.CharField(
        label="Close keywords",
        required=False,
        help_text="Resolve the open alert with the same dedup key, e.g. RECOVERY, UP",
    )
    update_keywords = forms.CharField(
        label="Update keywords",
        required=False,
        help_text="Add the email to that alert's timeline, e.g. UPDATE",
    )
    dedup_in = forms.ChoiceField(
        label="Look for the dedup key in",
        choices=[
            ("subject", "the subject"),
            ("body", "the body"),
            ("either", "the subject, then the body"),
        ],
    )
    dedup_start = forms.CharField(
        label="Start marker", required=False, help_text="The key is what follows, e.g. Host:"
    )
    dedup_end = forms.CharField(
        label="End marker", required=False, help_text="…up to this; empty: to the end of the line"
    )
    dedup_regex = forms.CharField(
        label="Or a regex",
        required=False,
        help_text=r"The first group is the key, e.g. Incident #(\d+)",
    )
    dedup_fallback = forms.ChoiceField(
        label="When no key is found",
        choices=[
            ("subject", "Key by the sender and subject (dates, times, ids and keywords left out)"),
            ("message", "Key by the Message-ID: every email is its own alert"),
        ],
    )
    filter_rows = forms.IntegerField(widget=forms.HiddenInput, required=False)
    sample_from = forms.CharField(label="From", required=False)
    sample_subject = forms.CharField(label="Subject", required=False)
    sample_body = forms.CharField(
        label="Body", required=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.data.get("filter_rows") if self.is_bound else self.initial.get("filter_rows")
        try:
            wanted = int(stored or 0)
        except ValueError:
            wanted = 0
        self.rows = min(max(wanted, MIN_FILTER_ROWS), rules.MAX_FILTERS)
        self.initial["filter_rows"] = self.rows
        for i in range(self.rows):
            self.fields[f"{FILTER_PREFIX}_{i}_action"] = forms.ChoiceField(
                label=f"Filter {i + 1}",
                required=False,
                choices=[("ignore", "Ignore mail whose"), ("require", "Only accept mail whose")],
            )
            self.fields[f"{FILTER_PREFIX}_{i}_field"] = forms.ChoiceField(
                label="Field", required=False, choices=[(f, f) for f in rules.FILTER_FIELDS]
            )
            self.fields[f"{FILTER_PREFIX}_{i}_operator"] = forms.ChoiceField(
                label="Test",
                required=False,
                choices=[("contains", "contains"), ("matches", "matches the regex")],
            )
            self.fields[f"{FILTER_PREFIX}_{i}_value"] = forms.CharField(
                label="Text or regex", required=False
            )
        for field in self.fields.values():
            field.widget.attrs.update({"spellcheck": "false", "autocomplete": "off"})

    @classmethod
    def initial_of(cls, stored: Any) -> dict[str, Any]:
        """The form's initial values from an integration's rules (the defaults when broken)."""
        found, _ = rules.load(stored)
        data = found.to_json()
        initial: dict[str, Any] = {name: ", ".join(data[name]) for name in rules.KEYWORD_LISTS}
        for name in (
            "mode",
            "dedup_in",
            "dedup_start",
            "dedup_end",
            "dedup_regex",
            "dedup_fallback",
        ):
            initial[name] = data[name]
        for i, item in enumerate(data["filters"]):
            for part in ("action", "field", "operator", "value"):
                initial[f"{FILTER_PREFIX}_{i}_{part}"] = item[part]
        initial["filter_rows"] = len(data["filters"]) + 2
        return initial

    def filter_fields(self) -> list[list[forms.BoundField]]:
        """The filter rows, each [action, field, operator, value], for the template."""
        return [
            [
                self[f"{FILTER_PREFIX}_{i}_{part}"]
                for part in ("action", "field", "operator", "value")
            ]
            for i in range(self.rows)
        ]

    def rules_json(self) -> dict[str, Any]:
        """The rules as stored, from the cleaned data; only what differs from the defaults."""
        data = self.cleaned_data
        found: dict[str, Any] = {name: _words(data.get(name, "")) for name in rules.KEYWORD_LISTS}
        for name in ("mode", "dedup_in", "dedup_fallback"):
            found[name] = data.get(name) or rules.DEFAULTS[name]
        for name in ("dedup_start", "dedup_end", "dedup_regex"):
            found[name] = (data.get(name) or "").strip()
        found["filters"] = [
            {
                "action": data.get(f"{FILTER_PREFIX}_{i}_action") or "ignore",
                "field": data.get(f"{FILTER_PREFIX}_{i}_field") or "subject",
                "operator": data.get(f"{FILTER_PREFIX}_{i}_operator") or "contains",
                "value": data[f"{FILTER_PREFIX}_{i}_value"].strip(),
            }
            for i in range(self.rows)
            if (data.get(f"{FILTER_PREFIX}_{i}_value") or "").strip()
        ]
        return {name: value for name, value in found.items() if value != rules.DEFAULTS[name]}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        stored = self.rules_json()
        kept = [
            i for i in range(self.rows) if (data.get(f"{FILTER_PREFIX}_{i}_value") or "").strip()
        ]
        for name, problem in rules.check(stored).items():
            message = problem[:1].upper() + problem[1:] + "."
            if name.startswith("filters."):
                _, index, *part = name.split(".")
                row = kept[int(index)]
                self.add_error(f"{FILTER_PREFIX}_{row}_{part[0] if part else 'value'}", message)
            elif name in self.fields:
                self.add_error(name, message)
            else:
                self.add_error(None, message)
        return data

    def sample(self) -> tuple[str, str, str]:
        """(from, subject, body) to preview the rules with."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return (
            (data.get("sample_from") or "").strip(),
            (data.get("sample_subject") or "").strip(),
            data.get("sample_body") or "",
        )
