"""Sources (feeds and sitemaps) in MongoDB, and the per-host gate in Redis.

One document per source in ``<db>.<collection>_sources``, its id the sha256 of the canonical
feed URL (the first ten hex digits are the short id people type). It holds the user's
settings (name, interval, category, language, paused), what the feed says of itself (kind,
title), the polling state (next poll, lease, validators for conditional GET, failures and
the last error in words). Beside it, in ``<collection>_source_items`` (one document per
source, same id), a bounded memory of the items it yielded: ``seen``, the last
``feed_memory`` item hashes (16 hex digits of sha256 of the item's id), pushed with
``$slice``, so "published before?" never scans the articles. It lives apart so that the
lease and listing queries never carry up to 80 kB per source, and is read only when a feed
changed (a 304 costs two commands: the lease and the result).

Leases: a feeder replica takes a due source with a ``findOneAndUpdate`` on
``_id, paused=false, next_poll <= now, lease_until < now`` that sets ``lease_until`` and
``leased_by``; MongoDB applies it to one document atomically, so two replicas never hold one
source. The ids come from one sorted query for the most overdue sources, ``LEASE_BATCH`` at a
time, shuffled per replica (SecantusDB answers a sorted range query by scanning the
collection, about a second for 1,000 sources on a busy machine, while a lookup by id takes
milliseconds; on MongoDB both use an index). Its result is written only while it still holds
the lease (``leased_by``); a replica that dies leaves the lease to expire after
``feed_lease_seconds``.

The per-host limits hold across replicas in Redis (:class:`HostGate`): a Lua script keeps
per host a sorted set of the requests in flight (member = a random token, score = when the
slot expires, so a crashed replica's slot frees itself) for the concurrency cap, and a key
holding the earliest time the next request may start (``SET ... PX``) for the spacing.
Times come from Redis' own clock (``TIME``), the same for every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection
from pymongo import ASCENDING, ReturnDocument, monitoring
from redis.asyncio import Redis

from newsflow.adapters.ids import id_prefix_filter
from newsflow.domain.urls import SHORT_ID_LEN, canonical_url, source_name
from newsflow.settings import Settings


def now() -> datetime:
    return datetime.now(UTC)


class SourceNotFound(LookupError):
    pass


class AmbiguousSource(LookupError):
    pass


def source_id(url: str) -> str:
    """The id of the source at ``url`` (sha256 of its canonical URL); raises InvalidUrl."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()


def item_hash(key: str) -> str:
    """What ``seen`` remembers of an item: 16 hex digits of the sha256 of its id."""
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]


def display_name(doc: dict[str, Any]) -> str:
    """The name articles carry as ``source``: the user's name, else the feed's title, else the host."""
    return str(doc.get("name") or doc.get("title") or source_name(str(doc.get("url") or "")))


