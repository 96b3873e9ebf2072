"""Delivery guarantees of the shared worker runtime, on a real Redis and SecantusDB.

A toy stage (no fetching) drives the real runtime: groups at 0, reclaim of a crashed
consumer's entries, dead letters for poison and malformed messages, trimming that spares
pending entries, and stale messages that never regress an article.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.domain.article import Article
from newsflow.domain.contracts import (
    ExtractionResult,
    FetchResult,
    PageFetched,
    Status,
    TranslationResult,
    UrlSubmitted,
)
from newsflow.domain.pipeline import (
    EXTRACTOR,
    FETCHED,
    FETCHER,
    RANK,
    TRANSLATOR,
    Done,
    StageOutcome,
    Streams,
)
from newsflow.domain.urls import article_id, canonical_url
from newsflow.runtime.delivery import DeadLetters, trim_acknowledged
from newsflow.runtime.worker import StageContext, StageSpec, build_worker, no_resources
from newsflow.settings import Settings
from tests.support.apps import running, wait_for
from tests.support.workers import run_newsflow

pytestmark = pytest.mark.integration


class ToyFetcher:
    """A fetcher stage whose 'fetch' is a behaviour chosen by the URL path; the runtime does
    the intake, the claim, storing the result and publishing, as for the real fetcher."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def fetch(
        self, ctx: StageContext[None], article: Article, message: UrlSubmitted
    ) -> StageOutcome:
        self.calls[article.url] = self.calls.get(article.url, 0) + 1
        if "poison" in article.url:
            raise RuntimeError("this page always breaks the handler")
        if "slow" in article.url and self.calls[article.url] == 1:
            await asyncio.sleep(30)  # longer than the handler timeout
        return Done(FetchResult(status="ok"))

    def spec(self) -> StageSpec[None, UrlSubmitted]:
        return StageSpec(stage=FETCHER, handle=self.fetch, open_resources=no_resources)


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
            article = await store.article(aid)
            return article is not None and article.status is Status.FETCHED

        await wait_for(fetched)
        assert await redis.xlen(streams[FETCHED]) == 1


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
        assert (
            "not http or https" in letters[json.dumps({"url": "ftp://example.org/file"})]["error"]
        )
        poison = letters[json.dumps({"url": "http://127.0.0.1:9/poison"})]
        assert poison["deliveries"] == str(settings.max_deliveries)
        assert "this page always breaks the handler" in poison["error"]
        assert toy.calls[canonical_url("http://127.0.0.1:9/poison")] == settings.max_deliveries
        # nothing stays pending, and the counts are visible
        assert (await redis.xpending(streams.urls, "fetcher"))["pending"] == 0
        assert int(await redis.hget(streams.stats, "dead:fetcher")) == 3
    # with the worker stopped, a retry puts them back on their stream
    requeued = (await dead.requeue()).done
    assert len(requeued) == 3 and await redis.xlen(streams.dead) == 0
    assert await redis.xlen(streams.urls) >= 3


async def test_a_message_that_is_not_utf8_is_dead_lettered_byte_for_byte(
    settings: Settings, redis: Redis, store: ArticleStore
) -> None:
    streams = Streams(settings.stream_prefix)
    raw = {b"url": b"http://127.0.0.1:9/\xff\xfe", b"\xc3note": b"ok"}
    app = build_worker(ToyFetcher().spec(), settings)
    async with running(app):
        sent = await redis.xadd(streams.urls, raw)  # type: ignore[arg-type]  # bytes fields
        dead = DeadLetters(redis, streams)

        async def one_dead() -> bool:
            return len(await dead.list()) == 1

        await wait_for(one_dead, timeout=40)
        [(_, letter)] = await dead.list()
        assert letter["error"].startswith("invalid message")
        assert "\ufffd" in letter["fields"]  # the text form, for people
    # a retry sends the bytes as they came, not the text form
    [(_, new_id)] = (await dead.requeue()).done
    [(_, fields)] = await redis.xrange(streams.urls, min=new_id, max=new_id)
    assert fields == raw and new_id != sent


