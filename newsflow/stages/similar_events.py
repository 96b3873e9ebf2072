"""Historical similar events: the terms of an article, their weights and the ranking (no I/O).

Lexical (the default, no provider): an article is described by its *terms*, computed once by
:func:`event_terms` from its English text (the translation when there is one, so a Chinese
and an English article about the same event share English words): its asset symbols
(``$BTC``, weighted :data:`SYMBOL_WEIGHT`), its analysis keywords, the words of its title and
the most frequent content words of its text (at most :data:`MAX_TERMS` in all). Untranslated
CJK text adds character bigrams.

Weights are BM25's with binary term frequency (Robertson and Zaragoza, 2009)::

    idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))          N, df: kept in MongoDB
    score    = Σ_{t shared} w(t)·idf(t) · (k1 + 1) / (1 + k1·(1 - b + b·|d| / avgdl))
    shown    = score / Σ_{t of this article} w(t)·idf(t)            (1.0: every term shared)

with ``w = SYMBOL_WEIGHT`` for a symbol and 1 for a word, the textbook ``k1 = 1.2``, ``b =
0.75``, and a time decay ``0.5 ** (days apart / half-life)`` when a half-life is set. The
constants were fixed before anything was evaluated, except :data:`MIN_SCORE`, chosen on the
development half of the labeled queries (the README reports the other half apart).

Candidates are found through the rarest terms first (:func:`retrieval_terms`): the store
keeps, per term, its newest :data:`POSTINGS` postings and reads those of
:data:`RETRIEVE_TERMS` terms at a time (at most three times), so a lookup reads a bounded
amount whatever the size of the collection.

Semantic (when an embeddings provider is configured): the cosine of the two articles'
vectors; the lexical and semantic lists are merged by reciprocal rank fusion
(:func:`fuse`, Cormack et al. 2009, with its usual ``k = 60``).

Results are earlier *stories*: a candidate in this article's own story (a copy of the same
text) is never listed, and each other story appears once, by its best article.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsflow.stages.analysis._stopwords import ENGLISH, ZH_STOP

#: Weight of a shared asset symbol against a shared word.
SYMBOL_WEIGHT = 2.0
#: BM25's usual constants (not tuned here).
K1 = 1.2
B = 0.75
#: Most terms kept per article (symbols and title words first).
MAX_TERMS = 48
#: Terms whose postings are read per query of a lookup (the rarest, most informative first;
#: a lookup reads up to MAX_TERMS / RETRIEVE_TERMS = 3 such batches until it has
#: SCORE_CANDIDATES candidates).
RETRIEVE_TERMS = 16
#: Postings kept per term, the newest (what a lookup reads of a term; older ones are dropped).
#: Small on purpose: every indexing rewrites the term's document, and on SecantusDB that
#: costs in proportion to its size (49 upserts: 17 ms of server CPU at 0 postings, 81 ms at
#: 200); an article's rarest terms, read first, have fewer postings than this anyway.
POSTINGS = 50
#: Candidates whose stored terms are read and scored exactly (best pre-scores first).
SCORE_CANDIDATES = 60
#: A result below this share of the article's term weight is not shown: a few generic words
#: never make an event similar. The a-priori value, checked on the development half of the
#: labeled set (README, "Similar events"): 0.05 listed 4 unrelated articles per article for
#: a precision at 6 of 0.90, 0.1 listed 1 for 0.83 (the old scorer: 4 or more, 0.79).
MIN_SCORE = 0.1
#: The list the reader shows.
SHOWN = 6
#: Reciprocal rank fusion constant.
RRF_K = 60

_WORD = re.compile(r"[a-z][a-z0-9]+(?:['’-][a-z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_DIGITS = re.compile(r"^[0-9]+$")


def symbol_term(symbol: str) -> str:
    return f"${symbol.upper()}"


def is_symbol(term: str) -> bool:
    return term.startswith("$")


def _words(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.lower()):
        word = word.replace("’", "'")
        word = word.removesuffix("'s")
        if len(word) < 3 or word in ENGLISH or _DIGITS.match(word):
            continue
        out.append(word)
    return out


def _bigrams(text: str) -> list[str]:
    out = []
    for run in _CJK_RUN.findall(text):
        out += [run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in ZH_STOP]
    return out


def event_terms(
    *, title: str | None, text: str | None, symbols: Sequence[str], keywords: Sequence[str]
) -> list[str]:
    """The terms that describe an article for similar events, most informative kinds first:
    symbols, keywords, title words, then the text's most frequent content words (and CJK
    bigrams of untranslated text), at most :data:`MAX_TERMS`, distinct."""
    terms: dict[str, None] = {}

    def add(values: Iterable[str]) -> None:
        for v in values:
            if v and len(terms) < MAX_TERMS:
                terms.setdefault(v, None)

    add(symbol_term(s) for s in symbols)
    add(k.strip().lower() for k in keywords if k.strip())
    title = title or ""
    add(_words(title))
    add(_bigrams(title))
    body = text or ""
    counts = Counter(_words(body)) + Counter(_bigrams(body))
    add(t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return list(terms)


def weight(term: str) -> float:
    return SYMBOL_WEIGHT if is_symbol(term) else 1.0


def idf(df: int, total: int) -> float:
    """BM25's idf (never negative), ``df`` clipped to ``total``."""
    total = max(total, 1)
    df = min(max(df, 0), total)
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Stats:
    """Collection statistics: articles indexed and their mean number of terms."""

    total: int
    avg_terms: float

    def idf(self, df: int) -> float:
        return idf(df, self.total)


