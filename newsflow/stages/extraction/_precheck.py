"""Cheap checks that refuse a page before any parser sees it.

trafilatura's time grows about quadratically with the number of sibling elements (200k ``<p>``
took 24 s and 420 MB), far below any byte-size cap: counting start tags with a regex costs a few
milliseconds on a 5 MB page and stops those pages before they cost minutes.
"""

from __future__ import annotations

import re

#: A start tag: ``<`` then a letter (end tags, comments and doctypes are not elements).
_START_TAG = re.compile(r"<[A-Za-z]")
#: Markup that any HTML page has somewhere near its start.
_HTML_HINT = re.compile(
    r"<(?:!doctype|html|head|body|meta|title|div|p|article|script)\b", re.IGNORECASE
)
#: C0 control characters that never occur in text (tab, newline, CR and form feed excluded),
#: plus the replacement character that a decoder leaves for undecodable bytes.
_JUNK = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\ufffd]")

#: Share of junk characters above which a "page" is taken for binary data.
JUNK_SHARE = 0.05


def count_elements(html: str) -> int:
    """Number of start tags in ``html`` (a close upper bound of the parsed element count)."""
    return len(_START_TAG.findall(html))


def precheck(html: str, max_elements: int) -> str | None:
    """Why the page must not be parsed, or ``None`` when it may be.

    Checks, cheapest first: emptiness, binary junk, the absence of any HTML markup and the
    number of elements.
    """
    if not html or not html.strip():
        return "empty page"
    sample = html[:65_536]
    junk = len(_JUNK.findall(sample))
    if junk > JUNK_SHARE * len(sample):
        return f"not HTML: binary data ({junk * 100 // len(sample)}% control characters)"
    if not _HTML_HINT.search(html[:200_000]):
        return "not HTML: no HTML markup found"
    # str.count is a C loop: only pages with many '<' pay for the regex.
    if html.count("<") > max_elements:
        elements = count_elements(html)
        if elements > max_elements:
            return f"page has {elements} elements (limit {max_elements})"
    return None
