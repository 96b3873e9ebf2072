"""The main text: trafilatura and readability-lxml, and the rule that picks between them.

Neither extractor wins everywhere: trafilatura often keeps a caption block, a related-links
list or a footer line around the article; readability either trims exactly that or, on some
layouts, keeps a single block or the whole page. Their agreement tells which case a page is:

* readability's text is (almost) all inside trafilatura's and shorter: readability trimmed
  boilerplate off the same article, take it;
* trafilatura's text is (almost) all inside readability's and readability has more than twice
  as much: trafilatura stopped at part of the article, take readability;
* otherwise they disagree about where the article is, and trafilatura, the better of the two
  on average, is kept.

Agreement is measured on sets of character windows about four words long (four characters
in Chinese and Japanese), with spaces and punctuation removed, so neither whitespace nor line
breaks matter. Measured on the ScrapingHub and CWCED sets (see
``bench/extraction.py``), the result beats either extractor alone on both.
"""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import dataclass

import lxml.html
import readability.readability as _readability
import trafilatura
from lxml.html import HtmlElement
from lxml_html_clean import Cleaner

#: readability's own cleaner also rewrites every link to drop ``javascript:`` URLs, a third of
#: its run time for nothing a text extractor uses; the same cleaner without that step.
_readability.html_cleaner = Cleaner(  # type: ignore[call-overload]  # remove_tags=None: the default, not in the stubs
    scripts=True,
    javascript=False,
    comments=True,
    style=True,
    links=True,
    meta=False,
    add_nofollow=False,
    page_structure=False,
    processing_instructions=True,
    embedded=False,
    frames=False,
    forms=False,
    annoying_tags=False,
    remove_tags=None,
    remove_unknown_tags=False,
    safe_attrs_only=False,
)

# readability's own patterns (``\s{255,}``, ``\s*\n\s*``), started only at the start of a
# run of spaces: where they match at all they match from there, and retrying them inside a
# run they cannot match made readability's quadratic on a long run without a newline.
_MANY_SPACES = re.compile(r"(?<!\s)\s{255,}")
_NEWLINE_RUN = re.compile(r"(?<!\s)[^\S\n]*+\n\s*+")
_BLANK_RUN = re.compile(r"\t|[ \t]{2,}")


def _readability_clean(text: str) -> str:
    """readability's ``clean`` (it runs on the text of every element it weighs, about 160
    times a page), with the same result: its three substitutions, each skipped when it
    cannot match (no 255 characters, no newline, no tab or double space), its patterns
    compiled once and linear. A third faster; it was 7 % of the extraction's CPU."""
    if len(text) >= 255:
        text = _MANY_SPACES.sub(" " * 255, text)
    if "\n" in text:
        text = _NEWLINE_RUN.sub("\n", text)
    if "\t" in text or "  " in text:
        text = _BLANK_RUN.sub(" ", text)
    return text.strip()


#: readability's own ``clean``, replaced below (tests compare the two).
READABILITY_CLEAN = _readability.clean
_readability.clean = _readability_clean

#: Share of one text's shingles found in the other for it to count as contained.
CONTAINED = 0.9
#: readability replaces a containing trafilatura text when it keeps this share of it or more
#: (less means it kept one block of the article, not the article)...
TRIM_MIN = 0.3
#: ...and is shorter by at least this much (1 %): otherwise they are the same text.
TRIM_MAX = 0.99
#: readability replaces a contained trafilatura text when it is this many times longer.
EXTEND_MIN = 2.0

_NON_WORD = re.compile(r"[\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_BLOCKS = (
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "blockquote",
    "pre",
    "table",
    "section",
    "article",
    "dd",
    "dt",
    "figcaption",
)


@dataclass
class TextChoice:
    text: str
    method: str
    #: trafilatura's document (title, author... of its own metadata pass, when it ran one).
    evidence: str | None = None


def _shingles(text: str, size: int) -> set[str]:
    """Character windows of ``text`` with case, spaces and punctuation removed.

    Slicing one normalised string is several times faster than tokenising, which matters
    for Chinese pages where every character is a token; ``size`` covers about four words.
    """
    flat = _NON_WORD.sub("", text.lower())
    if len(flat) <= size:
        return {flat} if flat else set()
    # The windows flat[i:i + size], sliced by map() in C rather than by a comprehension.
    count = len(flat) - size + 1
    return set(map(flat.__getitem__, map(slice, range(count), range(size, count + size))))


def trafilatura_text(tree: HtmlElement, url: str | None) -> str:
    """trafilatura's main text (fast mode: its own readability/justext comparison is skipped,
    ours replaces it). The tree is copied, not changed."""
    doc = trafilatura.bare_extraction(tree, url=url, fast=True, include_comments=False)
    return (getattr(doc, "text", None) or "").strip() if doc is not None else ""


def readability_text(tree: HtmlElement, *, copy: bool = True) -> str:
    """readability-lxml's main text, one line per block.

    readability changes the tree it reads: ``copy=False`` saves the copy when the caller
    needs the tree no more.
    """
    try:
        doc = _readability.Document(deepcopy(tree) if copy else tree)
        summary = doc.summary(html_partial=True)
    except Exception:  # noqa: BLE001 -- readability raises its own Unparseable and lxml errors
        return ""
    return summary_text(summary)


def summary_text(summary: str) -> str:
    """readability's summary (an HTML fragment) as text, one line per block."""
    if not summary:
        return ""
    try:
        body = lxml.html.fromstring(summary)
    except Exception:  # noqa: BLE001 -- an empty or odd summary
        return ""
    for el in body.iter(*_BLOCKS):
        el.tail = "\n" + (el.tail or "")
    lines = (re.sub(r"\s+", " ", line).strip() for line in body.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


def choose_text(traf: str, read: str) -> TextChoice:
    """Pick between trafilatura's and readability's text by their agreement."""
    if not traf.strip():
        return TextChoice(read, "readability", "trafilatura found no text")
    if not read.strip():
        return TextChoice(traf, "trafilatura", None)
    sample = traf[:2000]
    # Four CJK characters, or about four words of an alphabetic script (6 letters with
    # their space in English: 20 characters).
    size = 4 if len(_CJK.findall(sample)) > 0.3 * len(sample) else 20
    a, b = _shingles(traf, size), _shingles(read, size)
    shared = len(a & b)
    na, nb = len(a) or 1, len(b) or 1
    traf_in_read, read_in_traf, ratio = shared / na, shared / nb, nb / na
    if read_in_traf >= CONTAINED and TRIM_MIN <= ratio <= TRIM_MAX:
        return TextChoice(
            read,
            "readability (trimmed trafilatura)",
            f"readability kept {ratio:.0%} of trafilatura's text",
        )
    if traf_in_read >= CONTAINED and ratio >= EXTEND_MIN:
        return TextChoice(
            read,
            "readability (extended trafilatura)",
            f"readability found {ratio:.1f}x trafilatura's text around it",
        )
    return TextChoice(traf, "trafilatura", None)