async def test_a_dead_letter_edited_beyond_reading_is_kept_and_the_others_requeued(
    settings: Settings, redis: Redis
) -> None:
    streams = Streams(settings.stream_prefix)
    dead = DeadLetters(redis, streams)
    good = {"url": "http://127.0.0.1:9/good"}
    await dead.add(stream=streams.urls, group="fetcher", entry_id="1-0", fields=good,
                   error="x", deliveries=1)  # fmt: skip
    broken = (
        await redis.xadd(
            streams.dead, {"stream": streams.urls, "fields": "{}", "fields_b64": '{"%%": "!!"}'}
        )
    ).decode()
    requeued, kept = await dead.requeue()
    assert [d for d, _ in requeued] != [] and all(d != broken for d, _ in requeued)
    assert kept == [broken]
    [(_, fields)] = await redis.xrange(streams.urls)
    assert fields == {k.encode(): v.encode() for k, v in good.items()}
    assert [i for i, _ in await dead.list()] == [broken]  # kept, for a person to look at
    # the command says which it kept
    run = run_newsflow(settings, "retry", timeout=60)
    assert run.returncode == 0, run.stderr
    assert "0 requeued" in run.stderr and f"kept {broken}: its stored fields" in run.stderr


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
            found = await store.find(ids)
            return [a.status for a in found.values()] == [Status.FETCHED] * 2

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
        canonical=canonical,
        submitted_url=canonical,
        submitted_by="t",
        refresh=False,
        entry_id="1-0",
    )
    aid = intake.article_id
    assert intake.process and intake.article is not None and intake.article.submissions == 1
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"))
    assert await store.save_stage(aid, 1, EXTRACTOR, ExtractionResult(status="ok", text="t"))
    # a redelivered fetch result must not overwrite the later stage
    assert not await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok", attempts=2))
    article = await store.get(aid[:10])
    assert article.status is Status.EXTRACTED and article.progress == RANK[Status.EXTRACTED]
    assert article.fetch is not None and article.fetch.attempts == 1
    # a duplicate submission is not processed, a redelivery of the same entry is
    dup = await store.accept(
        canonical=canonical,
        submitted_url=canonical,
        submitted_by="t",
        refresh=False,
        entry_id="2-0",
    )
    assert not dup.process
    again = await store.accept(
        canonical=canonical,
        submitted_url=canonical,
        submitted_by="t",
        refresh=False,
        entry_id="1-0",
    )
    assert again.process
    # a refresh starts a new generation; messages of the old one are stale
    fresh = await store.accept(
        canonical=canonical,
        submitted_url=canonical,
        submitted_by="t",
        refresh=True,
        entry_id="3-0",
    )
    assert fresh.process and fresh.generation == 2
    assert not await store.save_stage(aid, 1, TRANSLATOR, TranslationResult(status="skipped"))
    assert await store.save_stage(aid, 2, FETCHER, FetchResult(status="ok"))
    assert (await store.get(aid)).generation == 2 and await store.status_counts() == {"fetched": 1}


async def test_copies_submitted_at_once_are_processed_once(store: ArticleStore) -> None:
    # Two fetchers taking two copies of one URL at the same moment: an upsert's "there was
    # nothing before" was true for both on SecantusDB in 8 of 30 tries (outside review), and
    # both copies went through every stage. The insert's unique _id decides now.
    for n in range(30):
        canonical = canonical_url(f"https://race.example/{n}")
        intakes = await asyncio.gather(
            *(
                store.accept(canonical=canonical, submitted_url=canonical, submitted_by=who,
                             refresh=False, entry_id=f"{n}-{i}")
                for i, who in enumerate(("a", "b"))
            )
        )  # fmt: skip
        assert sorted(i.process for i in intakes) == [False, True], n
        article = await store.get(intakes[0].article_id)
        assert article.submissions == 2 and sorted(article.submitted_by) == ["a", "b"]


