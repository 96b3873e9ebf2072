"""Earlier articles that share asset symbols or keywords with this one.

One indexed query (``analysis.symbols`` / ``analysis.keywords`` with ``$in``, both indexed by
:meth:`newsflow.adapters.store.ArticleStore.ensure_indexes`) fetches a bounded set of the most recent
earlier candidates; they are scored in Python. SecantusDB has no ``$text``: this needs only
``$in``, ``$or``, ``$and``, ``$ne``, ``$lt``, equality with null, sort and limit.

Score: a weighted Jaccard similarity of the two articles' term sets, a shared symbol
weighing :data:`SYMBOL_WEIGHT` and a shared keyword 1::

    score = (2·|shared symbols| + |shared keywords|) / (2·|all symbols| + |all keywords|)

so 1.0 means the same symbols and keywords and the score does not grow with the length of
the other article's lists. Ties go to the more recent article.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorCollection

from newsflow.domain.contracts import SimilarArticle

SYMBOL_WEIGHT = 2.0
#: Most candidates read per query: the most recent earlier articles sharing a term.
CANDIDATES = 300

_PROJECTION = {
    "extraction.title": 1,
    "extraction.published": 1,
    "translation.title": 1,
    "created_at": 1,
    "analysis.symbols": 1,
    "analysis.keywords": 1,
}


def _event_time(doc: dict[str, Any]) -> datetime | None:
    published = (doc.get("extraction") or {}).get("published")
    return published if isinstance(published, datetime) else doc.get("created_at")


def _title(doc: dict[str, Any]) -> str | None:
    translated = (doc.get("translation") or {}).get("title")
    return translated or (doc.get("extraction") or {}).get("title")


def _terms(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


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


async def find_similar(
    collection: AsyncIOMotorCollection[Any],
    *,
    article_id: str,
    symbols: list[str],
    keywords: list[str],
    before: datetime | None,
    limit: int = 6,
    candidates: int = CANDIDATES,
) -> list[SimilarArticle]:
    """Up to ``limit`` earlier articles sharing symbols or keywords with this one, best first.

    Args:
        collection: the articles collection.
        article_id: this article, never returned.
        symbols, keywords: this article's terms.
        before: only articles whose event time (``extraction.published``, or ``created_at``
            when the article has no publication date) is earlier; None: no time bound.
        limit: most articles returned.
        candidates: most articles read and scored.

    ``published`` in each result is that event time.
    """
    symbols = list(dict.fromkeys(s for s in symbols if s))
    keywords = list(dict.fromkeys(k for k in keywords if k))
    if limit <= 0 or not (symbols or keywords):
        return []
    shares: list[dict[str, Any]] = []
    if symbols:
        shares.append({"analysis.symbols": {"$in": symbols}})
    if keywords:
        shares.append({"analysis.keywords": {"$in": keywords}})
    conditions: list[dict[str, Any]] = [{"$or": shares}]
    if before is not None:
        conditions.append(
            {
                "$or": [
                    {"extraction.published": {"$lt": before}},
                    {"extraction.published": None, "created_at": {"$lt": before}},
                ]
            }
        )
    query = {"_id": {"$ne": article_id}, "$and": conditions}
    cursor = collection.find(query, _PROJECTION).sort("created_at", -1).limit(candidates)
    scored: list[SimilarArticle] = []
    async for doc in cursor:
        analysis = doc.get("analysis") or {}
        score, shared = score_terms(
            symbols, keywords, _terms(analysis.get("symbols")), _terms(analysis.get("keywords"))
        )
        if not shared:
            continue
        scored.append(
            SimilarArticle(
                id=str(doc["_id"]),
                title=_title(doc),
                published=_event_time(doc),
                score=score,
                shared=shared,
            )
        )
    scored.sort(key=lambda a: (-a.score, -_timestamp(a.published), a.id))
    return scored[:limit]


def _timestamp(moment: datetime | None) -> float:
    if moment is None:
        return float("-inf")
    if moment.tzinfo is None:  # pymongo without tz_aware returns naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
