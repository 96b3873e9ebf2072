"""The labeled evaluation set for similar events (issue 12): labels, relatedness, precision.

Every corpus article (250) is labeled in ``tests/data/similar_topics.jsonl`` with event and
topic labels from the vocabulary of ``tests/data/similar_labels.json``; the guideline is in
``tests/data/README.md``. Two articles are related when they share an event label (level
``"event"``) or, at the default level ``"topic"``, an event or a fine topic label.
``tests/data/similar_pairs.jsonl`` lists every related pair with its reason, the borderline
pairs judged not related, and the same-story pairs of the syndicated copies that
:mod:`tests.support.variants` generates; a unit test keeps it equal to what the labels say.

Usage::

    ev = SimilarEval.load()
    ranked = {q: my_scorer.similar(q)[:6] for q in ev.queries()}   # corpus or copy ids
    print(ev.precision_at_k(ranked, k=6))

Module-level shortcuts (:func:`load_labels`, :func:`related`, :func:`queries`,
:func:`precision_at_k`) use the set in ``tests/data``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from tests.support.variants import VARIANT_SEPARATOR, source_of

__all__ = [
    "DATA",
    "Article",
    "Judgement",
    "Level",
    "SimilarEval",
    "load_labels",
    "precision_at_k",
    "queries",
    "related",
]

DATA = Path(__file__).resolve().parents[1] / "data"

Level = Literal["event", "topic"]


@dataclass(frozen=True)
class Article:
    """One corpus article as labeled by reading it."""

    id: str
    set: str
    lang: str
    title: str
    summary: str
    events: frozenset[str]
    topics: frozenset[str]
    area: str
    note: str


@dataclass(frozen=True)
class Judgement:
    """A pair written in ``similar_pairs.jsonl``: related, not related, or the same story."""

    a: str
    b: str
    judgement: Literal["related", "not-related", "same-story"]
    level: Level | None
    reason: str


class SimilarEval:
    """The labels and the judgements derived from them."""

    def __init__(
        self,
        articles: Iterable[Article],
        judgements: Iterable[Judgement] = (),
        vocabulary: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.articles: dict[str, Article] = {}
        for article in articles:
            if article.id in self.articles:
                raise ValueError(f"article {article.id} is labeled twice")
            if VARIANT_SEPARATOR in article.id:
                raise ValueError(f"article id {article.id!r} contains {VARIANT_SEPARATOR!r}")
            self.articles[article.id] = article
        if vocabulary is not None:
            for article in self.articles.values():
                unknown = (article.events - vocabulary["events"].keys()) | (
                    article.topics - vocabulary["topics"].keys()
                )
                if unknown:
                    raise ValueError(f"article {article.id} uses undefined labels {unknown}")
        self.judgements = list(judgements)
        self.copies: dict[str, str] = {}
        for j in self.judgements:
            if j.judgement == "same-story":
                if source_of(j.b) != j.a or j.a not in self.articles:
                    raise ValueError(
                        f"same-story pair {j.a} / {j.b} is not a copy of a labeled page"
                    )
                self.copies[j.b] = j.a
        self._related: dict[Level, dict[str, frozenset[str]]] = {
            "event": self._derive("event"),
            "topic": self._derive("topic"),
        }

    @classmethod
    def load(cls, data_dir: Path = DATA) -> SimilarEval:
        """Read ``similar_topics.jsonl``, ``similar_pairs.jsonl`` and ``similar_labels.json``."""
        articles = [
            Article(
                id=row["id"],
                set=row["set"],
                lang=row["lang"],
                title=row["title"],
                summary=row["summary"],
                events=frozenset(row["events"]),
                topics=frozenset(row["topics"]),
                area=row["area"],
                note=row["note"],
            )
            for row in _jsonl(data_dir / "similar_topics.jsonl")
        ]
        judgements = [
            Judgement(row["a"], row["b"], row["judgement"], row["level"], row["reason"])
            for row in _jsonl(data_dir / "similar_pairs.jsonl")
        ]
        vocabulary = json.loads((data_dir / "similar_labels.json").read_text("utf-8"))
        return cls(articles, judgements, vocabulary)

    def _derive(self, level: Level) -> dict[str, frozenset[str]]:
        related: dict[str, set[str]] = {a: set() for a in self.articles}
        for x, y in itertools.combinations(self.articles.values(), 2):
            if _shares(x, y, level):
                related[x.id].add(y.id)
                related[y.id].add(x.id)
        return {a: frozenset(r) for a, r in related.items()}

    def story_of(self, item_id: str) -> str:
        """The labeled article an id stands for: itself, or the page a copy was made from.

        Raises KeyError for an id that is neither (it cannot be judged).
        """
        if item_id in self.articles:
            return item_id
        source = source_of(item_id)
        if VARIANT_SEPARATOR in item_id and source in self.articles:
            return source
        raise KeyError(f"{item_id!r} is not a labeled corpus article or a copy of one")

    def related(self, a: str, b: str, *, level: Level = "topic") -> bool:
        """Whether two labeled articles are related (never an article with itself)."""
        for item in (a, b):
            if item not in self.articles:
                raise KeyError(f"{item!r} is not a labeled corpus article")
        return b in self._related[level][a]

    def related_to(self, query: str, *, level: Level = "topic") -> frozenset[str]:
        """The labeled articles related to ``query``."""
        return self._related[level][query]

    def queries(self, *, level: Level = "topic") -> list[str]:
        """The articles with at least one related article, in the labels' order."""
        return [a for a in self.articles if self._related[level][a]]

    def related_pairs(self, *, level: Level = "topic") -> set[frozenset[str]]:
        """Every related pair, derived from the labels."""
        return {frozenset((a, b)) for a, others in self._related[level].items() for b in others}

    def precision_per_query(
        self,
        ranked: Mapping[str, Sequence[str]],
        k: int = 6,
        *,
        level: Level = "topic",
        normalize: bool = True,
        only: Iterable[str] | None = None,
    ) -> dict[str, float]:
        """Precision at ``k`` of each query's list.

        Args:
            ranked: query id -> the scorer's list, best first (corpus ids or copy ids). A
                query missing from it has an empty list and scores 0.
            k: how many items of each list are judged (the reader shows 6).
            level: ``"event"`` counts only shared events as related; ``"topic"`` also
                shared fine topics.
            normalize: divide by ``min(k, number of articles related to the query)``, so a
                perfect list scores 1 even for a query with fewer than ``k`` related
                articles; with False, divide by ``k``.
            only: the queries to score (default: :meth:`queries` at ``level``).

        Every item is judged, since every corpus article is labeled: an item is a hit when
        its story (a copy stands for the page it copies) is related to the query, is not the
        query's own story (a copy of the query is the same story, a miss), and was not
        already counted higher in the list (a second copy of one story is a miss). An id
        that is neither a labeled article nor a copy of one raises KeyError, the query itself
        in its own list raises ValueError, and so does an item listed twice.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        selected = list(only) if only is not None else self.queries(level=level)
        scores: dict[str, float] = {}
        for query in selected:
            wanted = self.related_to(query, level=level)
            if not wanted:
                raise ValueError(f"query {query} has no related article at level {level!r}")
            items = list(ranked.get(query, ()))
            if query in items:
                raise ValueError(f"query {query} lists itself")
            if len(set(items)) != len(items):
                raise ValueError(f"query {query} lists an item twice")
            seen: set[str] = set()
            hits = 0
            for item in items[:k]:
                story = self.story_of(item)
                if story != query and story not in seen and story in wanted:
                    hits += 1
                seen.add(story)
            scores[query] = hits / (min(k, len(wanted)) if normalize else k)
        return scores

    def precision_at_k(
        self,
        ranked: Mapping[str, Sequence[str]],
        k: int = 6,
        *,
        level: Level = "topic",
        normalize: bool = True,
        only: Iterable[str] | None = None,
    ) -> float:
        """Mean of :meth:`precision_per_query` over the queries (see there for the rules)."""
        scores = self.precision_per_query(ranked, k, level=level, normalize=normalize, only=only)
        if not scores:
            raise ValueError("no query to score")
        return sum(scores.values()) / len(scores)


def _shares(x: Article, y: Article, level: Level) -> bool:
    if x.events & y.events:
        return True
    return level == "topic" and bool(x.topics & y.topics)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@cache
def load_labels() -> SimilarEval:
    """The evaluation set in ``tests/data`` (read once)."""
    return SimilarEval.load()


def related(a: str, b: str, *, level: Level = "topic") -> bool:
    """Whether two corpus articles are related (see :meth:`SimilarEval.related`)."""
    return load_labels().related(a, b, level=level)


def queries(*, level: Level = "topic") -> list[str]:
    """The corpus articles with at least one related article."""
    return load_labels().queries(level=level)


def precision_at_k(
    ranked: Mapping[str, Sequence[str]], k: int = 6, *, level: Level = "topic"
) -> float:
    """Mean precision at ``k`` over the queries (see :meth:`SimilarEval.precision_per_query`)."""
    return load_labels().precision_at_k(ranked, k, level=level)