def term_weights(terms: Iterable[str], dfs: Mapping[str, int], stats: Stats) -> dict[str, float]:
    """``w(t)·idf(t)`` of each term (a term never seen has df 0)."""
    return {t: weight(t) * stats.idf(dfs.get(t, 0)) for t in terms}


def retrieval_terms(weights: Mapping[str, float], dfs: Mapping[str, int]) -> list[str]:
    """The terms whose postings may be read: those some article already has, heaviest
    (rarest, symbols first at equal rarity) first."""
    seen = [t for t in weights if dfs.get(t, 0) > 0]
    seen.sort(key=lambda t: (-weights[t], t))
    return seen


def length_factor(n_terms: int, stats: Stats) -> float:
    avg = stats.avg_terms if stats.avg_terms > 0 else max(n_terms, 1)
    return (K1 + 1) / (1 + K1 * (1 - B + B * n_terms / avg))


def decay(a: datetime | None, b: datetime | None, half_life_days: float) -> float:
    """``0.5 ** (days apart / half_life_days)``; 1.0 when off (0) or a time is unknown."""
    if half_life_days <= 0 or a is None or b is None:
        return 1.0
    days = abs((_utc(a) - _utc(b)).total_seconds()) / 86_400
    return 0.5 ** (days / half_life_days)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class Candidate:
    """An earlier (or later) article as scoring reads it."""

    id: str
    terms: list[str]
    title: str | None = None
    published: datetime | None = None
    #: Its story (None: not placed); a candidate in the article's own story is skipped.
    story: str | None = None
    #: Cosine similarity of the vectors, when found by the semantic search.
    semantic: float | None = None


@dataclass
class Scored:
    candidate: Candidate
    score: float
    shared: list[str] = field(default_factory=list)
    method: str = "lexical"


def lexical_score(
    weights: Mapping[str, float], candidate: Candidate, stats: Stats, *,
    when: datetime | None, half_life_days: float,
) -> tuple[float, list[str]]:  # fmt: skip
    """The shown score (0..1) of ``candidate`` for an article of term ``weights``, and the
    shared terms, heaviest first."""
    norm = sum(weights.values())
    theirs = set(candidate.terms)
    shared = sorted((t for t in weights if t in theirs), key=lambda t: (-weights[t], t))
    if not shared or norm <= 0:
        return 0.0, []
    raw = sum(weights[t] for t in shared) * length_factor(len(candidate.terms), stats)
    score = min(raw / norm, 1.0) * decay(when, candidate.published, half_life_days)
    return round(score, 4), shared


