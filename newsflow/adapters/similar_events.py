"""Finding an article's similar earlier events: lexical always, semantic when configured.

    finder = SimilarEvents(store.similar, settings, embedder=embeddings_client(settings))
    found = await finder.search(article, symbols=found.symbols, keywords=found.keywords)
    # found.similar: the list; found.index_entry: what to store on the article as
    # ``similar_index`` (the analyzer stores it with the analysis, in the same write)

Per article: three bounded reads for the lexical lookup (:meth:`SimilarIndex.lookup`), one
write to index its terms (an upsert per term); with embeddings, one call to the provider, one write of the
vector, one read of the vectors stored since the last search and one read of the semantic
candidates.

Refresh: an article analyzed before an earlier event's article arrived (a feed backfill, a
late submission) would never list it, since lists look back in time. When an article is
indexed, the candidates the lookup found with a *later* event time are offered it: each
whose list has room, or a worse sixth entry, gets it inserted (one read of their lists, a
write per changed list, at most :data:`~newsflow.stages.similar_events.SCORE_CANDIDATES`).
The score used is this article's view of the pair (BM25 is not symmetric; close enough to
rank). Semantic-only neighbours are not pushed this way.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsflow.adapters.embeddings import EmbeddingsClient, VectorSearch
from newsflow.adapters.providers import ProviderError
from newsflow.adapters.similar import Lookup, SimilarIndex, index_entry
from newsflow.domain.article import Article
from newsflow.domain.contracts import SimilarArticle
from newsflow.settings import Settings
from newsflow.stages.similar_events import (
    MIN_SCORE,
    SHOWN,
    Candidate,
    Scored,
    Stats,
    event_terms,
    evidence,
    fuse,
    lexical_score,
    rank_lexical,
    rank_semantic,
)

log = logging.getLogger(__name__)

#: Nearest neighbours asked of the vector search (more than shown: some are later, or
#: copies in this article's story).
NEIGHBOURS = 30


@dataclass(frozen=True)
class Found:
    """An article's similar events, and its index entry when this search indexed it."""

    similar: list[SimilarArticle]
    #: What to store on the article as ``similar_index`` (None: it was indexed before).
    index_entry: dict[str, Any] | None


def to_result(s: Scored) -> SimilarArticle:
    c = s.candidate
    return SimilarArticle(
        id=c.id, title=c.title, published=c.published, score=s.score, shared=s.shared,
        method=s.method, semantic=round(c.semantic, 4) if c.semantic is not None else None,
        evidence=evidence(s), story=c.story,
    )  # fmt: skip


def embedding_text(article: Article) -> str:
    """What is embedded: the English title and text when translated (so neighbours are found
    across languages), else the original."""
    return f"{article.headline or ''}\n\n{article.text or ''}".strip()


@dataclass
class _InFlight:
    """A worker's (an event loop's) lock, and the terms of the articles it indexed whose
    index entry is not stored yet (the analyzer stores it with the analysis, after)."""

    lock: asyncio.Lock
    terms: OrderedDict[str, list[str]]


#: At most this many articles' terms are kept in flight (far more than one worker handles
#: at once): the oldest go first.
IN_FLIGHT_TERMS = 2_000
_IN_FLIGHT: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _InFlight] = (
    weakref.WeakKeyDictionary()
)


def _in_flight() -> _InFlight:
    """The lookup and the indexing of one article at a time in a worker, and what it
    indexed lately. A worker handles several messages at once (``NEWSFLOW_CONCURRENCY``): two
    related articles looked up together, each before the other was indexed (or before its
    index entry was stored with its analysis), never listed each other (outside review). Now
    the second one's lookup finds the first, with its terms from here until its analysis is
    stored. The lock is held for the database work only (the embedding call comes before it).
    Left: an earlier event's article analyzed right *after* a later one is offered to the
    later one's list only once that list is stored, and analyzer replicas can still meet
    this way; ``newsflow similar refresh`` brings such lists up to date."""
    loop = asyncio.get_running_loop()
    state = _IN_FLIGHT.get(loop)
    if state is None:
        state = _IN_FLIGHT[loop] = _InFlight(asyncio.Lock(), OrderedDict())
    return state


