"""Readable text from an HTML email, for mail that has no text/plain part.

Scripts, styles and the head are dropped; block elements become line
breaks (paragraphs leave a blank line), as a mail client shows them; a link
keeps its text and, when it is http(s), its address in brackets, so nothing
from the mail becomes clickable on our pages.
"""

import re
from html.parser import HTMLParser

SKIPPED = {"script", "style", "head", "title", "template"}
# Blocks that end a line, and those that also leave a blank line after them.
BLOCKS = {
    "address",
    "article",
    "div",
    "dl",
    "dt",
    "dd",
    "footer",
    "header",
    "hr",
    "li",
    "section",
    "tr",
}
PARAGRAPHS = {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"}
CELLS = {"td", "th"}
# Stand-ins while parsing: HTML's own white space is one space; only tags break lines.
LINE, PARAGRAPH = "\x01", "\x02"
JOINT = re.compile(r"[ \t\n]*[\x01\x02][\x01\x02 \t\n]*")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.pre = 0
        # Per open <a>: its http(s) address ("" for any other) and where its text starts.
        self.links: list[tuple[str, int]] = []

    def _block(self, tag: str) -> None:
        if tag in PARAGRAPHS:
            self.parts.append(PARAGRAPH)
        elif tag in BLOCKS:
            self.parts.append(LINE)
        elif tag in CELLS:
            self.parts.append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "pre":
            self.pre += 1
        self._block(tag)
        if tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            safe = href if href.lower().startswith(("http://", "https://")) else ""
            self.links.append((safe, len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        else:
            self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
        self._block(tag)
        if tag == "a" and self.links:
            href, start = self.links.pop()
            if href and "".join(self.parts[start:]).strip() != href:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def _joint(found: re.Match) -> str:
    run = found.group(0)
    return "\n\n" if PARAGRAPH in run or run.count("\n") > 1 else "\n"


def to_text(html: str) -> str:
    """The HTML's text: a line per block, a blank line after a paragraph, spaces collapsed."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = JOINT.sub(_joint, "".join(parser.parts))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()
