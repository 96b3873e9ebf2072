"""Stories in MongoDB: fingerprints, their band index, story summaries and members.

Collections (``<c>`` is ``NEWSFLOW_MONGO_COLLECTION``):

- ``<c>_fingerprints``: one document per article with a fingerprint: the MinHash signature
  (512 bytes), the number of shingles, the LSH band hashes as an array with a multikey index,
  when it was first stored (``seen_at``) and its story (``story_id``; null while the article
  is the first of its own story, which is how it is read). Kept apart from the article so that a
  lookup reads 42 index keys and a few small documents, never article texts.
- ``<c>_stories``: one summary per story (first article, first seen, member count, the first
  :data:`~newsflow.domain.stories.MAX_STORY_SOURCES` source names).
- on the article itself: ``story`` (:class:`~newsflow.domain.stories.StoryLink`), indexed on
  ``story.id``: the members of a story are a query, never an array that grows with the story.
  The extractor stores it with its result (:meth:`StoryIndex.decide` records the summary
  first); :meth:`StoryIndex.place` stores it by itself.

The queries and what serves them:

==========================================  ================================================
candidates of a fingerprint (``place``)      ``bands`` multikey index, ``$in`` with a limit
members of a story (``members``), and their  articles ``story.id``
count (``decide``)
summaries of listed stories (``summaries``)  ``<c>_stories._id``
==========================================  ================================================

Placing is insert-then-look: an article stores its fingerprint first, then looks for earlier
ones (earlier ``seen_at``, ties by id). Two copies placed at the same moment both see each
other and agree on which is first; the later one joins. (Three copies placed in the same
instant, one of them still undecided, can leave the last one in a story of its own.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bson import Binary
from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ASCENDING, ReturnDocument

from newsflow.domain.article import Article
from newsflow.domain.stories import (
    MAX_STORY_SOURCES,
    StoryLink,
    StoryMember,
    StorySummary,
)
from newsflow.settings import Settings
from newsflow.stages.stories import METHOD, Candidate, Fingerprint, Match, best_match

Document = dict[str, Any]


def now() -> datetime:
    return datetime.now(UTC)


class StoryIndex:
    """Fingerprints and stories beside the articles collection."""

    def __init__(
        self,
        db: AsyncIOMotorDatabase[Any],
        articles: AsyncIOMotorCollection[Any],
        settings: Settings,
    ) -> None:
        self.settings = settings
        self._articles = articles
        self._prints: AsyncIOMotorCollection[Any] = db[f"{settings.mongo_collection}_fingerprints"]
        self._stories: AsyncIOMotorCollection[Any] = db[f"{settings.mongo_collection}_stories"]

    async def ensure_indexes(self) -> None:
        await self._prints.create_index([("bands", ASCENDING)])

    # --- placing --------------------------------------------------------------------------

    async def store_print(self, aid: str, print_: Fingerprint, *, source: str | None) -> Document:
        """Store (or replace) the article's fingerprint; the stored document after the write.

        ``seen_at`` is kept from the first time: a refresh does not make an article later.
        """
        doc = await self._prints.find_one_and_update(
            {"_id": aid},
            {
                "$set": {
                    "method": print_.method,
                    "mode": print_.mode,
                    "size": print_.size,
                    "signature": Binary(print_.signature),
                    "bands": list(print_.bands),
                    "source": source,
                },
                "$setOnInsert": {"seen_at": now(), "story_id": None},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return dict(doc)

    async def candidates(self, aid: str, print_: Fingerprint, seen_at: datetime) -> list[Candidate]:
        """Stored fingerprints sharing a band with ``print_`` and stored before ``seen_at``
        (at most ``story_candidates``; an indexed ``$in``, whatever the collection's size)."""
        cursor = self._prints.find(
            {"bands": {"$in": list(print_.bands)}, "_id": {"$ne": aid}, "method": METHOD},
            {"signature": 1, "size": 1, "seen_at": 1, "story_id": 1, "source": 1},
        ).limit(self.settings.story_candidates)
        found: list[Candidate] = []
        async for doc in cursor:
            seen = doc.get("seen_at")
            if seen is None or (seen, doc["_id"]) >= (seen_at, aid):
                continue  # placed after this article: it will look for this one, not we for it
            found.append(
                Candidate(
                    article_id=doc["_id"],
                    signature=bytes(doc["signature"]),
                    size=int(doc.get("size", 0)),
                    seen_at=seen,
                    story_id=doc.get("story_id"),
                    source=doc.get("source"),
                )
            )
        return found

    async def decide(
        self, aid: str, print_: Fingerprint | None, *, source: str | None,
        previous: str | None = None, note: str | None = None,
    ) -> StoryLink:  # fmt: skip
        """Decide the article's story and record it in the story summaries; the caller
        stores the link on the article (the extractor: with its result, in one write).

        Without a fingerprint (text too short) the article is a story of its own, ``note``
        saying why. ``previous``: the story the article was in before (a refresh), whose
        member count loses it.
        """
        if print_ is None:
            await self._prints.delete_one({"_id": aid})
            link = StoryLink(id=aid, first=True, placed_at=now(), note=note)
        else:
            stored = await self.store_print(aid, print_, source=source)
            candidates = await self.candidates(aid, print_, stored["seen_at"])
            match: Match | None = best_match(
                print_, candidates, merge_threshold=self.settings.story_merge_threshold,
                exclude=aid,
            )  # fmt: skip
            if match is None:
                link = StoryLink(id=aid, first=True, method=print_.method, placed_at=now())
            else:
                link = StoryLink(
                    id=match.story_id, first=False, matched=match.article_id,
                    similarity=match.similarity, containment=match.containment,
                    method=print_.method, placed_at=now(),
                )  # fmt: skip
            # A fingerprint without a story is read as the first of its own (``best_match``):
            # the first article of a story writes nothing more (every update of a fingerprint
            # rewrites its band index entries).
            if (stored.get("story_id") or aid) != link.id:
                await self._prints.update_one({"_id": aid}, {"$set": {"story_id": link.id}})
        await self._summarize(aid, link, previous, source)
        return link

    async def place(
        self, aid: str, generation: int, print_: Fingerprint | None, *, source: str | None,
        note: str | None = None,
    ) -> StoryLink:  # fmt: skip
        """:meth:`decide`, then store the link on the article by itself (tools and tests;
        the extractor stores it with its result)."""
        before = await self._articles.find_one({"_id": aid}, {"story": 1})
        previous = ((before or {}).get("story") or {}).get("id")
        link = await self.decide(aid, print_, source=source, previous=previous, note=note)
        await self._articles.update_one(
            {"_id": aid, "generation": generation}, {"$set": {"story": link.model_dump()}}
        )
        return link

    async def _summarize(
        self, aid: str, link: StoryLink, previous: str | None, source: str | None
    ) -> None:
        """The story's summary as it is once the article holds ``link``: its members counted
        (the others stored in the story, and this one), its first sources. Written before
        the article's own write, so a crash between the two is repaired by the redelivery
        doing both again; two copies placed at the same instant can each miss the other in
        the count, until the story's next placement counts again."""
        members = 1 + await self._articles.count_documents(
            {"story.id": link.id, "_id": {"$ne": aid}}
        )
        ts = now()
        res = await self._stories.update_one(
            {"_id": link.id},
            {
                "$setOnInsert": {"first_article": link.id, "first_seen": ts,
                                 "sources": [source] if source else []},
                "$set": {"updated_at": ts, "members": members},
            },
            upsert=True,
        )  # fmt: skip
        if source and res.upserted_id is None:
            await self._stories.update_one(
                {"_id": link.id, f"sources.{MAX_STORY_SOURCES - 1}": {"$exists": False}},
                {"$addToSet": {"sources": source}},
            )
        if previous and previous != link.id:
            left = await self._articles.count_documents({"story.id": previous, "_id": {"$ne": aid}})
            await self._stories.update_one({"_id": previous}, {"$set": {"members": left}})

    async def add_prints(self, docs: list[Document]) -> None:
        """Insert fingerprint documents as they are (bulk loads, such as the benchmark's)."""
        if docs:
            await self._prints.insert_many(docs, ordered=False)

    # --- reading --------------------------------------------------------------------------

    async def summary(self, story_id: str) -> StorySummary | None:
        doc = await self._stories.find_one({"_id": story_id})
        return None if doc is None else _summary(doc)

    async def summaries(self, story_ids: Iterable[str]) -> dict[str, StorySummary]:
        """The summaries of the given stories (one ``$in`` on ``_id``)."""
        ids = list(dict.fromkeys(story_ids))
        if not ids:
            return {}
        return {
            doc["_id"]: _summary(doc) async for doc in self._stories.find({"_id": {"$in": ids}})
        }

    async def members(self, story_id: str, limit: int = 50) -> list[StoryMember]:
        """The story's articles, the first one first, then in the order they joined."""
        cursor = self._articles.find(
            {"story.id": story_id},
            {"short_id": 1, "url": 1, "source": 1, "status": 1, "story": 1,
             "extraction.status": 1, "extraction.title": 1,
             "translation.status": 1, "translation.title": 1},
        ).sort([("story.first", -1), ("story.placed_at", 1)]).limit(max(1, limit))  # fmt: skip
        members: list[StoryMember] = []
        async for doc in cursor:
            link = StoryLink.model_validate(doc["story"])
            article = Article.from_document(doc)
            members.append(
                StoryMember(
                    id=article.id,
                    short_id=article.short_id,
                    url=article.url,
                    source=article.source or None,
                    title=article.headline,
                    status=article.status.value,
                    first=link.first,
                    matched=link.matched,
                    similarity=link.similarity,
                    containment=link.containment,
                    placed_at=link.placed_at,
                )
            )
        return members


def _summary(doc: Document) -> StorySummary:
    return StorySummary(
        id=doc["_id"],
        first_article=str(doc.get("first_article") or doc["_id"]),
        first_seen=doc.get("first_seen"),
        members=int(doc.get("members", 1)),
        sources=list(doc.get("sources") or []),
    )