class SimilarEvents:
    def __init__(
        self, index: SimilarIndex, settings: Settings, *, embedder: EmbeddingsClient | None = None,
        vectors: VectorSearch | None = None,
    ) -> None:  # fmt: skip
        self.index = index
        self.half_life = settings.similar_half_life_days
        self.min_similarity = settings.embed_min_similarity
        self.embedder = embedder
        self.vectors = vectors if vectors is not None or embedder is None else VectorSearch(index)
        #: Why the last semantic search did not happen (provider failure), for the logs.
        self.last_error: str | None = None
        #: The last article's lexical and semantic lists before fusion (for the benchmark).
        self.last_lexical: list[Scored] = []
        self.last_semantic: list[Scored] | None = None

    async def search(self, article: Article, *, symbols: list[str], keywords: list[str]) -> Found:
        """The article's similar earlier events, best first, and it indexed for later ones
        unless it was before (``article.similar_index``): the caller then stores
        ``index_entry`` on the article (the analyzer, with the analysis)."""
        terms, vector = self._terms(article, symbols, keywords), await self._embed(article)
        flight = _in_flight()
        async with flight.lock:
            ranked, lookup = await self._rank(article, terms, vector)
            entry = None
            if article.similar_index is None:
                entry = index_entry(terms)
                # the analysis and this entry are the caller's next write (SimilarIndex.index)
                await self._index(article, terms, lookup, durable_by_next_write=True)
                flight.terms[article.id] = terms
                while len(flight.terms) > IN_FLIGHT_TERMS:
                    flight.terms.popitem(last=False)
        return Found([to_result(s) for s in ranked], entry)

    async def find(
        self, article: Article, *, symbols: list[str], keywords: list[str]
    ) -> list[SimilarArticle]:
        """:meth:`search` storing the index entry by itself first, once per article (a
        second call ranks again and changes nothing): ``newsflow similar refresh``."""
        terms, vector = self._terms(article, symbols, keywords), await self._embed(article)
        async with _in_flight().lock:
            ranked, lookup = await self._rank(article, terms, vector)
            if await self.index.claim_indexing(article.id, terms):
                await self._index(article, terms, lookup, durable_by_next_write=False)
        return [to_result(s) for s in ranked]

    @staticmethod
    def _terms(article: Article, symbols: list[str], keywords: list[str]) -> list[str]:
        return event_terms(
            title=article.headline, text=article.text, symbols=symbols, keywords=keywords
        )

    async def _index(
        self, article: Article, terms: list[str], lookup: Lookup, *, durable_by_next_write: bool
    ) -> None:
        await self.index.index(article.id, terms, durable_by_next_write=durable_by_next_write)
        if terms and lookup.later:
            await self._offer(article, lookup, article.story.id if article.story else None)

    async def rank(self, article: Article, terms: list[str]) -> tuple[list[Scored], Lookup]:
        """The ranked list of an article of these ``terms`` (nothing written but its vector)."""
        return await self._rank(article, terms, await self._embed(article))

    async def _embed(self, article: Article) -> list[float] | None:
        """The article's vector, stored for the vector search (None without a provider, or
        when it fails: the list is then lexical only)."""
        if self.embedder is None or self.vectors is None:
            return None
        try:
            vector = await self.embedder.embed(embedding_text(article))
        except ProviderError as exc:
            self.last_error = exc.reason
            log.warning("similar events of %s: no embedding (%s)", article.id, exc.reason)
            return None
        await self.index.store_vector(article.id, vector, self.embedder.model)
        return vector

    async def _rank(
        self, article: Article, terms: list[str], vector: list[float] | None
    ) -> tuple[list[Scored], Lookup]:
        when = article.event_time
        story = article.story.id if article.story else None
        lookup = await self.index.lookup(article.id, terms, when)
        # a candidate indexed by this worker whose entry is not stored yet: its terms
        pending = _in_flight().terms
        for c in (*lookup.earlier, *lookup.later):
            if not c.terms and c.id in pending:
                c.terms = pending[c.id]
        lexical = rank_lexical(
            lookup.weights, lookup.earlier, lookup.stats, when=when,
            half_life_days=self.half_life, story=story,
        )  # fmt: skip
        self.last_lexical, self.last_semantic = lexical, None
        ranked = lexical
        if vector is not None:
            semantic = await self._semantic(
                article, vector, lookup.weights, lookup.stats, when, story
            )
            self.last_semantic = semantic
            ranked = fuse(lexical, semantic)
        return ranked, lookup

    async def _semantic(
        self, article: Article, vector: list[float], weights: dict[str, float], stats: Stats,
        when: datetime | None, story: str | None,
    ) -> list[Scored]:  # fmt: skip
        assert self.vectors is not None
        hits = dict(await self.vectors.search(vector, NEIGHBOURS, exclude=article.id))
        candidates = await self.index.candidates(hits)
        earlier = []
        for c in candidates:
            if when is not None and c.published is not None and c.published > when:
                continue
            c.semantic = hits[c.id]
            earlier.append(c)
        ranked = rank_semantic(
            earlier,
            story=story,
            when=when,
            half_life_days=self.half_life,
            min_similarity=self.min_similarity,
        )
        for s in ranked:  # the shared terms, as evidence beside the cosine
            _, s.shared = lexical_score(weights, s.candidate, stats, when=None, half_life_days=0)
            s.shared = s.shared[:8]
        return ranked

    async def _offer(self, article: Article, lookup: Lookup, story: str | None) -> None:
        """Insert this article into the lists of later candidates it would rank in."""
        me = Candidate(id=article.id, terms=[], title=article.headline,
                       published=article.event_time, story=story)  # fmt: skip
        offers: dict[str, SimilarArticle] = {}
        for later in lookup.later:
            if story is not None and later.story == story:
                continue
            score, shared = lexical_score(
                lookup.weights, later, lookup.stats, when=article.event_time,
                half_life_days=self.half_life,
            )  # fmt: skip
            if shared and score >= MIN_SCORE:
                offers[later.id] = to_result(Scored(me, score, shared[:8], "lexical"))
        if not offers:
            return
        lists = await self.index.lists_of(offers)
        for aid, current in lists.items():
            item = offers[aid]
            if any(s.id == item.id or (s.story and s.story == item.story) for s in current):
                continue
            if len(current) >= SHOWN and min(s.score for s in current) >= item.score:
                continue
            merged = sorted([*current, item], key=lambda s: -s.score)[:SHOWN]
            await self.index.replace_list(aid, merged)
