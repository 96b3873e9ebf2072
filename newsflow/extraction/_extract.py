"""The extraction of one page: main text, metadata and an honest status."""

from __future__ import annotations

import logging

import trafilatura
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from newsflow.contracts import ExtractionResult

from ._language import count_words, detect_language, is_cjk
from ._metadata import (
    PageFacts,
    clean_title,
    keywords,
    main_image,
    parse_date,
    published_date,
    read_facts,
    site_name,
)
from ._precheck import precheck
from ._status import judge

# trafilatura and htmldate log every discarded page at WARNING/ERROR: our result says it.
for _name in ("trafilatura", "htmldate", "readability", "readability.readability"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

#: Default element limit when no settings are given (``Settings.extract_max_elements``).
MAX_ELEMENTS = 100_000


def _failed(error: str, **fields: object) -> ExtractionResult:
    return ExtractionResult(status="failed", error=error, **fields)  # type: ignore[arg-type]


def extract_page(html: str, url: str | None = None, *,
                 max_elements: int = MAX_ELEMENTS) -> ExtractionResult:
    """Extract the main text and metadata of a decoded page. Pure and synchronous.

    Never raises for a bad page: the result has status ``failed`` and a reason instead.
    """
    if not isinstance(html, str):
        return _failed("not HTML: expected decoded text")
    if reason := precheck(html, max_elements):
        return _failed(reason)
    try:
        tree = load_html(html)
    except Exception as exc:  # noqa: BLE001 -- lxml raises many kinds on broken markup
        return _failed(f"HTML could not be parsed: {exc}")
    if tree is None:
        return _failed("HTML could not be parsed")
    try:
        return _extract_tree(html, tree, url)
    except RecursionError:
        return _failed("page is nested too deeply to extract")


def _extract_tree(html: str, tree: HtmlElement, url: str | None) -> ExtractionResult:
    facts = read_facts(tree)
    text, method, doc = _main_text(tree, facts, url)
    title_raw = getattr(doc, "title", None) if doc is not None else None
    site = site_name(facts) or (getattr(doc, "sitename", None) if doc is not None else None)
    title, site_from_title = clean_title(title_raw, facts, site, url)
    site = site or site_from_title

    published, _ = published_date(facts, tree)
    if published is None and doc is not None and getattr(doc, "date", None):
        published = parse_date(doc.date)

    sample = text or " ".join(filter(None, [title, facts.meta.get("description")]))
    language, script = detect_language(sample, facts.html_lang)
    words = count_words(text) if text else 0
    cjk = is_cjk(sample)

    verdict = judge(html, tree, facts, text or "", words, cjk, url)
    fields: dict[str, object] = {
        "title": title,
        "author": getattr(doc, "author", None) if doc is not None else None,
        "published": published,
        "site_name": site,
        "language": language,
        "script": script,
        "word_count": words,
        "image": main_image(facts, url),
        "tags": keywords(facts, list(getattr(doc, "tags", None) or []) if doc is not None else []),
        "method": method,
        "evidence": verdict.evidence,
    }
    if verdict.status == "ok" and not text:
        return _failed("no main content found", **fields)
    return ExtractionResult(status=verdict.status, text=text or None, **fields)  # type: ignore[arg-type]


def _main_text(tree: HtmlElement, facts: PageFacts,
               url: str | None) -> tuple[str, str, object | None]:
    doc = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, with_metadata=True,
    )
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    return text, "trafilatura", doc


__all__ = ["extract_page"]