async def test_short_ids_resolve_and_ambiguity_is_an_error(store: ArticleStore) -> None:
    from newsflow.adapters.store import AmbiguousId, ArticleNotFound

    await store.import_documents(
        {"_id": aid, "short_id": aid[:10], "created_at": None}
        for aid in ("abcdef0123" + "0" * 54, "abcdef9999" + "1" * 54)
    )
    assert await store.resolve("abcdef0123") == "abcdef0123" + "0" * 54
    # a prefix longer than a short id, and one whose range ends at the last hex digit
    assert await store.resolve("abcdef99991") == "abcdef9999" + "1" * 54
    await store.import_documents([{"_id": "f" * 64, "short_id": "f" * 10, "created_at": None}])
    assert await store.resolve("ffff") == "f" * 64
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
    async def handle(
        ctx: StageContext[None], article: Article, message: PageFetched
    ) -> StageOutcome:
        raise RuntimeError("cannot reach mongodb://admin:s3cret@10.9.8.7:27017 (selection)")

    spec = StageSpec(stage=EXTRACTOR, handle=handle, open_resources=no_resources)
    streams = Streams(settings.stream_prefix)
    url = "http://127.0.0.1:9/leaky"
    intake = await store.accept(
        canonical=canonical_url(url),
        submitted_url=url,
        submitted_by="test",
        refresh=False,
        entry_id="1-0",
    )
    await store.save_stage(intake.article_id, intake.generation, FETCHER, FetchResult(status="ok"))
    async with running(build_worker(spec, settings)):
        await redis.xadd(
            streams[FETCHED],
            {"article_id": intake.article_id, "generation": str(intake.generation), "url": url},
        )
        dead = DeadLetters(redis, streams)

        async def one_dead() -> bool:
            return len(await dead.list()) == 1

        await wait_for(one_dead, timeout=40)
    [(_, letter)] = await dead.list()
    assert "mongodb://***@10.9.8.7:27017" in letter["error"] and "s3cret" not in letter["error"]
    stored = await store.article(intake.article_id)
    assert stored is not None and stored.status is Status.FAILED and stored.failure is not None
    reason = stored.failure.reason
    assert reason == f"gave up after {settings.max_deliveries} deliveries: RuntimeError"


async def test_a_dead_letter_and_its_acknowledgement_are_one_write(
    settings: Settings, redis: Redis
) -> None:
    """Written in one MULTI/EXEC: a Redis that loses the acknowledgement in a crash loses the
    dead letter too, so a redelivered entry is never dead-lettered twice."""
    streams = Streams(settings.stream_prefix)
    await ensure_groups(redis, streams)
    stream = streams[FETCHED]
    entry = (await redis.xadd(stream, {"article_id": "x" * 64, "generation": "1"})).decode()
    await redis.xreadgroup("extractor", "c", {stream: ">"}, count=1)
    assert (await redis.xpending(stream, "extractor"))["pending"] == 1
    dead = DeadLetters(redis, streams)
    await dead.add(
        stream=stream,
        group="extractor",
        entry_id=entry,
        fields={"a": "b"},
        error="boom",
        deliveries=3,
        acknowledge=True,
    )
    assert (await redis.xpending(stream, "extractor"))["pending"] == 0
    assert await redis.xlen(streams.dead) == 1
    # the append-only file holds them as one block (once Redis has written it: with
    # everysec it may postpone the write while an fsync runs, see docs/reliability.md)
    folder = Path((await redis.config_get("dir"))["dir"])

    async def written_as_one_block() -> bool:
        text = "".join(p.read_text(errors="replace") for p in folder.glob("*.aof"))
        block = text[text.rfind("MULTI") :]
        return "XADD" in block and "XACK" in block and block.rstrip().endswith("EXEC")

    await wait_for(written_as_one_block, 10, "the transaction in the append-only file")
