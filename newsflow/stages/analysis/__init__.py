"""The analyzer's text logic: word count, asset symbols, keywords, category, similar articles.

Plain functions, no broker: the analyzer worker calls :func:`analyze_text` on the article's
text (the English translation when there is one); similar events are found by
:mod:`newsflow.stages.similar_events`. :func:`rank_similar` is the retired scorer, kept as
``bench/similar.py``'s baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsflow.stages.analysis._text import word_count
from newsflow.stages.analysis.category import categorize
from newsflow.stages.analysis.keywords import MAX_CHARS, extract_keywords, load_segmenter
from newsflow.stages.analysis.similar import CANDIDATES, rank_similar, terms
from newsflow.stages.analysis.symbols import MAX_SYMBOLS, AssetHit, extract_symbols, find_assets

__all__ = [
    "CANDIDATES",
    "AssetHit",
    "TextAnalysis",
    "analyze_text",
    "categorize",
    "extract_keywords",
    "extract_symbols",
    "find_assets",
    "rank_similar",
    "terms",
    "warm_up",
    "word_count",
]


@dataclass(frozen=True)
class TextAnalysis:
    word_count: int
    symbols: list[str]
    keywords: list[str]
    category: str | None
    #: The assets behind ``symbols``, same order: where each was found, how often, salience.
    assets: list[AssetHit] = field(default_factory=list)


def analyze_text(
    *,
    title: str | None,
    text: str,
    language: str | None,
    original_title: str | None = None,
    original_text: str | None = None,
) -> TextAnalysis:
    """Word count, symbols, keywords and category of one article.

    Args:
        title, text: the English translation when there is one, else the original.
        language: the source language (``zh``, ``en``...), which names the category.
        original_title, original_text: the original-language title and text when ``title``
            and ``text`` are a translation; symbols are looked for in both, since names like
            輝達 or tickers may survive in only one of them.

    The word count covers the whole text; symbols, keywords and the category look at its
    first :data:`~newsflow.stages.analysis.keywords.MAX_CHARS` characters (the lead of an article
    names what it is about), which bounds the time one article can take.
    """
    full = text or ""
    text = full[:MAX_CHARS]
    original = (original_text or "")[:MAX_CHARS]
    # Untranslated articles pass the same text twice: scan it once.
    extra = []
    if (original_title or original) and (original_title, original) != (title, text):
        extra.append(
            (
                original_title if original_title != title else None,
                original if original != text else None,
            )
        )
    assets = find_assets(title, text, extra)[:MAX_SYMBOLS]
    symbols = [a.symbol for a in assets]
    return TextAnalysis(
        word_count=word_count(full, language),
        symbols=symbols,
        keywords=extract_keywords(title, text),
        category=categorize(title=title, text=text, language=language, symbols=symbols),
        assets=assets,
    )


def warm_up() -> None:
    """Load what the first article would otherwise wait for: the Chinese segmenter's
    dictionary (a few tenths of a second, ~40 MB) and the compiled symbol tables. Call it
    when a worker starts."""
    load_segmenter()
    analyze_text(title="Bitcoin", text="比特币 $BTC Apple Inc", language="en")
