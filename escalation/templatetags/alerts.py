from django import template

from escalation import messages

register = template.Library()


@register.filter
def facts(details) -> list[tuple[str, str]]:
    """An alert's details as readable (name, value) lines."""
    return messages.facts(details)


@register.filter
def web_url(href) -> str:
    """The link when it is http(s), else "": tools send links, and a
    `javascript:` one must never become clickable."""
    text = str(href or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else ""