def rank_lexical(
    weights: Mapping[str, float], candidates: Iterable[Candidate], stats: Stats, *,
    when: datetime | None, half_life_days: float, story: str | None = None,
    min_score: float = MIN_SCORE, limit: int = SHOWN,
) -> list[Scored]:  # fmt: skip
    """The best ``limit`` candidates by lexical score, one per story, not this ``story``."""
    scored = []
    for c in candidates:
        score, shared = lexical_score(weights, c, stats, when=when, half_life_days=half_life_days)
        if shared and score >= min_score:
            scored.append(Scored(c, score, shared[:8], "lexical"))
    return one_per_story(scored, story, limit)


def rank_semantic(
    candidates: Iterable[Candidate], *, story: str | None = None, when: datetime | None = None,
    half_life_days: float = 0.0, min_similarity: float = 0.0, limit: int = SHOWN,
) -> list[Scored]:  # fmt: skip
    """The candidates at or above ``min_similarity`` by cosine similarity (times the time
    decay), one per story."""
    scored = [
        Scored(c, round((c.semantic or 0.0) * decay(when, c.published, half_life_days), 4),
               [], "semantic")
        for c in candidates
        if c.semantic is not None and c.semantic > 0 and c.semantic >= min_similarity
    ]  # fmt: skip
    return one_per_story(scored, story, limit)


def one_per_story(scored: list[Scored], story: str | None, limit: int) -> list[Scored]:
    """Best first (ties: the more recent, then by id), the article's own story dropped, the
    best article of each other story kept."""
    scored.sort(key=lambda s: (-s.score, -_ts(s.candidate.published), s.candidate.id))
    out: list[Scored] = []
    stories: set[str] = set()
    for s in scored:
        key = s.candidate.story or s.candidate.id
        if (story is not None and key == story) or key in stories:
            continue
        stories.add(key)
        out.append(s)
        if len(out) >= limit:
            break
    return out


def fuse(lexical: list[Scored], semantic: list[Scored], limit: int = SHOWN) -> list[Scored]:
    """Reciprocal rank fusion of two ranked lists (each already one per story); an item in
    both keeps its shared terms and its cosine, and says ``both``."""
    by_id: dict[str, tuple[float, Scored]] = {}
    for ranked in (lexical, semantic):
        for rank, s in enumerate(ranked):
            fused, kept = by_id.get(s.candidate.id, (0.0, s))
            if kept is not s:
                kept = Scored(kept.candidate, kept.score, kept.shared or s.shared, "both")
                if s.method == "semantic":
                    kept.candidate.semantic = s.candidate.semantic
            by_id[s.candidate.id] = (fused + 1.0 / (RRF_K + rank + 1), kept)
    order = sorted(by_id.values(), key=lambda x: (-x[0], x[1].candidate.id))
    stories: set[str] = set()
    out = []
    for _, s in order:
        key = s.candidate.story or s.candidate.id
        if key in stories:
            continue
        stories.add(key)
        out.append(s)
    return out[:limit]


def evidence(s: Scored) -> str:
    """What a reader is shown as the reason: the shared terms, or the semantic similarity."""
    parts = []
    if s.shared:
        parts.append("shared: " + ", ".join(s.shared[:6]))
    if s.candidate.semantic is not None and s.method in ("semantic", "both"):
        parts.append(f"semantic similarity {s.candidate.semantic:.2f}")
    return "; ".join(parts)


def _ts(moment: datetime | None) -> float:
    return _utc(moment).timestamp() if moment is not None else float("-inf")
