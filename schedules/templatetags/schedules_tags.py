"""Template helpers for schedule pages."""

from django import template

from schedules.calendar import colour_of

register = template.Library()

person_colour = register.filter("person_colour", colour_of)


@register.filter
def hours(value: float) -> str:
    """1.5 -> "1.5 h", 24.0 -> "24 h"."""
    return f"{value:.1f}".rstrip("0").rstrip(".") + " h"
