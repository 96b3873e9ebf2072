"""Earlier articles that share asset symbols or keywords with this one: the MVP scorer.

The analyzer no longer uses it (see :mod:`newsflow.stages.similar_events`); it is kept as the
baseline that ``bench/similar.py`` measures the new scorer against.

The store reads a bounded set of candidates, the most recent earlier articles sharing a term
(:meth:`newsflow.adapters.store.ArticleStore.similar_candidates`, one indexed query); they
are scored here, with no database::

    candidates = await store.similar_candidates(article_id=..., symbols=..., keywords=...,
                                                before=..., limit=CANDIDATES)
    similar = rank_similar(candidates, symbols=..., keywords=...)

Score: a weighted Jaccard similarity of the two articles' term sets, a shared symbol
weighing :data:`SYMBOL_WEIGHT` and a shared keyword 1::

    score = (2·|shared symbols| + |shared keywords|) / (2·|all symbols| + |all keywords|)

so 1.0 means the same symbols and keywords and the score does not grow with the length of
the other article's lists. Ties go to the more recent article.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from newsflow.domain.article import Article
from newsflow.domain.contracts import SimilarArticle

SYMBOL_WEIGHT = 2.0
#: Most candidates read per article: the most recent earlier articles sharing a term.
CANDIDATES = 300


def terms(values: Iterable[str]) -> list[str]:
    """The distinct non-empty terms, in their first order (what is looked up and scored)."""
    return list(dict.fromkeys(v for v in values if v))


def score_terms(
    symbols: list[str], keywords: list[str], other_symbols: list[str], other_keywords: list[str]
) -> tuple[float, list[str]]:
    """The similarity score of two articles' terms and the terms they share (this
    article's order, symbols first)."""
    mine_s, mine_k = set(symbols), set(keywords)
    theirs_s, theirs_k = set(other_symbols), set(other_keywords)
    shared = [s for s in dict.fromkeys(symbols) if s in theirs_s]
    shared_k = [k for k in dict.fromkeys(keywords) if k in theirs_k]
    union = SYMBOL_WEIGHT * len(mine_s | theirs_s) + len(mine_k | theirs_k)
    if union == 0:
        return 0.0, []
    score = (SYMBOL_WEIGHT * len(shared) + len(shared_k)) / union
    return round(score, 4), shared + shared_k


def rank_similar(
    candidates: Iterable[Article], *, symbols: list[str], keywords: list[str], limit: int = 6
) -> list[SimilarArticle]:
    """Up to ``limit`` of ``candidates`` sharing symbols or keywords with this article's
    ``symbols`` and ``keywords``, best first.

    ``title`` in each result is the candidate's title to show, ``published`` its event time
    (its publication time, else when it was submitted).
    """
    symbols, keywords = terms(symbols), terms(keywords)
    scored: list[SimilarArticle] = []
    for other in candidates:
        score, shared = score_terms(symbols, keywords, other.symbols, other.keywords)
        if not shared:
            continue
        scored.append(
            SimilarArticle(
                id=other.id,
                title=other.title or None,
                published=other.event_time,
                score=score,
                shared=shared,
            )
        )
    scored.sort(key=lambda a: (-a.score, -_timestamp(a.published), a.id))
    return scored[: max(limit, 0)]


def _timestamp(moment: datetime | None) -> float:
    if moment is None:
        return float("-inf")
    if moment.tzinfo is None:  # pymongo without tz_aware returns naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
