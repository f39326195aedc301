"""Template helpers for schedule pages."""

from django import template

from schedules.calendar import PALETTE_SIZE

register = template.Library()


@register.filter
def person_colour(user) -> str:
    """The CSS class of a person's colour, the same on every page."""
    return "gap" if user is None else f"p{user.pk % PALETTE_SIZE}"


@register.filter
def hours(value: float) -> str:
    """1.5 -> "1.5 h", 24.0 -> "24 h"."""
    return f"{value:.1f}".rstrip("0").rstrip(".") + " h"
