"""An email integration's rules: which mail opens, closes or updates an alert,
where its dedup key comes from, and which mail is ignored.

They live in Integration.email_rules; a missing key takes its default, so
`{}` means "every email opens an alert":

    mode             "open" (every email opens an alert) or "keywords" (words
                     in the subject decide; mail with none of them is ignored)
    open_keywords    ["PROBLEM"]   the subject has one: open an alert
    close_keywords   ["RECOVERY"]  resolve the open alert with the same dedup key
    update_keywords  ["UPDATE"]    add the email to that alert's timeline
    dedup_in         "subject", "body" or "either" (the subject first)
    dedup_start, dedup_end   the dedup key is the text between these markers
                     (no end marker: to the end of the line)
    dedup_regex      or the first group (else the whole match) of this regex
    dedup_fallback   when neither finds a key: "subject" (the sender and the
                     subject, with dates, times, ids and keywords taken out,
                     so a repeat or a recovery finds the same alert) or
                     "message" (the Message-ID: each email its own alert)
    filters          [{"action": "ignore" | "require",
                       "field": "sender" | "subject" | "body",
                       "operator": "contains" | "matches", "value": "..."}]

Filters, as PagerDuty's and AlertOps' users know them: mail matching any
"ignore" filter is ignored; when there are "require" filters, mail must
match every one of them. Keywords, markers, filters and regexes all ignore
case. Keywords match whole words; when a subject holds several, the first
one in the subject wins ("RECOVERY: PROBLEM cleared" closes). decide.py
applies the rules to an email.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MODES = ("open", "keywords")
PLACES = ("subject", "body", "either")
FALLBACKS = ("subject", "message")
FILTER_ACTIONS = ("ignore", "require")
FILTER_FIELDS = ("sender", "subject", "body")
FILTER_OPERATORS = ("contains", "matches")
KEYWORD_LISTS = {"open_keywords": "open", "close_keywords": "close", "update_keywords": "update"}
DEFAULTS: dict[str, Any] = {
    "mode": "open",
    "open_keywords": ["PROBLEM"],
    "close_keywords": ["RECOVERY"],
    "update_keywords": ["UPDATE"],
    "dedup_in": "subject",
    "dedup_start": "",
    "dedup_end": "",
    "dedup_regex": "",
    "dedup_fallback": "subject",
    "filters": [],
}
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 100
MAX_MARKER_LENGTH = 200
MAX_PATTERN_LENGTH = 500
MAX_FILTERS = 20


class RulesError(ValueError):
    """The stored rules cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class Filter:
    action: str
    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        verb = "contains" if self.operator == "contains" else "matches"
        return f"{self.field} {verb} {self.value!r}"

    def matches(self, mail: Any) -> bool:
        """Whether the filter's field of the mail (a decide.Mail) contains or matches the value."""
        text = getattr(mail, self.field)
        if self.operator == "contains":
            return self.value.casefold() in text.casefold()
        return compiled(self.value).search(text) is not None


@dataclass(frozen=True)
class Rules:
    mode: str = "open"
    open_keywords: tuple[str, ...] = ("PROBLEM",)
    close_keywords: tuple[str, ...] = ("RECOVERY",)
    update_keywords: tuple[str, ...] = ("UPDATE",)
    dedup_in: str = "subject"
    dedup_start: str = ""
    dedup_end: str = ""
    dedup_regex: str = ""
    dedup_fallback: str = "subject"
    filters: tuple[Filter, ...] = ()

    @property
    def keywords(self) -> dict[str, tuple[str, ...]]:
        """The keyword lists that count, by what they do (none outside keyword mode)."""
        if self.mode != "keywords":
            return {}
        return {
            "open": self.open_keywords,
            "close": self.close_keywords,
            "update": self.update_keywords,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "open_keywords": list(self.open_keywords),
            "close_keywords": list(self.close_keywords),
            "update_keywords": list(self.update_keywords),
            "dedup_in": self.dedup_in,
            "dedup_start": self.dedup_start,
            "dedup_end": self.dedup_end,
            "dedup_regex": self.dedup_regex,
            "dedup_fallback": self.dedup_fallback,
            "filters": [vars(f).copy() for f in self.filters],
        }


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


