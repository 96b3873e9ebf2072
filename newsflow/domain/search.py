"""Search terms: what an article is found by, for English and Chinese together.

SecantusDB (the embedded default) has no ``$text`` index, so search is a multikey index on an
array of terms stored on the article (``terms``), which MongoDB and SecantusDB both serve:

- Latin, Cyrillic, digits...: words, NFKC-folded and lower-cased, at least two characters,
  minus a short English stop list (``the``, ``and``...);
- Chinese, Japanese, Korean: every pair of neighbouring characters (bigrams; a lone
  character is kept as it is), so ``比特币价格`` is found by ``比特``, ``特币``, ``比特币`` or
  ``价格`` without a segmenter or its dictionary.

A query is tokenised the same way and an article matches when it holds every query term;
the original and the translation are both indexed, so a Chinese article is found by a word
of its English translation and by a Chinese word. Plain logic, no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

#: At most this many characters of an article's text are indexed (the title always is).
MAX_TEXT_CHARS = 40_000
#: At most this many distinct terms are stored per article (title terms first).
MAX_TERMS = 3_000
#: Characters of a query that are read (the API takes 200).
MAX_QUERY_CHARS = 500

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "that",
        "the",
        "their",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "will",
        "with",
        "you",
    ]
)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x2FFFF  # extensions B and later
    )


def _runs(text: str) -> Iterable[tuple[bool, str]]:
    """(is_cjk, run) for each run of word characters, in order (a linear scan, no regex)."""
    kind: bool | None = None
    start = 0
    for i, ch in enumerate(text):
        if _is_cjk(ch):
            here: bool | None = True
        elif ch.isalnum():
            here = False
        else:
            here = None
        if here != kind:
            if kind is not None:
                yield kind, text[start:i]
            kind, start = here, i
    if kind is not None:
        yield kind, text[start:]


def tokens(text: str | None) -> list[str]:
    """The terms of ``text`` in order, repeats included (see the module docstring)."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for cjk, run in _runs(folded):
        if cjk:
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif len(run) >= 2 and run not in STOPWORDS and len(run) <= 40:
            out.append(run)
    return out


def article_terms(*texts: str | None) -> list[str]:
    """The distinct terms of the texts (titles first), at most :data:`MAX_TERMS`."""
    seen: dict[str, None] = {}
    for text in texts:
        for term in tokens((text or "")[:MAX_TEXT_CHARS]):
            seen.setdefault(term, None)
            if len(seen) >= MAX_TERMS:
                return list(seen)
    return list(seen)


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query's first :data:`MAX_QUERY_CHARS` characters. Every one
    must match: one is looked up in the index, the others are checked on its candidates
    (a set inclusion each), so there is no reason to drop any (terms past the eighth were
    dropped, so a query with a word no article has still found articles: outside review)."""
    return list(dict.fromkeys(tokens(query[:MAX_QUERY_CHARS])))


def most_selective(terms: list[str]) -> str:
    """The term to look up in the index: the one likely to match the fewest articles.

    Without per-term counts (keeping them would cost a write per term per article), length
    stands in for rarity: a long word is rarer than a short one, and a Chinese bigram (two
    characters, each a word-like unit) counts as a word of six letters.
    """

    def weight(term: str) -> int:
        return 6 if any(_is_cjk(c) for c in term) else len(term)

    return max(terms, key=weight)


__all__ = ["article_terms", "most_selective", "query_terms", "tokens"]
