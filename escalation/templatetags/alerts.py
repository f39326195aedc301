from django import template

from escalation import messages

register = template.Library()


@register.filter
def facts(details) -> list[tuple[str, str]]:
    """An alert's details as readable (name, value) lines."""
    return messages.facts(details)