def check(raw: Any) -> dict[str, str]:
    """The problems of stored or submitted rules, by field ("filters.0.value" for a filter)."""
    if not isinstance(raw, dict):
        return {"rules": "the email rules must be a JSON object"}
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        errors["rules"] = f"unknown setting {unknown[0]!r}; the rules have {', '.join(DEFAULTS)}"
    data = {**DEFAULTS, **raw}
    for name, choices in (("mode", MODES), ("dedup_in", PLACES), ("dedup_fallback", FALLBACKS)):
        if data[name] not in choices:
            errors[name] = f"must be one of {', '.join(choices)}, not {data[name]!r}"
    seen: dict[str, str] = {}
    for name, does in KEYWORD_LISTS.items():
        problem = _check_keywords(data[name], does, seen)
        if problem:
            errors[name] = problem
    if data["mode"] == "keywords" and not errors.get("open_keywords") and not data["open_keywords"]:
        errors["open_keywords"] = "keyword mode needs an open keyword, or no email opens an alert"
    for name, length in (("dedup_start", MAX_MARKER_LENGTH), ("dedup_end", MAX_MARKER_LENGTH)):
        if not isinstance(data[name], str):
            errors[name] = "must be text"
        elif len(data[name]) > length:
            errors[name] = f"at most {length} characters"
    start, end = str(data["dedup_start"]).strip(), str(data["dedup_end"]).strip()
    if end and not start and "dedup_start" not in errors:
        errors["dedup_start"] = "an end marker needs a start marker"
    problem = check_pattern(data["dedup_regex"])
    if problem:
        errors["dedup_regex"] = problem
    elif data["dedup_regex"].strip() and start:
        errors["dedup_regex"] = "use the markers or a regex, not both"
    marks = start or str(data["dedup_regex"]).strip()
    acting = data["mode"] == "keywords" and (data["close_keywords"] or data["update_keywords"])
    if acting and data["dedup_fallback"] == "message" and not marks:
        errors["dedup_fallback"] = (
            "a close or update email must carry its alert's key: set markers or a regex, "
            "or key by the sender and subject"
        )
    errors.update(_check_filters(data["filters"]))
    return errors


def check_pattern(pattern: Any) -> str | None:
    """Why a regular expression cannot be used, or None."""
    if not isinstance(pattern, str):
        return "must be text"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"at most {MAX_PATTERN_LENGTH} characters"
    try:
        compiled(pattern)
    except re.error as error:
        return f"not a regular expression: {error}"
    return None


def _check_keywords(words: Any, does: str, seen: dict[str, str]) -> str | None:
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        return "must be a list of words"
    if len(words) > MAX_KEYWORDS:
        return f"at most {MAX_KEYWORDS} keywords"
    for word in words:
        if not word.strip():
            return "a keyword cannot be empty"
        if len(word) > MAX_KEYWORD_LENGTH:
            return f"{word[:20]!r}… is longer than {MAX_KEYWORD_LENGTH} characters"
        other = seen.setdefault(word.strip().casefold(), does)
        if other != does:
            return f"{word!r} is already a {other} keyword; a word can do one thing"
    return None


def _check_filters(filters: Any) -> dict[str, str]:
    if not isinstance(filters, list):
        return {"filters": "must be a list of filters"}
    if len(filters) > MAX_FILTERS:
        return {"filters": f"at most {MAX_FILTERS} filters"}
    errors = {}
    for i, item in enumerate(filters):
        where = f"filters.{i}"
        if not isinstance(item, dict):
            errors[where] = "a filter must be an object with action, field, operator and value"
            continue
        for name, choices in (
            ("action", FILTER_ACTIONS),
            ("field", FILTER_FIELDS),
            ("operator", FILTER_OPERATORS),
        ):
            if item.get(name) not in choices:
                errors[f"{where}.{name}"] = f"must be one of {', '.join(choices)}"
        value = item.get("value")
        if not isinstance(value, str) or not value.strip():
            errors[f"{where}.value"] = "enter the text or regex the filter looks for"
        elif item.get("operator") == "matches":
            problem = check_pattern(value)
            if problem:
                errors[f"{where}.value"] = problem
        elif len(value) > MAX_PATTERN_LENGTH:
            errors[f"{where}.value"] = f"at most {MAX_PATTERN_LENGTH} characters"
    return errors


def parse(raw: Any) -> Rules:
    """The rules from their JSON; RulesError naming the first problem."""
    errors = check(raw)
    if errors:
        name, problem = next(iter(errors.items()))
        raise RulesError(f"{name}: {problem}")
    data = {**DEFAULTS, **raw}
    return Rules(
        mode=data["mode"],
        open_keywords=tuple(w.strip() for w in data["open_keywords"]),
        close_keywords=tuple(w.strip() for w in data["close_keywords"]),
        update_keywords=tuple(w.strip() for w in data["update_keywords"]),
        dedup_in=data["dedup_in"],
        dedup_start=data["dedup_start"].strip(),
        dedup_end=data["dedup_end"].strip(),
        dedup_regex=data["dedup_regex"].strip(),
        dedup_fallback=data["dedup_fallback"],
        filters=tuple(
            Filter(f["action"], f["field"], f["operator"], f["value"].strip())
            for f in data["filters"]
        ),
    )


def load(raw: Any) -> tuple[Rules, str]:
    """The integration's rules, or the defaults and why when the stored ones are broken.

    Broken rules (possible through the admin's JSON editor) must not cost an
    alert: the mail is read with the defaults, and the log says so.
    """
    try:
        return parse(raw), ""
    except RulesError as error:
        return Rules(), f"the email rules are broken ({error}), so the defaults were used"
