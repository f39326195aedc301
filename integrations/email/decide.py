"""What an email integration's rules make of one email: open, close or
update an alert (and which one, by its dedup key), or ignore it and why.

The rules themselves, their defaults and their checks are in rules.py.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from integrations.email.rules import Rules, compiled

# Alert.dedup_key holds 255; longer keys keep a readable start and a hash of the whole.
MAX_KEY_LENGTH = 255
ACTIONS = {"open": "trigger", "close": "resolve", "update": "note"}

# Parts of a subject that change from one email about the same problem to the next.
VOLATILE = [
    re.compile(
        r"\b\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:z|[+-]\d{2}:?\d{2})?"
    ),
    re.compile(r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"),
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[ap]\.?m\.?)?(?:\s?(?:utc|gmt|z))?\b"),
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
]
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr)\s*(?:\[\d+\])?\s*:\s*)+")


@dataclass(frozen=True)
class Mail:
    """What the rules read of an email."""

    sender: str  # the From line as written: 'Nagios <nagios@example.com>'
    subject: str
    body: str
    sender_address: str = ""  # the address alone, lower case
    message_id: str = ""


@dataclass
class Decision:
    """What the rules make of one email: an action and its dedup key, or why it is ignored."""

    action: str | None  # "trigger", "resolve", "note"; None: ignored
    dedup_key: str = ""
    reasons: list[str] = field(default_factory=list)

    @property
    def explanation(self) -> str:
        return "; ".join(self.reasons)


def decide(rules: Rules, mail: Mail) -> Decision:
    """What the rules do with one email."""
    for n, rule in enumerate(rules.filters, 1):
        if rule.action == "ignore" and rule.matches(mail):
            return Decision(None, reasons=[f"ignored by filter {n}: {rule}"])
    for n, rule in enumerate(rules.filters, 1):
        if rule.action == "require" and not rule.matches(mail):
            return Decision(None, reasons=[f"ignored: filter {n} accepts only mail whose {rule}"])
    decision = Decision("trigger")
    if rules.mode == "keywords":
        found = keyword_in(rules, mail.subject)
        if found is None:
            listed = "; ".join(
                f"{does}: {', '.join(words)}" for does, words in rules.keywords.items() if words
            )
            return Decision(None, reasons=[f"ignored: the subject has no keyword ({listed})"])
        does, word = found
        decision = Decision(ACTIONS[does], reasons=[f"keyword {word!r}: {does}"])
    decision.dedup_key, how = dedup_key(rules, mail)
    decision.reasons.append(how)
    return decision


def keyword_in(rules: Rules, subject: str) -> tuple[str, str] | None:
    """(what it does, the keyword) of the first keyword in the subject, or None."""
    best: tuple[int, int, str, str] | None = None
    for does, words in rules.keywords.items():
        for word in words:
            found = _word(word).search(subject)
            if found and (best is None or (found.start(), -len(word)) < best[:2]):
                best = (found.start(), -len(word), does, word)
    return (best[2], best[3]) if best else None


@lru_cache(maxsize=512)
def _word(word: str) -> re.Pattern:
    """The keyword as a whole word: no letter or digit may touch it."""
    before = r"(?<!\w)" if re.match(r"\w", word) else ""
    after = r"(?!\w)" if re.search(r"\w$", word) else ""
    return re.compile(before + re.escape(word) + after, re.IGNORECASE)


def dedup_key(rules: Rules, mail: Mail) -> tuple[str, str]:
    """The email's dedup key, and where it came from in words."""
    places = ("subject", "body") if rules.dedup_in == "either" else (rules.dedup_in,)
    wanted = ""
    if rules.dedup_regex or rules.dedup_start:
        for place in places:
            text = getattr(mail, place)
            if rules.dedup_start:  # markers or a regex, never both (rules.py)
                value = _between(rules.dedup_start, rules.dedup_end, text)
            else:
                value = _by_regex(rules.dedup_regex, text)
            if value:
                return bounded(value), f"dedup key {value[:80]!r} from the {place}"
        how = "regex" if rules.dedup_regex else "markers"
        wanted = f"the dedup {how} found nothing in the {' or '.join(places)}, so "
    if rules.dedup_fallback == "message":
        if mail.message_id:
            return bounded(f"message:{mail.message_id}"), wanted + "keyed by the Message-ID"
        return f"message:{uuid.uuid4().hex}", wanted + "a new alert (the email has no Message-ID)"
    key = f"{mail.sender_address or mail.sender.casefold()}: {normalised_subject(rules, mail)}"
    return bounded(key), wanted + "keyed by the sender and subject"


def _by_regex(pattern: str, text: str) -> str:
    found = compiled(pattern).search(text)
    if found is None:
        return ""
    value = found.group(1) if found.re.groups else found.group(0)
    return (value or "").strip()


def _between(start: str, end: str, text: str) -> str:
    """The text after `start` up to `end` (no end: to the end of the line); ""
    when the end marker never comes, rather than the rest of the mail."""
    tail = re.escape(end) if end else r"$"
    found = re.search(
        re.escape(start) + r"(.*?)" + tail, text, re.IGNORECASE | re.DOTALL | re.MULTILINE
    )
    return found.group(1).strip() if found else ""


def normalised_subject(rules: Rules, mail: Mail) -> str:
    """The subject as it stays from one email about a problem to the next: lower
    case, without Re:/Fwd:, dates, times, UUIDs and (in keyword mode) the keywords."""
    text = REPLY_PREFIX.sub("", mail.subject.casefold())
    for pattern in VOLATILE:
        text = pattern.sub(" ", text)
    for words in rules.keywords.values():
        for word in words:
            text = _word(word).sub(" ", text)
    text = " ".join(text.split()).strip(" -:;,.|")
    return text or "(no subject)"


def bounded(key: str) -> str:
    key = " ".join(key.split())
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[:200]}…{digest}"
