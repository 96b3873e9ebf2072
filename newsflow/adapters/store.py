"""The MongoDB store (motor): articles, their stages' results, and the fetched pages.

Every write is idempotent and guarded: a stage writes only into the article's current
``generation`` (bumped by a refresh) and only while the article has not progressed past the
stage (``progress`` <= the stage's rank), so a stale or repeated message never regresses an
article. Raw pages live in their own collection, compressed, never in Redis.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from newsflow.adapters.ledger import LLMLedger
from newsflow.adapters.stories import StoryIndex
from newsflow.domain.contracts import RANK, Status
from newsflow.domain.usage import Purpose
from newsflow.settings import Settings
from newsflow.domain.urls import SHORT_ID_LEN, article_id, short_id, source_name

_STAGE_FIELD = {
    Status.FETCHED: "fetch",
    Status.EXTRACTED: "extraction",
    Status.TRANSLATED: "translation",
    Status.ANALYZED: "analysis",
}


#: Where a deferred purpose is recorded on the article, and the status it goes back to.
_DEFERRED: dict[Purpose, tuple[str, Status]] = {
    "translation": ("translation.status", Status.EXTRACTED),
    "impact": ("analysis.impact.status", Status.TRANSLATED),
}


def now() -> datetime:
    return datetime.now(UTC)


class ArticleNotFound(LookupError):
    pass


class AmbiguousId(LookupError):
    pass


@dataclass(frozen=True)
class Intake:
    """What accepting a submitted URL did."""

    article_id: str
    generation: int
    #: True when this message should be processed (a new article, a refresh, a redelivery).
    process: bool
    new: bool


class ArticleStore:
    """Articles in ``<db>.<collection>`` and their pages in ``<db>.<collection>_pages``."""

    def __init__(self, client: AsyncIOMotorClient[Any], settings: Settings) -> None:
        self.client = client
        self.db: AsyncIOMotorDatabase[Any] = client[settings.mongo_db]
        self.articles: AsyncIOMotorCollection[Any] = self.db[settings.mongo_collection]
        self.pages: AsyncIOMotorCollection[Any] = self.db[f"{settings.mongo_collection}_pages"]
        #: Fingerprints and stories (near-duplicates), and the LLM answer cache and usage.
        self.stories = StoryIndex(self.db, self.articles, settings)
        self.ledger = LLMLedger(self.db, settings)

    @classmethod
    def connect(cls, settings: Settings) -> ArticleStore:
        client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(
            settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=10_000
        )
        return cls(client, settings)

    def close(self) -> None:
        self.client.close()

    async def ensure_indexes(self) -> None:
        await self.articles.create_index([("short_id", ASCENDING)])
        await self.articles.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
        await self.articles.create_index([("created_at", DESCENDING)])
        await self.articles.create_index([("extraction.published", DESCENDING)])
        await self.articles.create_index([("analysis.symbols", ASCENDING)])
        await self.articles.create_index([("analysis.keywords", ASCENDING)])
        await self.articles.create_index([("source", ASCENDING)])
        # deferred LLM work, found again when the budget allows
        await self.articles.create_index([("translation.status", ASCENDING)])
        await self.articles.create_index([("analysis.impact.status", ASCENDING)])
        await self.stories.ensure_indexes()
        await self.ledger.ensure_indexes()

    # --- intake ---------------------------------------------------------------------------

    async def accept(
        self, *, canonical: str, submitted_url: str, submitted_by: str, refresh: bool, entry_id: str
    ) -> Intake:
        """Create or refresh the article for a submitted URL.

        ``entry_id`` is the stream entry that carried the URL: its redelivery after a crash
        is processed again instead of being taken for a duplicate.
        """
        aid = article_id(canonical)
        ts = now()
        before = await self.articles.find_one_and_update(
            {"_id": aid},
            {
                "$setOnInsert": {
                    "short_id": short_id(aid),
                    "url": canonical,
                    "submitted_url": submitted_url,
                    "source": source_name(canonical),
                    "status": Status.QUEUED.value,
                    "progress": RANK[Status.QUEUED],
                    "generation": 1,
                    "intake_entry": entry_id,
                    "created_at": ts,
                    "times": {"queued_at": ts},
                    "votes": {"up": 0, "down": 0, "important": 0, "comments": 0},
                },
                "$set": {"updated_at": ts},
                "$inc": {"submissions": 1},
                "$push": {"submitted_by": {"$each": [submitted_by], "$slice": -20}},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return Intake(aid, 1, process=True, new=True)
        if before.get("intake_entry") == entry_id:  # our own earlier delivery: go on
            await self.articles.update_one({"_id": aid}, {"$inc": {"submissions": -1}})
            return Intake(aid, before["generation"], process=True, new=False)
        if not refresh:
            return Intake(aid, before["generation"], process=False, new=False)
        after = await self.articles.find_one_and_update(
            {"_id": aid, "intake_entry": {"$ne": entry_id}},
            {
                "$inc": {"generation": 1},
                "$set": {
                    "status": Status.QUEUED.value,
                    "progress": RANK[Status.QUEUED],
                    "intake_entry": entry_id,
                    "times.queued_at": ts,
                    "failure": None,
                },
            },
            return_document=ReturnDocument.AFTER,
        )
        if after is None:  # a concurrent delivery of this same entry refreshed it already
            doc = await self.articles.find_one({"_id": aid}, {"generation": 1})
            return Intake(aid, doc["generation"] if doc else 1, process=True, new=False)
        return Intake(aid, after["generation"], process=True, new=False)

    # --- stage results --------------------------------------------------------------------

    async def save_stage(
        self,
        aid: str,
        generation: int,
        stage: Status,
        result: dict[str, Any],
        *,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Store a successful stage's result; False when the write would regress the article."""
        ts = now()
        update: dict[str, Any] = {
            _STAGE_FIELD[stage]: result,
            "status": stage.value,
            "progress": RANK[stage],
            f"times.{stage.value}_at": ts,
            "updated_at": ts,
            "failure": None,
            **(extra or {}),
        }
        res = await self.articles.update_one(
            {"_id": aid, "generation": generation, "progress": {"$lte": RANK[stage]}},
            {"$set": update},
        )
        return res.matched_count == 1

    async def fail(
        self,
        aid: str,
        generation: int | None,
        stage: Status,
        reason: str,
        *,
        result: dict[str, Any] | None = None,
        dead_letter: bool = False,
    ) -> bool:
        """Mark the article failed at ``stage`` with a human-readable reason.

        ``stage`` is the stage that would have been reached (``fetched`` for the fetcher).
        ``dead_letter`` marks a failure whose message waits in the dead-letter stream: a
        `newsflow retry` may bring it back.
        """
        ts = now()
        update: dict[str, Any] = {
            "status": Status.FAILED.value,
            "failure": {"stage": stage.value, "reason": reason, "at": ts, "dead_letter": dead_letter},
            "times.failed_at": ts,
            "updated_at": ts,
        }
        if result is not None:
            update[_STAGE_FIELD[stage]] = result
        query: dict[str, Any] = {"_id": aid, "progress": {"$lt": RANK[stage]}}
        if generation is not None:
            query["generation"] = generation
        res = await self.articles.update_one(query, {"$set": update})
        return res.matched_count == 1

    # --- deferred LLM work ------------------------------------------------------------------

    async def reopen_deferred(
        self, purpose: Purpose, limit: int, *, stuck_after: float
    ) -> list[tuple[str, int, str]]:
        """Send articles whose ``purpose`` was deferred back to the stage that does it.

        Each article goes back one step (``extracted`` for the translation, ``translated``
        for the impact analysis) in a new ``generation``, so any older message of it is
        ignored; the caller publishes the returned (id, generation, url) to that stage. An
        article reopened more than ``stuck_after`` seconds ago and still waiting (its message
        was never published: a crash in between) is returned again.
        """
        field, back = _DEFERRED[purpose]
        ts = now()
        reopened: list[tuple[str, int, str]] = []
        cursor = self.articles.find(
            {field: "deferred", "status": Status.ANALYZED.value}, {"generation": 1, "url": 1}
        ).limit(limit)
        async for doc in cursor:
            after = await self.articles.find_one_and_update(
                {"_id": doc["_id"], "generation": doc["generation"], field: "deferred",
                 "status": Status.ANALYZED.value},
                {"$inc": {"generation": 1},
                 "$set": {"status": back.value, "progress": RANK[back], "updated_at": ts,
                          "resumed": {"purpose": purpose, "at": ts,
                                      "generation": doc["generation"] + 1}}},
                projection={"generation": 1, "url": 1},
                return_document=ReturnDocument.AFTER,
            )  # fmt: skip
            if after is not None:  # else another replica took it
                reopened.append((after["_id"], int(after["generation"]), after["url"]))
        stuck = self.articles.find(
            {"resumed.purpose": purpose, "status": back.value,
             "resumed.at": {"$lt": ts - timedelta(seconds=stuck_after)}},
            {"generation": 1, "url": 1, "resumed": 1},
        ).limit(limit)  # fmt: skip
        async for doc in stuck:
            if doc["resumed"].get("generation") == doc["generation"]:
                reopened.append((doc["_id"], int(doc["generation"]), doc["url"]))
        return reopened

    # --- pages ----------------------------------------------------------------------------

    async def save_page(self, aid: str, generation: int, html: str) -> None:
        data = zlib.compress(html.encode("utf-8"), 6)
        await self.pages.replace_one(
            {"_id": aid},
            {"_id": aid, "generation": generation, "html_z": Binary(data), "saved_at": now()},
            upsert=True,
        )

    async def load_page(self, aid: str) -> tuple[int, str] | None:
        doc = await self.pages.find_one({"_id": aid})
        if doc is None:
            return None
        return doc["generation"], zlib.decompress(bytes(doc["html_z"])).decode("utf-8")

    # --- reading --------------------------------------------------------------------------

    async def resolve(self, ident: str) -> str:
        """Full article id from a full id or a prefix of at least 4 hex digits."""
        ident = ident.strip().lower()
        if not ident or any(c not in "0123456789abcdef" for c in ident):
            raise ArticleNotFound(f"{ident!r} is not an article id (hex digits expected)")
        if len(ident) == 64:
            if await self.articles.count_documents({"_id": ident}, limit=1):
                return ident
            raise ArticleNotFound(f"no article with id {ident}")
        if len(ident) < 4:
            raise ArticleNotFound("an id prefix needs at least 4 hex digits")
        if len(ident) <= SHORT_ID_LEN:
            query: dict[str, Any] = {"short_id": {"$regex": f"^{ident}"}}
        else:
            query = {"_id": {"$regex": f"^{ident}"}}
        ids = [d["_id"] async for d in self.articles.find(query, {"_id": 1}).limit(5)]
        if not ids:
            raise ArticleNotFound(f"no article with id {ident}")
        if len(ids) > 1:
            shown = ", ".join(short_id(i) for i in ids)
            raise AmbiguousId(f"id prefix {ident} is ambiguous: it matches {shown}")
        return str(ids[0])

    async def get(self, ident: str) -> dict[str, Any]:
        aid = await self.resolve(ident)
        doc = await self.articles.find_one({"_id": aid})
        if doc is None:
            raise ArticleNotFound(f"no article with id {ident}")
        return dict(doc)

    async def latest(self, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"status": status} if status else {}
        cursor = self.articles.find(query).sort("created_at", DESCENDING).limit(limit)
        return [dict(d) async for d in cursor]

    async def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        async for row in self.articles.aggregate(
            [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        ):
            counts[str(row["_id"])] = int(row["n"])
        return counts
