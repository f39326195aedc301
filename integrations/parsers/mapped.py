"""The generic webhook with a field mapping: JMESPath expressions, set by an admin.

A mapping names, for each field of the alert, where to find it in the
tool's JSON:

    summary      required, e.g. `title` or `join(' ', [host, check])`
    dedup_key    e.g. `incident.id`; without it every post is a new alert
    severity     a word: critical, error, warning, info, or a common alias
    action       a word: trigger, acknowledge or resolve, or a common alias
    resolve_when an expression that is true for a recovery, e.g. `state == 'ok'`
    source       e.g. `host`
    labels       an expression giving an object, e.g. `tags`

`details` is the whole payload, so nothing the tool sent is lost.
"""

import json
import uuid
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from integrations.parsers.base import SEVERITY_WORDS, NormalizedEvent, ParseError, check_dedup_key

FIELDS = ("summary", "dedup_key", "severity", "action", "resolve_when", "source", "labels")
ACTION_WORDS = {
    "trigger": "trigger",
    "triggered": "trigger",
    "firing": "trigger",
    "alert": "trigger",
    "alerting": "trigger",
    "problem": "trigger",
    "open": "trigger",
    "create": "trigger",
    "acknowledge": "acknowledge",
    "acknowledged": "acknowledge",
    "ack": "acknowledge",
    "resolve": "resolve",
    "resolved": "resolve",
    "recovery": "resolve",
    "recovered": "resolve",
    "ok": "resolve",
    "close": "resolve",
    "closed": "resolve",
    "clear": "resolve",
}


class MappingError(ValueError):
    """An expression of the mapping does not compile."""


@lru_cache(maxsize=512)
def compiled(expression: str):
    try:
        return jmespath.compile(expression)
    except JMESPathError as error:
        raise MappingError(str(error).strip().splitlines()[0]) from None


def check(mapping: dict[str, str]) -> dict[str, str]:
    """The errors of a mapping, by field: unknown fields, expressions that do not compile."""
    errors = {}
    for name, expression in mapping.items():
        if name not in FIELDS:
            errors[name] = f"unknown field; the mapping can set {', '.join(FIELDS)}"
            continue
        if not isinstance(expression, str):
            # Possible through the admin's JSON editor.
            errors[name] = f"{expression!r} is not a JMESPath expression: it must be text"
            continue
        try:
            compiled(expression)
        except MappingError as error:
            errors[name] = f"{expression!r} is not a JMESPath expression: {error}"
    if "summary" not in mapping:
        errors.setdefault("summary", "the summary's expression is required")
    return errors


def parse(payload: Any, mapping: dict[str, str]) -> list[NormalizedEvent]:
    # The admin's JSON editor can store anything: refuse it with 400, not a 500
    # the sender would retry forever.
    if not isinstance(mapping, dict):
        raise ParseError("the integration's mapping is broken: it must be an object of fields")

    def found(name: str, needed: bool = True) -> Any:
        expression = mapping.get(name)
        if expression is None:
            return None
        if not isinstance(expression, str):
            raise ParseError(f"the mapping of '{name}' is broken: {expression!r} is not text")
        expression = expression.strip()
        if not expression:
            return None
        try:
            return compiled(expression).search(payload)
        except MappingError as error:
            raise ParseError(f"the mapping of '{name}' is broken: {error}") from None
        except JMESPathError as error:
            if not needed:
                return None
            raise ParseError(f"the mapping of '{name}' ({expression}) failed: {error}") from None

    def text(name: str, needed: bool = True) -> str:
        value = found(name, needed)
        if value is None or isinstance(value, (dict, list)):
            return "" if value is None else _short(value)
        return str(value).strip()

    action = "trigger"
    if mapping.get("action"):
        word = text("action")
        if word:
            action = ACTION_WORDS.get(word.lower(), "")
            if not action:
                raise ParseError(
                    f"the mapping of 'action' ({mapping['action']}) found {word!r}; "
                    f"expected one of {', '.join(sorted(ACTION_WORDS))}"
                )
    if mapping.get("resolve_when") and found("resolve_when"):
        action = "resolve"
    dedup_key = check_dedup_key(text("dedup_key"), f"the value at {mapping.get('dedup_key')}")
    # Only a trigger needs more than the dedup key: a recovery often lacks the
    # fields a summary is built from (join() over a missing one is a type
    # error), and must not be refused for it.
    needed = action == "trigger"
    summary = text("summary", needed)
    if action == "trigger" and not summary:
        raise ParseError(
            f"the mapping of 'summary' ({mapping.get('summary')}) found nothing in the payload"
        )
    if action != "trigger" and not dedup_key:
        raise ParseError(
            f"to {action} an alert the mapping of 'dedup_key' must find a value; "
            f"{mapping.get('dedup_key') or 'it is not set'}"
        )
    severity = "error"
    if mapping.get("severity"):
        severity = SEVERITY_WORDS.get(text("severity", needed).lower(), "error")
    labels = found("labels", needed)
    return [
        NormalizedEvent(
            action=action,
            dedup_key=dedup_key or uuid.uuid4().hex,
            summary=summary,
            severity=severity,
            details=payload if isinstance(payload, dict) else {"payload": payload},
            source=text("source", needed),
            labels=labels if isinstance(labels, dict) else {},
        )
    ]


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True)[:1024]
