from django import template

from integrations.views.pages import pretty

register = template.Library()

# The inbound log shows this much of each payload inline; the request's page shows more.
INLINE_CHARACTERS = 2000


@register.filter
def payload_preview(body: str) -> str:
    text, cut = pretty(body)
    if cut or len(text) > INLINE_CHARACTERS:
        return text[:INLINE_CHARACTERS] + "\n…"
    return text
