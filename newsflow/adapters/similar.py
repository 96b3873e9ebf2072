"""Similar events in MongoDB: document frequencies and postings per term, stored vectors.

Collections (``<c>`` is ``NEWSFLOW_MONGO_COLLECTION``), owned by the store as
``store.similar``:

- ``<c>_terms``: one document per term, ``{_id: term, df: n, e: [id, ...]}``: how many
  indexed articles have it and the ids of the newest
  :data:`~newsflow.stages.similar_events.POSTINGS` of them (its postings, oldest first;
  older ones are dropped, a lookup never reads them); plus ``{_id: "\\u0000stats", n,
  terms}`` (articles indexed, sum of their term counts). Kept incrementally: one upsert per
  term (``$inc`` and a capped ``$push``) when an article is indexed. Postings written before
  2026-11-28 (third change) are ``[id, event time]`` pairs, read the same way: the time was
  never read, and a plain string is the cheapest thing for SecantusDB to copy and compare
  on every rewrite of the document.
- on the article: ``similar_index`` (its terms, their count, when indexed; stored with the
  analysis, in the same write) and, with an
  embeddings provider, ``embedding`` (``vector``: a BSON vector, binary subtype 9, float32
  little-endian: 4 bytes per dimension + 2, e.g. 1,026 bytes at 256 dimensions or 6,146 at
  1,536; ``model``, ``dims``, ``at``), indexed on ``embedding.at``.

Until 2026-11-28 the postings were kept in buckets of 100 in ``<c>_postings`` (two writes per
term instead of one); ``newsflow similar refresh --rebuild`` rebuilds the index in this form.

The queries and what serves them (every one bounded, whatever the size of the collection):

================================================  ==========================================
document frequencies of an article's terms         ``<c>_terms._id`` (``$in``, <= 49 keys,
                                                   only ``df``)
newest postings of the rarest terms (16 at a       ``<c>_terms._id`` (``$in``, <= 16 keys,
time, at most 3 reads)                             <= 50 entries each)
the best candidates' terms and titles              articles ``_id`` (``$in``, <= 60)
vectors stored since the last sync                 articles ``embedding.at`` (range, newest
                                                   ones only after the first load)
analyzed articles never indexed (``unindexed``,    a scan of ``status`` then ``similar_index``
``newsflow similar refresh``)                      (an admin command, not the pipeline)
================================================  ==========================================

SecantusDB plans an index only for a filter without logical operators and sorts in Python
whatever a filter matches; every query here is a plain ``$in`` on ``_id`` or one range, and
never asks for "the newest N articles with a common term" (which would sort every match).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson.binary import Binary, BinaryVectorDtype
from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ASCENDING, UpdateOne, WriteConcern
from pymongo.errors import BulkWriteError

from newsflow.domain.article import headline_of
from newsflow.domain.contracts import SimilarArticle
from newsflow.stages.similar_events import (
    POSTINGS,
    RETRIEVE_TERMS,
    SCORE_CANDIDATES,
    Candidate,
    Stats,
    retrieval_terms,
    term_weights,
)

Document = dict[str, Any]

STATS_ID = "\x00stats"

#: What scoring reads of a candidate article.
CANDIDATE_FIELDS = {
    "similar_index.terms": 1, "created_at": 1, "story.id": 1,
    "extraction.status": 1, "extraction.title": 1, "extraction.published": 1,
    "translation.status": 1, "translation.title": 1,
}  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class Lookup:
    """What one article's lookup read: statistics, frequencies, scored candidates."""

    stats: Stats
    dfs: dict[str, int]
    weights: dict[str, float]
    #: Earlier candidates (event time before the article's, or unknown), terms loaded.
    earlier: list[Candidate]
    #: Candidates whose event time is after the article's (their lists may want it).
    later: list[Candidate]


def candidate_of(doc: Document) -> Candidate:
    extraction = doc.get("extraction") or {}
    translation = doc.get("translation") or {}
    title = headline_of(
        extraction.get("title"), translation.get("title"), translation.get("status") == "translated"
    )
    published = extraction.get("published") or doc.get("created_at")
    index = doc.get("similar_index") or {}
    raw_terms = index.get("terms")
    terms: list[Any] = raw_terms if isinstance(raw_terms, list) else []
    story = (doc.get("story") or {}).get("id")
    return Candidate(
        id=str(doc["_id"]), terms=[t for t in terms if isinstance(t, str)], title=title,
        published=_aware(published if isinstance(published, datetime) else None),
        story=story if isinstance(story, str) else None,
    )  # fmt: skip


