"""Routing rules: which group an event goes to, and with what priority.

An integration's rules are tried in order; the first whose field equals (or
matches, as a regular expression) its value decides the group and, when the
rule sets one, the priority. No match: the integration's own group.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db.models import F
from django.db.models.signals import post_delete, post_save

from groups.models import Group
from integrations.models import Integration, MatchOperator, RoutingRule
from integrations.parsers import NormalizedEvent

TOP_FIELDS = ("summary", "source", "severity", "dedup_key", "labels", "details")


@dataclass(frozen=True)
class Route:
    group: Group
    severity: str
    rule: RoutingRule | None = None

    @property
    def label(self) -> str:
        return str(self.rule) if self.rule else ""


def check_field(path: str) -> str | None:
    """Why a rule's field cannot name anything, or None when it can."""
    parts = path.split(".")
    if parts[0] not in TOP_FIELDS:
        return f"a field starts with one of {', '.join(TOP_FIELDS)}"
    if parts[0] in ("labels", "details") and len(parts) < 2:
        return f"name the {parts[0][:-1]}: {parts[0]}.<name>"
    if any(not part for part in parts):
        return "a field has no empty parts"
    return None


def check_pattern(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as error:
        return f"not a regular expression: {error}"
    return None


def values_at(fields: dict[str, Any], path: str) -> list[str]:
    """The text values at a dotted path; a list gives each of its items.

    A name that itself has dots (Kubernetes' `app.kubernetes.io/name`) is
    found whole: at each level the longest run of parts that is a key wins.
    """
    value: Any = fields
    parts = path.split(".")
    while parts:
        if not isinstance(value, dict):
            return []
        for n in range(len(parts), 0, -1):
            name = ".".join(parts[:n])
            if name in value:
                value, parts = value[name], parts[n:]
                break
        else:
            return []
    items = value if isinstance(value, list) else [value]
    return [_text(item) for item in items if item is not None]


def matches(rule: RoutingRule, fields: dict[str, Any]) -> bool:
    values = values_at(fields, rule.field)
    if rule.operator == MatchOperator.MATCHES:
        pattern = _pattern(rule.value)
        return pattern is not None and any(pattern.search(v) for v in values)
    return rule.value in values


def route(integration: Integration, rules: list[RoutingRule], event: NormalizedEvent) -> Route:
    fields = event.fields()
    for rule in rules:
        if matches(rule, fields):
            # Read now, not with the cached rule: the group's policy may have changed.
            group = integration.group
            if rule.group_id:
                group = Group.objects.select_related("escalation_policy").get(pk=rule.group_id)
            return Route(group=group, severity=rule.severity or event.severity, rule=rule)
    return Route(group=integration.group, severity=event.severity)


# Rules by (integration id, rules_version): read once per process and version,
# since nearly every request asks and rules seldom change.
RULE_CACHE_SIZE = 512
_rules: dict[tuple[int, int], list[RoutingRule]] = {}


def rules_of(integration: Integration) -> list[RoutingRule]:
    key = (integration.pk, integration.rules_version)
    rules = _rules.get(key)
    if rules is None:
        rules = list(integration.rules.all())
        if len(_rules) >= RULE_CACHE_SIZE:
            _rules.clear()
        _rules[key] = rules
    return rules


def rules_changed(integration_id: int) -> None:
    """Every process reads the integration's rules afresh from now on."""
    Integration.objects.filter(pk=integration_id).update(rules_version=F("rules_version") + 1)


def _on_rule_change(sender, instance: RoutingRule, **kwargs) -> None:
    rules_changed(instance.integration_id)


post_save.connect(_on_rule_change, sender=RoutingRule, dispatch_uid="routing-rule-saved")
post_delete.connect(_on_rule_change, sender=RoutingRule, dispatch_uid="routing-rule-deleted")


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