class CommandCounter(monitoring.CommandListener):
    """Counts the commands a client sends (for the feeder's statistics and the benchmark)."""

    def __init__(self) -> None:
        self.total = 0
        self.by_name: dict[str, int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.total += 1
        self.by_name[event.command_name] = self.by_name.get(event.command_name, 0) + 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


#: Fields a listing never needs (none since the item memory moved out; kept for old documents).
_HEAVY = {"seen": 0}
#: Sources whose ids one candidate query fetches for leasing.
LEASE_BATCH = 64


class SourceStore:
    def __init__(
        self,
        client: AsyncIOMotorClient[Any],
        settings: Settings,
        counter: CommandCounter | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        db = client[settings.mongo_db]
        self.sources: AsyncIOMotorCollection[Any] = db[f"{settings.mongo_collection}_sources"]
        self.items: AsyncIOMotorCollection[Any] = db[f"{settings.mongo_collection}_source_items"]
        self.counter = counter or CommandCounter()
        self._candidates: list[str] = []
        self._candidates_lock = asyncio.Lock()
        #: When the earliest source not yet due falls due (set by a lease that found none due).
        self.next_due: datetime | None = None

    @classmethod
    def connect(cls, settings: Settings) -> SourceStore:
        counter = CommandCounter()
        client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(
            settings.mongo_url,
            tz_aware=True,
            serverSelectionTimeoutMS=10_000,
            event_listeners=[counter],
        )
        return cls(client, settings, counter)

    def close(self) -> None:
        self.client.close()

    async def ping(self) -> bool:
        """Whether MongoDB answers (the feeder's health check)."""
        return bool((await self.client.admin.command("ping")).get("ok"))

    async def ensure_indexes(self) -> None:
        # The lease query: due, not paused, oldest first.
        await self.sources.create_index([("paused", ASCENDING), ("next_poll", ASCENDING)])
        await self.sources.create_index([("short_id", ASCENDING)])

    # --- what users do ------------------------------------------------------------------------

    async def add(
        self,
        url: str,
        *,
        name: str | None = None,
        interval: float | None = None,
        category: str | None = None,
        language: str | None = None,
        kind: str | None = None,
        title: str | None = None,
        added_by: str = "cli",
    ) -> tuple[dict[str, Any], bool]:
        """Add the source at ``url`` (polled at once); returns (document, created).

        A source that exists is returned unchanged (``created`` False).
        """
        canonical = canonical_url(url)
        sid = source_id(canonical)
        ts = now()
        # Bounded as the messages that carry them are (UrlSubmitted).
        name, category, language = (
            (name or "").strip()[:300],
            (category or "").strip()[:100],
            (language or "").strip()[:20],
        )
        doc: dict[str, Any] = {
            "_id": sid,
            "short_id": sid[:SHORT_ID_LEN],
            "url": canonical,
            "kind": kind,
            "name": name or None,
            "title": title,
            "category": category or None,
            "language": language or None,
            "interval": interval,
            "current_interval": interval or self.settings.feed_default_interval,
            "paused": False,
            "added_by": added_by,
            "created_at": ts,
            "next_poll": ts,
            "lease_until": ts - timedelta(seconds=1),
            "leased_by": None,
            "last_poll": None,
            "last_success": None,
            "last_error": None,
            "last_error_at": None,
            "consecutive_failures": 0,
            "items_seen": 0,
            "last_new": 0,
            "polls": 0,
            "not_modified": 0,
            "etag": None,
            "last_modified": None,
            "notes": [],
        }
        before = await self.sources.find_one_and_update(
            {"_id": sid},
            {"$setOnInsert": doc},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            projection=_HEAVY,
        )
        if before is not None:
            return dict(before), False
        return doc, True

    async def all(self) -> list[dict[str, Any]]:
        cursor = self.sources.find({}, _HEAVY).sort("created_at", ASCENDING)
        return [dict(d) async for d in cursor]

    async def resolve(self, ident: str) -> str:
        """The full id from a full id, a prefix of at least 4 hex digits, or the URL."""
        ident = ident.strip()
        if "://" in ident:
            try:
                sid = source_id(ident)
            except ValueError as exc:
                raise SourceNotFound(f"{ident!r} is not a valid URL: {exc}") from None
            if await self.sources.count_documents({"_id": sid}, limit=1):
                return sid
            raise SourceNotFound(f"no source with URL {ident}")
        ident = ident.lower()
        if len(ident) < 4 or any(c not in "0123456789abcdef" for c in ident):
            raise SourceNotFound(f"{ident!r} is not a source id (4 or more hex digits) or a URL")
        query = id_prefix_filter(ident)
        ids = [d["_id"] async for d in self.sources.find(query, {"_id": 1}).limit(5)]
        if not ids:
            raise SourceNotFound(f"no source with id {ident}")
        if len(ids) > 1:
            shown = ", ".join(i[:SHORT_ID_LEN] for i in ids)
            raise AmbiguousSource(f"id prefix {ident} is ambiguous: it matches {shown}")
        return str(ids[0])

    async def get(self, ident: str) -> dict[str, Any]:
        sid = await self.resolve(ident)
        doc = await self.sources.find_one({"_id": sid}, _HEAVY)
        if doc is None:
            raise SourceNotFound(f"no source with id {ident}")
        return dict(doc)

    async def set_paused(self, ident: str, paused: bool) -> dict[str, Any]:
        sid = await self.resolve(ident)
        update: dict[str, Any] = {"paused": paused}
        if not paused:
            update["next_poll"] = now()  # resumed: polled at once
        doc = await self.sources.find_one_and_update(
            {"_id": sid},
            {"$set": update},
            projection=_HEAVY,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise SourceNotFound(f"no source with id {ident}")
        return dict(doc)

    async def remove(self, ident: str) -> dict[str, Any]:
        sid = await self.resolve(ident)
        doc = await self.sources.find_one_and_delete({"_id": sid}, projection=_HEAVY)
        if doc is None:
            raise SourceNotFound(f"no source with id {ident}")
        await self.items.delete_one({"_id": sid})
        return dict(doc)

    # --- what the feeder does -------------------------------------------------------------------

    async def lease(self, worker: str, seconds: float) -> dict[str, Any] | None:
        """Take one due source (the most overdue first) for ``seconds``; None when none is due."""
        while True:
            async with self._candidates_lock:
                if not self._candidates:
                    self._candidates = await self._due_ids()
                    if not self._candidates:
                        return None
                sid = self._candidates.pop()
            ts = now()
            doc = await self.sources.find_one_and_update(
                {
                    "_id": sid,
                    "paused": False,
                    "next_poll": {"$lte": ts},
                    "lease_until": {"$lt": ts},
                },
                {"$set": {"lease_until": ts + timedelta(seconds=seconds), "leased_by": worker}},
                projection=_HEAVY,
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return dict(doc)
            # Another replica took it (or it was paused) since the candidates were read.

    async def _due_ids(self) -> list[str]:
        """Ids of the most overdue sources; notes when the next one falls due (``next_due``)."""
        ts = now()
        cursor = (
            self.sources.find(
                {"paused": False, "lease_until": {"$lt": ts}}, {"_id": 1, "next_poll": 1}
            )
            .sort("next_poll", ASCENDING)
            .limit(LEASE_BATCH)
        )
        docs = [d async for d in cursor]
        ids = [str(d["_id"]) for d in docs if d["next_poll"] <= ts]
        later = [d["next_poll"] for d in docs if d["next_poll"] > ts]
        self.next_due = later[0] if later else None
        # Replicas reading the same batch try its ids in different orders (fewer collisions);
        # popped from the end, so the most overdue go first here.
        head, tail = ids[: len(ids) // 2], ids[len(ids) // 2 :]
        random.shuffle(head)
        random.shuffle(tail)
        return tail + head

    async def seen(self, sid: str) -> set[str]:
        """The item hashes the source yielded before (its last ``feed_memory``)."""
        doc = await self.items.find_one({"_id": sid}, {"seen": 1})
        return set(doc.get("seen") or []) if doc else set()

    async def remember(self, sid: str, hashes: Sequence[str]) -> None:
        """Add item hashes to the source's memory, keeping the last ``feed_memory``."""
        if hashes:
            await self.items.update_one(
                {"_id": sid},
                {"$push": {"seen": {"$each": list(hashes), "$slice": -self.settings.feed_memory}}},
                upsert=True,
            )

    async def finish(
        self,
        sid: str,
        worker: str,
        state: dict[str, Any],
        *,
        published: int = 0,
        failed: bool = False,
        not_modified: bool = False,
    ) -> bool:
        """Record a poll and release the lease; False when the lease was lost meanwhile."""
        update: dict[str, Any] = {
            "$set": {**state, "leased_by": None, "lease_until": now() - timedelta(seconds=1)},
            "$inc": {"polls": 1, "items_seen": published, "not_modified": int(not_modified)},
        }
        if failed:
            update["$inc"]["consecutive_failures"] = 1
        res = await self.sources.update_one({"_id": sid, "leased_by": worker}, update)
        return res.matched_count == 1

    async def release(self, sid: str, worker: str, next_poll: datetime | None = None) -> None:
        """Give a source back without polling it (shutdown, host busy)."""
        update: dict[str, Any] = {"leased_by": None, "lease_until": now() - timedelta(seconds=1)}
        if next_poll is not None:
            update["next_poll"] = next_poll
        await self.sources.update_one({"_id": sid, "leased_by": worker}, {"$set": update})


# --- the per-host gate (Redis) -------------------------------------------------------------------

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return -1
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then
  return nxt - now
end
local hold = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + hold, ARGV[1])
redis.call('PEXPIRE', KEYS[1], hold)
local spacing = tonumber(ARGV[3])
if spacing > 0 then
  redis.call('SET', KEYS[2], now + spacing, 'PX', spacing)
end
return 0
"""


class HostBusy(Exception):
    """The host's slots stayed taken (or its spacing) longer than the caller would wait."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"host busy for {wait:.1f} s")
        self.wait = wait


def host_key(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc or "").lower()


class HostGate:
    """Per-host concurrency cap and request spacing shared by every feeder replica."""

    def __init__(self, redis: Redis, prefix: str, *, concurrency: int, hold_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.concurrency = concurrency
        self.hold_ms = int(hold_seconds * 1000)
        self._script = redis.register_script(_ACQUIRE)

    def _keys(self, host: str) -> list[str]:
        return [f"{self.prefix}:feeder:host:{host}:slots", f"{self.prefix}:feeder:host:{host}:next"]

    async def try_acquire(self, host: str, token: str, spacing: float) -> float:
        """0 when a slot was taken, else milliseconds worth waiting before trying again."""
        waited = int(
            await self._script(
                keys=self._keys(host),
                args=[token, self.concurrency, int(spacing * 1000), self.hold_ms],
            )
        )
        return 200.0 if waited < 0 else float(waited)

    @contextlib.asynccontextmanager
    async def slot(self, host: str, spacing: float, max_wait: float) -> AsyncIterator[None]:
        """Hold one of the host's slots for the block; ``HostBusy`` after ``max_wait`` s."""
        token = secrets.token_hex(8)
        started = time.monotonic()
        while True:
            wait_ms = await self.try_acquire(host, token, spacing)
            if wait_ms == 0:
                break
            if time.monotonic() - started + wait_ms / 1000 > max_wait:
                raise HostBusy(wait_ms / 1000)
            await asyncio.sleep(wait_ms / 1000)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # the slot expires on its own anyway
                await self.redis.zrem(self._keys(host)[0], token)
