"""Delivery guarantees of the shared worker runtime, on a real Redis and SecantusDB.

A toy stage (no fetching) drives the real runtime: groups at 0, reclaim of a crashed
consumer's entries, dead letters for poison and malformed messages, trimming that spares
pending entries, and stale messages that never regress an article.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from redis.asyncio import Redis

from newsflow.domain.contracts import RANK, PageFetched, Status, Streams, UrlSubmitted
from newsflow.runtime.delivery import DeadLetters, ensure_groups, trim_acknowledged
from newsflow.settings import Settings
from newsflow.adapters.store import ArticleStore
from newsflow.domain.urls import article_id, canonical_url
from newsflow.runtime.worker import StageSpec, Worker, build_worker
from tests.support.apps import running, wait_for

pytestmark = pytest.mark.integration


class ToyFetcher:
    """A fetcher stage whose 'fetch' is a behaviour chosen by the URL path."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def spec(self) -> StageSpec:
        def make_handler(w: Worker) -> Any:
            async def handle(body: UrlSubmitted) -> None:
                canonical = canonical_url(body.url)
                self.calls[canonical] = self.calls.get(canonical, 0) + 1
                intake = await w.store.accept(
                    canonical=canonical, submitted_url=body.url, submitted_by="test",
                    refresh=body.refresh, entry_id=f"{canonical}#{self.calls[canonical]}"
                    if "poison" in canonical else canonical,
                )
                if "poison" in canonical:
                    raise RuntimeError("this page always breaks the handler")
                if "slow" in canonical and self.calls[canonical] == 1:
                    await asyncio.sleep(30)  # longer than the handler timeout
                await w.store.save_stage(
                    intake.article_id, intake.generation, Status.FETCHED, {"status": "ok"}
                )
                await w.publish(
                    PageFetched(article_id=intake.article_id, generation=intake.generation),
                    w.streams.fetched,
                )

            return handle

        return StageSpec(service="fetcher", stage=Status.FETCHED, make_handler=make_handler)


async def test_messages_published_before_any_worker_are_processed(
    settings: Settings, redis: Redis, store: ArticleStore
) -> None:
    streams = Streams(settings.stream_prefix)
    await ensure_groups(redis, streams)
    await redis.xadd(streams.urls, {"url": "http://127.0.0.1:9/early"})
    toy = ToyFetcher()
    app = build_worker(toy.spec(), settings)
    async with running(app):
        aid = article_id(canonical_url("http://127.0.0.1:9/early"))

        async def fetched() -> bool:
            doc = await store.articles.find_one({"_id": aid})
            return bool(doc and doc["status"] == "fetched")

        await wait_for(fetched)
        assert await redis.xlen(streams.fetched) == 1


async def test_poison_and_malformed_messages_are_dead_lettered(
    settings: Settings, redis: Redis, store: ArticleStore
) -> None:
    streams = Streams(settings.stream_prefix)
    toy = ToyFetcher()
    app = build_worker(toy.spec(), settings)
    async with running(app):
        await redis.xadd(streams.urls, {"nourl": "x"})  # fails validation
        await redis.xadd(streams.urls, {"url": "ftp://example.org/file"})  # invalid URL
        await redis.xadd(streams.urls, {"url": "http://127.0.0.1:9/poison"})
        dead = DeadLetters(redis, streams)

        async def three_dead() -> bool:
            return len(await dead.list()) == 3

        await wait_for(three_dead, timeout=40)
        letters = {e["fields"]: e for _, e in await dead.list()}
        invalid = letters[json.dumps({"nourl": "x"})]
        assert invalid["error"].startswith("invalid message") and invalid["deliveries"] == "1"
        assert "not http or https" in letters[json.dumps({"url": "ftp://example.org/file"})]["error"]
        poison = letters[json.dumps({"url": "http://127.0.0.1:9/poison"})]
        assert poison["deliveries"] == str(settings.max_deliveries)
        assert "this page always breaks the handler" in poison["error"]
        assert toy.calls[canonical_url("http://127.0.0.1:9/poison")] == settings.max_deliveries
        # nothing stays pending, and the counts are visible
        assert (await redis.xpending(streams.urls, "fetcher"))["pending"] == 0
        assert int(await redis.hget(streams.stats, "dead:fetcher")) == 3
    # with the worker stopped, a retry puts them back on their stream
    requeued = await dead.requeue()
    assert len(requeued) == 3 and await redis.xlen(streams.dead) == 0
    assert await redis.xlen(streams.urls) >= 3


async def test_handler_timeout_and_reclaim_after_a_crash(
    settings: Settings, redis: Redis, store: ArticleStore
) -> None:
    streams = Streams(settings.stream_prefix)
    await ensure_groups(redis, streams)
    # A consumer that read an entry and died: the entry sits in its pending list.
    await redis.xadd(streams.urls, {"url": "http://127.0.0.1:9/orphan"})
    got = await redis.xreadgroup("fetcher", "dead-consumer", {streams.urls: ">"}, count=1)
    assert got
    toy = ToyFetcher()
    app = build_worker(toy.spec(), settings)
    async with running(app):
        await redis.xadd(streams.urls, {"url": "http://127.0.0.1:9/slow"})
        ids = [article_id(canonical_url(f"http://127.0.0.1:9/{p}")) for p in ("orphan", "slow")]

        async def both_fetched() -> bool:
            n = await store.articles.count_documents({"_id": {"$in": ids}, "status": "fetched"})
            return n == 2

        await wait_for(both_fetched, timeout=30)
        assert toy.calls[canonical_url("http://127.0.0.1:9/slow")] == 2  # timed out once
        async def nothing_pending() -> bool:
            return (await redis.xpending(streams.urls, "fetcher"))["pending"] == 0

        await wait_for(nothing_pending)


