"""Salient terms of an article, deterministic and without a model.

English and other space-separated text: words are lower-cased, possessives and stop words
dropped, plurals folded into a singular seen in the same article ("stocks" -> "stock"), and
runs of capitalised words that recur (``Federal Reserve``, ``Securities and Exchange
Commission``) kept as one phrase. Chinese: words from rjieba (the Rust port of jieba and its
dictionary, with the asset names of :mod:`newsflow.stages.analysis.assets` added), nouns and
names only. Japanese: runs of kanji and katakana between kana and punctuation. Every term
scores its mentions in the body plus :data:`TITLE_WEIGHT` if it is in the title; terms
below :data:`MIN_SCORE` are dropped, ties go to the term mentioned first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from newsflow.stages.analysis._stopwords import ENGLISH, ZH_NUMERALS, ZH_STOP
from newsflow.stages.analysis._text import CJK_RE, cjk_share, normalize
from newsflow.stages.analysis.assets import chinese_names

MAX_KEYWORDS = 10
#: A term in the title is worth this many mentions in the body.
TITLE_WEIGHT = 2.0
#: A recurring multi-word name is worth more than its mentions: it is rarely incidental.
PHRASE_WEIGHT = 1.5
#: A term must be in the title or mentioned twice in the body.
MIN_SCORE = 2.0
#: Longest text examined (characters): the lead of a long article carries its terms.
MAX_CHARS = 50_000
#: Share of CJK characters from which a text is treated as Chinese or Japanese.
CJK_THRESHOLD = 0.2

_LATIN_TOKEN = re.compile(r"[^\W\d_][^\W_]*(?:['’\-&][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
_KANA = re.compile(r"[\u3040-\u309f\u30a1-\u30fa]")
_JA_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u30a1-\u30fa\u30fc\u30ff]{2,}")
#: Lower-case words allowed inside a capitalised name ("Bank of England").
_CONNECTORS = frozenset({"of", "and", "for", "de", "&"})
_MAX_PHRASE_WORDS = 4
#: Stop words that still belong to a capitalised name ("New York", "New Delhi").
_NAME_STOP_WORDS = frozenset({"new"})
#: rjieba part-of-speech tags kept: nouns, names, places, organisations, abbreviations,
#: verbal nouns ("投资"), other proper nouns.
_ZH_TAGS = ("n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "vn", "j", "l")


@dataclass
class _Scores:
    score: dict[str, float] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)

    def add(self, term: str, amount: float, position: int) -> None:
        self.score[term] = self.score.get(term, 0.0) + amount
        if position < self.first.get(term, 1 << 62):
            self.first[term] = position


def extract_keywords(title: str | None, text: str, *, limit: int = MAX_KEYWORDS) -> list[str]:
    """Up to ``limit`` keywords of an article, most salient first."""
    title = normalize(title or "")[:2_000]
    text = normalize(text or "")[:MAX_CHARS]
    scores = _Scores()
    _latin_terms(CJK_RE.sub(" ", title), CJK_RE.sub(" ", text), scores)
    if cjk_share(title + text) >= CJK_THRESHOLD:
        if len(_KANA.findall(text)) > 0.05 * len(CJK_RE.findall(text)):
            _japanese_terms(title, text, scores)
        else:
            _chinese_terms(title, text, scores)
    ranked = sorted(
        (t for t, s in scores.score.items() if s >= MIN_SCORE),
        key=lambda t: (-scores.score[t], scores.first[t], t),
    )
    return ranked[:limit]


# --- space-separated text -------------------------------------------------------------------


class _Token(NamedTuple):
    word: str  # as written, possessive removed
    key: str  # lower case
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for m in _LATIN_TOKEN.finditer(text):
        word = _POSSESSIVE.sub("", m.group())
        tokens.append(_Token(word, word.lower(), m.start(), m.end()))
    return tokens


def _is_term(token: _Token) -> bool:
    if token.key in ENGLISH or "'" in token.key or "’" in token.key:
        return False
    # Two-letter words count only as acronyms: "AI", "EU" yes, "go", "Mr" no.
    return len(token.key) >= 3 or (len(token.key) == 2 and token.word.isupper())


def _latin_terms(title: str, text: str, scores: _Scores) -> None:
    body = _tokens(text)
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for token in body:
        if _is_term(token):
            counts[token.key] += 1
            first.setdefault(token.key, len(title) + token.start)
    phrases = _phrases(text, body)
    title_tokens = _tokens(title)
    title_keys = {t.key for t in title_tokens if _is_term(t)}
    title_lower = " ".join(t.key for t in title_tokens)
    for phrase, (count, position) in phrases.items():
        # Words inside a recurring name count for the name, not again on their own.
        for key in phrase.split():
            if key in counts:
                counts[key] = max(0, counts[key] - count)
        in_title = f" {phrase} " in f" {title_lower} "
        if in_title:
            title_keys.difference_update(phrase.split())
        scores.add(
            phrase,
            PHRASE_WEIGHT * count + (TITLE_WEIGHT if in_title else 0.0),
            len(title) + position,
        )
    for token in title_tokens:
        if token.key in title_keys:
            first[token.key] = min(first.get(token.key, 1 << 62), token.start)
    merged = _fold_plurals(counts, title_keys)
    for key, (count, in_title) in merged.items():
        amount = count + (TITLE_WEIGHT if in_title else 0.0)
        if amount > 0:
            scores.add(key, amount, first.get(key, 1 << 62))


def _phrases(text: str, tokens: list[_Token]) -> dict[str, tuple[int, int]]:
    """Names of 2 to 4 capitalised words seen at least twice: phrase -> (count, first pos).

    Every stretch of a run of capitalised words is a candidate, so "Jerome Powell" is
    found inside "Fed Chair Jerome Powell"; a candidate that only ever occurs inside a
    longer recurring one is left out for that one.
    """
    found: dict[str, tuple[int, int]] = {}
    run: list[_Token] = []

    def close() -> None:
        for i in range(len(run)):
            if run[i].key in _CONNECTORS:
                continue
            words = 0
            for j in range(i, len(run)):
                if run[j].key in _CONNECTORS:
                    continue
                words += 1
                if words > _MAX_PHRASE_WORDS:
                    break
                if words >= 2:
                    phrase = " ".join(t.key for t in run[i : j + 1])
                    count, position = found.get(phrase, (0, run[i].start))
                    found[phrase] = (count + 1, position)
        run.clear()

    previous_end = -1
    for token in tokens:
        joined = previous_end >= 0 and text[previous_end : token.start] in (" ", "\u00a0")
        capital = token.word[:1].isupper() and (
            token.key not in ENGLISH or token.key in _NAME_STOP_WORDS
        )
        if run and not joined:
            close()
        if capital or (run and token.key in _CONNECTORS):
            run.append(token)
        else:
            close()
        previous_end = token.end
    close()
    recurring = {p: v for p, v in found.items() if v[0] >= 2}
    # Drop a phrase seen only inside a longer recurring one ("reserve chair" inside
    # "federal reserve chair"): look at the few sub-phrases of each phrase, not all pairs.
    covered: dict[str, int] = {}
    for phrase, (count, _) in recurring.items():
        words = phrase.split()
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if j - i < len(words):
                    sub = " ".join(words[i:j])
                    covered[sub] = max(covered.get(sub, 0), count)
    return {p: v for p, v in recurring.items() if covered.get(p, 0) < v[0]}


def _fold_plurals(counts: Counter[str], title_keys: set[str]) -> dict[str, tuple[int, bool]]:
    """Merge "stocks" into "stock" (and "companies" into "company") when both occur."""
    keys = set(counts) | title_keys
    merged: dict[str, tuple[int, bool]] = {}
    for key in sorted(keys):
        target = key
        if key.endswith("ies") and key[:-3] + "y" in keys:
            target = key[:-3] + "y"
        elif key.endswith("s") and not key.endswith("ss") and key[:-1] in keys:
            target = key[:-1]
        count, in_title = merged.get(target, (0, False))
        merged[target] = (count + counts.get(key, 0), in_title or key in title_keys)
    return merged


# --- Chinese and Japanese -------------------------------------------------------------------


def load_segmenter() -> None:
    """Load the Chinese segmenter now rather than on the first Chinese article."""
    _segmenter()


@cache
def _segmenter() -> Callable[[str], list[tuple[str, str]]]:
    """rjieba's tagger with the asset names added (imported on first use: loading its
    dictionary takes a few tenths of a second and ~40 MB, which English-only work skips)."""
    import rjieba

    # The process-wide default instance: a second Jieba() would load the dictionary again.
    # The stock dictionary splits 比特币 into 比特/币 and knows few traditional forms.
    for name in chinese_names():
        if CJK_RE.search(name):
            rjieba.add_word(name, None, "nz")
    return rjieba.tag


def cut_words(text: str) -> list[str]:
    """The words of a Chinese text as the segmenter (asset names included) cuts them."""
    _segmenter()
    import rjieba

    return rjieba.cut(text)


def _is_cjk_term(word: str) -> bool:
    return (
        len(word) >= 2
        and CJK_RE.search(word) is not None
        and word not in ZH_STOP
        and not all(ch in ZH_NUMERALS for ch in word)
    )


def _chinese_terms(title: str, text: str, scores: _Scores) -> None:
    tag_words = _segmenter()
    in_title = {w for w, tag in tag_words(title) if tag in _ZH_TAGS and _is_cjk_term(w)}
    position = len(title)
    for word, tag in tag_words(text):
        if tag in _ZH_TAGS and _is_cjk_term(word):
            scores.add(word, 1.0, position)
        position += len(word)
    _title_bonus(title, in_title, scores)


def _japanese_terms(title: str, text: str, scores: _Scores) -> None:
    for m in _JA_RUN.finditer(text):
        if _is_cjk_term(m.group()):
            scores.add(m.group(), 1.0, len(title) + m.start())
    _title_bonus(title, {m.group() for m in _JA_RUN.finditer(title)}, scores)


def _title_bonus(title: str, words: set[str], scores: _Scores) -> None:
    for word in words:
        if _is_cjk_term(word):
            scores.add(word, TITLE_WEIGHT, title.find(word))
