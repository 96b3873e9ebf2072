"""The extraction of one page: main text, metadata and an honest status."""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import datetime

import lxml.html
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import (
    examine_meta,
    extract_catstags,
    extract_meta_json,
    extract_metainfo,
    extract_sitename,
    extract_title,
)
from trafilatura.utils import load_html
from trafilatura.xpaths import AUTHOR_XPATHS

from newsflow.domain.contracts import ExtractionResult

from ._language import count_words, detect_language, is_cjk
from ._lookup import use_fast_lookup
from ._metadata import (
    clean_title,
    keywords,
    main_image,
    page_time,
    parse_date,
    published_date,
    read_facts,
    site_name,
)
from ._precheck import precheck
from ._status import judge, read_signals
from ._text import choose_text, readability_text, trafilatura_text

# trafilatura and htmldate log every discarded page at WARNING/ERROR: our result says it.
for _name in ("trafilatura", "htmldate", "readability", "readability.readability"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

use_fast_lookup()

#: Default element limit when no settings are given (``Settings.extract_max_elements``).
MAX_ELEMENTS = 100_000

#: A visible date with its time, as Chinese and many other sites print it near the headline.
#: Possessive spaces: ``\s*日?\s*`` could split a run of spaces every way (quadratic).
_VISIBLE_DATE = re.compile(
    r"(20\d\d|19\d\d)\s*+[年./-]\s*+(\d{1,2})\s*+[月./-]\s*+(\d{1,2})\s*+日?+\s*+"
    r"(?:(\d{1,2})\s*+[:：时]\s*+(\d{2}))?"
)
_CJK_AUTHOR = re.compile(r"(?:作者|记者|撰文|文)\s*+[:：/／]\s*+([\u4e00-\u9fff·]{2,8})")


def _failed(error: str, **fields: object) -> ExtractionResult:
    return ExtractionResult(status="failed", error=error, **fields)  # type: ignore[arg-type]


def parse_page(html: str) -> HtmlElement | None:
    """The page as an lxml tree; fragments and odd wrappers become a whole document."""
    tree = load_html(html)
    if tree is None:
        # trafilatura refuses pages that do not start like HTML (a wrapper element, a bare
        # fragment); lxml's document parser wraps them in <html><body> instead.
        try:
            tree = lxml.html.document_fromstring(html)
        except Exception:  # noqa: BLE001 -- lxml raises several kinds on junk
            return None
    return tree


def extract_page(
    html: str, url: str | None = None, *, max_elements: int = MAX_ELEMENTS, checked: bool = False
) -> ExtractionResult:
    """Extract the main text and metadata of a decoded page. Pure and synchronous.

    Never raises for a bad page: the result has status ``failed`` and a reason instead.
    ``checked``: the caller ran :func:`precheck` with ``max_elements`` already (the pool
    does, in the parent), so it is not run twice.
    """
    if not isinstance(html, str):
        return _failed("not HTML: expected decoded text")
    if not checked and (reason := precheck(html, max_elements)):
        return _failed(reason)
    try:
        tree = parse_page(html)
    except Exception as exc:  # noqa: BLE001 -- lxml raises many kinds on broken markup
        return _failed(f"HTML could not be parsed: {exc}")
    if tree is None:
        return _failed("HTML could not be parsed")
    try:
        return _extract_tree(html, tree, url)
    except RecursionError:
        return _failed("page is nested too deeply to extract")


def _extract_tree(html: str, tree: HtmlElement, url: str | None) -> ExtractionResult:
    # Metadata first, from the whole tree (JSON-LD lives in <script>, dates in <meta>).
    facts = read_facts(tree)
    meta = examine_meta(tree)
    # trafilatura's JSON-LD reader has known crashes on odd JSON: keep the meta tags then.
    with contextlib.suppress(Exception):
        meta = extract_meta_json(tree, meta)
    site = site_name(facts) or meta.sitename or extract_sitename(tree)
    title, site_from_title = clean_title(meta.title or extract_title(tree), facts, site, url)
    site = site or site_from_title
    tags = keywords(facts, list(meta.tags or []) or extract_catstags("tag", tree))
    signals = read_signals(tree)
    head = signals.visible_head
    published, _ = published_date(facts, tree)
    if published is None:
        published = _visible_date(head) or parse_date(
            find_date(tree, extensive_search=False, original_date=True, url=url)
        )

    # Then the text. Scripts, styles and inline SVG hold no text: dropping them once here
    # spares both extractors (and trafilatura's copy of the tree) from walking them.
    etree.strip_elements(
        tree,
        "script",
        "style",
        "template",
        "svg",
        "noscript",
        "iframe",
        etree.Comment,
        with_tail=False,
    )
    for head_el in tree.findall("head"):
        tree.remove(head_el)
    author = meta.author
    if not author and not is_cjk(head):
        # trafilatura's byline classes ("author", "byline"...); Chinese pages print
        # "作者：" or "记者" in the text instead, read below from the same head.
        author = _byline(tree)
    traf = trafilatura_text(tree, url)  # works on a copy
    read = readability_text(tree, copy=False)  # last user of the tree: may change it
    choice = choose_text(traf, read)
    text = choice.text.strip()

    sample = text or " ".join(filter(None, [title, facts.meta.get("description")]))
    language, script = detect_language(sample, facts.html_lang)
    cjk = is_cjk(sample)
    words = count_words(text) if text else 0

    if not author and cjk and (m := _CJK_AUTHOR.search(head)):
        author = m.group(1)

    # a time the page gave without a zone is in its language's zone (Chinese pages: UTC+8)
    published = page_time(published, language or facts.html_lang)

    verdict = judge(html, signals, facts, text, words, cjk, url)
    evidence = verdict.evidence + ([choice.evidence] if choice.evidence else [])
    fields: dict[str, object] = {
        "title": title,
        "author": author,
        "published": published,
        "site_name": site,
        "language": language,
        "script": script,
        "word_count": words,
        "image": main_image(facts, url),
        "tags": tags,
        "method": choice.method,
        "evidence": evidence,
    }
    if verdict.status == "ok" and not text:
        return _failed("no main content found", **fields)
    return ExtractionResult(status=verdict.status, text=text or None, **fields)  # type: ignore[arg-type]


def _byline(tree: HtmlElement) -> str | None:
    """trafilatura's byline search, run on the tree itself: its own ``extract_author``
    first copies the whole tree to drop comment sections, which cost more than the rest of
    the metadata together."""
    author = extract_metainfo(tree, AUTHOR_XPATHS, len_limit=120)
    return normalize_authors(None, author) if author else None


def _visible_date(head: str) -> datetime | None:
    """A date with a time printed near the top of the page (Chinese news prints
    ``2019年03月12日 10:23`` or ``2019-03-12 10:23`` under the headline)."""
    m = _VISIBLE_DATE.search(head)
    if not m or m.group(4) is None:
        return None  # a bare date near the top is as often a calendar or a copyright line
    y, mo, d, h, mi = (int(g) for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi)  # noqa: DTZ001 - the page names no zone
    except ValueError:
        return None