def posting_id(entry: Any) -> str | None:
    """The article id of a posting: an id, or an ``[id, event time]`` pair (before
    2026-11-28); None for anything else."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, list) and entry and isinstance(entry[0], str):
        return entry[0]
    return None


def index_entry(terms: list[str]) -> Document:
    """What the article stores once it is indexed (``similar_index``)."""
    return {"terms": terms, "n": len(terms), "at": now()}


def vector_bytes(vector: list[float]) -> Binary:
    """A BSON vector (binary subtype 9, float32): what MongoDB's vector search indexes."""
    return Binary.from_vector(vector, BinaryVectorDtype.FLOAT32)


#: MongoDB's duplicate-key error: a term already holding the article (see ``index``).
_DUPLICATE_KEY = 11000


class SimilarIndex:
    """Term statistics, postings and vectors beside the articles collection."""

    def __init__(
        self, db: AsyncIOMotorDatabase[Any], articles: AsyncIOMotorCollection[Any], name: str
    ) -> None:
        self._articles = articles
        self._terms: AsyncIOMotorCollection[Any] = db[f"{name}_terms"]
        #: The same, written acknowledged but not journaled (see :meth:`index`).
        self._terms_unsynced = self._terms.with_options(write_concern=WriteConcern(w=1))
        #: Where postings were kept before they moved into ``_terms`` (dropped by a rebuild).
        self._old_postings: AsyncIOMotorCollection[Any] = db[f"{name}_postings"]

    async def ensure_indexes(self) -> None:
        """Nothing to create: ``_terms`` is read by ``_id`` only, and the articles' index
        this part reads (``embedding.at``) is the store's."""

    # --- lexical ----------------------------------------------------------------------------

    async def lookup(self, aid: str, terms: list[str], when: datetime | None) -> Lookup:
        """Read the statistics of ``terms``, the newest postings of the rarest ones and the
        best candidates among them (three reads)."""
        dfs: dict[str, int] = {}
        stats = Stats(0, 0.0)
        wanted = {"_id": {"$in": [*terms, STATS_ID]}}
        async for doc in self._terms.find(wanted, {"df": 1, "n": 1, "terms": 1}):
            if doc["_id"] == STATS_ID:
                n = int(doc.get("n") or 0)
                stats = Stats(n, (int(doc.get("terms") or 0) / n) if n else 0.0)
            else:
                dfs[doc["_id"]] = int(doc.get("df") or 0)
        weights = term_weights(terms, dfs, stats)
        order = retrieval_terms(weights, dfs)
        if not order:
            return Lookup(stats, dfs, weights, [], [])
        pre: dict[str, float] = {}
        # Rarest terms first, RETRIEVE_TERMS at a time, until enough candidates: the rarest
        # terms of an article are often shared only with copies of it (its own story), so a
        # second or third batch is read when the first finds too few (at most three reads).
        for first in range(0, len(order), RETRIEVE_TERMS):
            chosen = order[first : first + RETRIEVE_TERMS]
            async for doc in self._terms.find({"_id": {"$in": chosen}}, {"e": 1}):
                term = doc["_id"]  # one of ``chosen``, so weighted
                for entry in doc.get("e") or []:
                    other = posting_id(entry)
                    if other is None or other == aid:
                        continue
                    pre[other] = pre.get(other, 0.0) + weights[term]
            if len(pre) >= SCORE_CANDIDATES:
                break
        best = sorted(pre, key=lambda o: (-pre[o], o))[:SCORE_CANDIDATES]
        earlier: list[Candidate] = []
        later: list[Candidate] = []
        if best:
            async for doc in self._articles.find({"_id": {"$in": best}}, CANDIDATE_FIELDS):
                c = candidate_of(doc)
                if when is not None and c.published is not None and c.published > _aware(when):  # type: ignore[operator]
                    later.append(c)
                else:
                    earlier.append(c)
        return Lookup(stats, dfs, weights, earlier, later)

    async def index(self, aid: str, terms: list[str], *, durable_by_next_write: bool) -> None:
        """Count ``terms`` in the document frequencies and add the article to their postings
        (one write: an upsert per term). The caller stores :func:`index_entry` on the article
        with its analysis and indexes an article once (:attr:`Article.similar_index`). A
        retry between the two writes (a crash, a handler timeout) indexes it again: a term
        whose postings hold the article already is left alone (its upsert finds no document
        without it and its insert meets the term's _id: a duplicate-key error, ignored), so
        postings and frequencies count it once; only the article count ``n`` may count it twice
        (before, the postings held it twice and every frequency was one too high: outside
        review).

        ``durable_by_next_write``: the caller's next write is the article's, with the store's
        write concern (journaled by default), and it comes only after this one is
        acknowledged: the upserts are then sent acknowledged but not journaled (``w: 1``).
        The server's journal is one sequence, so the article's journaled commit makes these
        durable too (a replica set's majority commit likewise covers the earlier entries of
        its oplog); a crash before it loses at most postings the redelivered message writes
        again. Each journaled statement is a flush of its own (49 per article on SecantusDB,
        which syncs every statement of a bulk write; see the README, "Benchmark")."""
        if not terms:
            return
        posting = {"$each": [aid], "$slice": -POSTINGS}
        terms_coll = self._terms_unsynced if durable_by_next_write else self._terms
        try:
            await terms_coll.bulk_write(
                [UpdateOne({"_id": t, "e": {"$ne": aid}},
                           {"$inc": {"df": 1}, "$push": {"e": posting}}, upsert=True)
                 for t in terms]
                + [UpdateOne({"_id": STATS_ID}, {"$inc": {"n": 1, "terms": len(terms)}},
                             upsert=True)],
                ordered=False,
            )  # fmt: skip
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if not errors or any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise

    async def claim_indexing(self, aid: str, terms: list[str]) -> bool:
        """Store the article's index entry by itself if it has none (True: index it now),
        for ``newsflow similar refresh``; the analyzer stores it with the analysis."""
        res = await self._articles.update_one(
            {"_id": aid, "similar_index": None}, {"$set": {"similar_index": index_entry(terms)}}
        )
        return res.matched_count == 1

    async def reset(self) -> int:
        """Forget every article's indexing: drop the term statistics and postings (and the
        postings of earlier versions) and unset ``similar_index`` on the articles, for a
        rebuild (``newsflow similar refresh --rebuild``). Returns the articles unset."""
        await self._terms.drop()
        await self._old_postings.drop()
        res = await self._articles.update_many(
            {"similar_index": {"$ne": None}}, {"$set": {"similar_index": None}}
        )
        return res.modified_count

    async def candidates(self, ids: Iterable[str]) -> list[Candidate]:
        """Articles by id, as scoring reads them (one read)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        found = {}
        async for doc in self._articles.find({"_id": {"$in": wanted}}, CANDIDATE_FIELDS):
            found[doc["_id"]] = candidate_of(doc)
        return [found[i] for i in wanted if i in found]

    async def lists_of(self, ids: Iterable[str]) -> dict[str, list[SimilarArticle]]:
        """The stored similar-event lists of analyzed articles (one read)."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, list[SimilarArticle]] = {}
        if not wanted:
            return out
        cursor = self._articles.find(
            {"_id": {"$in": wanted}}, {"analysis.status": 1, "analysis.similar": 1}
        )
        async for doc in cursor:
            analysis = doc.get("analysis") or {}
            if analysis.get("status") != "ok":
                continue
            items = []
            for raw in analysis.get("similar") or []:
                try:
                    items.append(SimilarArticle.model_validate(raw))
                except ValueError:
                    continue
            out[doc["_id"]] = items
        return out

    async def replace_list(self, aid: str, similar: list[SimilarArticle]) -> bool:
        """Store a refreshed list on an analyzed article (the refresh of later articles)."""
        res = await self._articles.update_one(
            {"_id": aid, "analysis.status": "ok"},
            {"$set": {"analysis.similar": [s.model_dump() for s in similar],
                      "analysis.similar_refreshed_at": now()}},
        )  # fmt: skip
        return res.modified_count == 1

    async def unindexed(self, limit: int) -> list[Any]:
        """Analyzed articles never indexed for similar events (analyzed before this version,
        or a crash between the analysis and the indexing), oldest first: what
        ``newsflow similar refresh`` brings up to date. A scan: an occasional admin command."""
        from newsflow.domain.article import Article

        cursor = (
            self._articles.find({"status": "analyzed", "similar_index": None}, {"embedding": 0})
            .sort("created_at", ASCENDING)
            .limit(limit)
        )
        return [Article.from_document(doc) async for doc in cursor]

    # --- vectors ----------------------------------------------------------------------------

    async def store_vector(self, aid: str, vector: list[float], model: str) -> datetime:
        ts = now()
        await self._articles.update_one(
            {"_id": aid},
            {"$set": {"embedding": {"vector": vector_bytes(vector), "dims": len(vector),
                                    "model": model, "at": ts}}},
        )  # fmt: skip
        return ts

    async def vectors_since(
        self, since: datetime | None, limit: int
    ) -> list[tuple[str, list[float], datetime]]:
        """Vectors stored at or after ``since`` (None: all), oldest first, at most ``limit``:
        (article id, vector, stored at)."""
        query: Document = {"embedding.at": {"$gte": since}} if since is not None else {
            "embedding.at": {"$gte": datetime.fromtimestamp(0, UTC)}}  # fmt: skip
        cursor = self._articles.find(query, {"embedding.vector": 1, "embedding.at": 1})
        out = []
        async for doc in cursor.sort("embedding.at", ASCENDING).limit(limit):
            emb = doc.get("embedding") or {}
            raw = emb.get("vector")
            if not isinstance(raw, Binary):
                continue
            try:
                values = list(raw.as_vector().data)
            except (ValueError, TypeError):
                continue
            out.append((str(doc["_id"]), values, _aware(emb.get("at")) or now()))
        return out