async def test_trim_spares_pending_entries(settings: Settings, redis: Redis) -> None:
    streams = Streams(settings.stream_prefix)
    await ensure_groups(redis, streams)
    ids = [await redis.xadd(streams.urls, {"url": f"http://127.0.0.1:9/{i}"}) for i in range(10)]
    rows = await redis.xreadgroup("fetcher", "c1", {streams.urls: ">"}, count=10)
    assert len(rows[0][1]) == 10
    await redis.xack(streams.urls, "fetcher", *ids[:3], *ids[5:])  # 3 and 4 stay pending
    removed = await trim_acknowledged(redis, streams.urls)
    assert removed == 3
    left = [i for i, _ in await redis.xrange(streams.urls)]
    assert left[0] == ids[3] and len(left) == 7
    await redis.xack(streams.urls, "fetcher", ids[3], ids[4])
    assert await trim_acknowledged(redis, streams.urls) == 7
    assert await redis.xlen(streams.urls) == 0


async def test_stale_messages_never_regress_an_article(store: ArticleStore) -> None:
    canonical = canonical_url("http://127.0.0.1:9/story?id=1")
    intake = await store.accept(
        canonical=canonical, submitted_url=canonical, submitted_by="t", refresh=False,
        entry_id="1-0",
    )
    aid = intake.article_id
    assert intake.new and intake.process
    assert await store.save_stage(aid, 1, Status.FETCHED, {"status": "ok"})
    assert await store.save_stage(aid, 1, Status.EXTRACTED, {"status": "ok", "text": "t"})
    # a redelivered fetch result must not overwrite the later stage
    assert not await store.save_stage(aid, 1, Status.FETCHED, {"status": "ok", "x": 1})
    doc = await store.get(aid[:10])
    assert doc["status"] == "extracted" and doc["progress"] == RANK[Status.EXTRACTED]
    # a duplicate submission is not processed, a redelivery of the same entry is
    dup = await store.accept(
        canonical=canonical, submitted_url=canonical, submitted_by="t", refresh=False,
        entry_id="2-0",
    )
    assert not dup.process and not dup.new
    again = await store.accept(
        canonical=canonical, submitted_url=canonical, submitted_by="t", refresh=False,
        entry_id="1-0",
    )
    assert again.process
    # a refresh starts a new generation; messages of the old one are stale
    fresh = await store.accept(
        canonical=canonical, submitted_url=canonical, submitted_by="t", refresh=True,
        entry_id="3-0",
    )
    assert fresh.process and fresh.generation == 2
    assert not await store.save_stage(aid, 1, Status.TRANSLATED, {"status": "skipped"})
    assert await store.save_stage(aid, 2, Status.FETCHED, {"status": "ok"})
    assert await store.articles.count_documents({"url": canonical}) == 1


async def test_short_ids_resolve_and_ambiguity_is_an_error(store: ArticleStore) -> None:
    from newsflow.adapters.store import AmbiguousId, ArticleNotFound

    for aid in ("abcdef0123" + "0" * 54, "abcdef9999" + "1" * 54):
        await store.articles.insert_one({"_id": aid, "short_id": aid[:10], "created_at": None})
    assert await store.resolve("abcdef0123") == "abcdef0123" + "0" * 54
    with pytest.raises(AmbiguousId, match="ambiguous"):
        await store.resolve("abcdef")
    with pytest.raises(ArticleNotFound):
        await store.resolve("0000000000")
    with pytest.raises(ArticleNotFound, match="hex"):
        await store.resolve("zz-not-hex")


async def test_a_dead_letter_keeps_the_details_and_the_article_only_the_kind(
    settings: Settings, redis: Redis, store: ArticleStore
) -> None:
    # An exception's text can name internal addresses and credentials (a database URL): the
    # article's failure, which anonymous readers see, says what kind of error it was; the
    # dead letter, which only operators read, keeps the details with credentials masked.
    def make_handler(w: Worker) -> Any:
        async def handle(body: PageFetched) -> None:
            raise RuntimeError("cannot reach mongodb://admin:s3cret@10.9.8.7:27017 (selection)")

        return handle

    spec = StageSpec(service="extractor", stage=Status.EXTRACTED, make_handler=make_handler)
    streams = Streams(settings.stream_prefix)
    url = "http://127.0.0.1:9/leaky"
    intake = await store.accept(canonical=canonical_url(url), submitted_url=url,
                                submitted_by="test", refresh=False, entry_id="1-0")
    await store.save_stage(intake.article_id, intake.generation, Status.FETCHED, {"status": "ok"})
    async with running(build_worker(spec, settings)):
        await redis.xadd(streams.fetched, {"article_id": intake.article_id,
                                           "generation": str(intake.generation), "url": url})
        dead = DeadLetters(redis, streams)

        async def one_dead() -> bool:
            return len(await dead.list()) == 1

        await wait_for(one_dead, timeout=40)
    [(_, letter)] = await dead.list()
    assert "mongodb://***@10.9.8.7:27017" in letter["error"] and "s3cret" not in letter["error"]
    doc = await store.articles.find_one({"_id": intake.article_id})
    assert doc is not None and doc["status"] == "failed"
    reason = doc["failure"]["reason"]
    assert reason == f"gave up after {settings.max_deliveries} deliveries: RuntimeError"
