"""Dead-lettering while MongoDB is down: no dead letter until the article can be marked failed.

A poison message reaches its last delivery while the store is unreachable. Marking its
article failed cannot happen yet, so the entry must stay pending and come back, with no
dead letter written; once MongoDB is back it is dead-lettered exactly once and its article
says why, with the same reason as its dead letter. (Before, the dead letter was written
first and written again on every later delivery while the store stayed down.)
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.cli.embedded import Server, free_port, start_mongo
from newsflow.domain.article import Article
from newsflow.domain.contracts import FetchResult, PageFetched, Status
from newsflow.domain.pipeline import EXTRACTOR, FETCHED, FETCHER, StageOutcome, Streams
from newsflow.domain.urls import canonical_url
from newsflow.runtime.delivery import DeadLetters
from newsflow.runtime.worker import StageContext, StageSpec, build_worker, no_resources
from newsflow.settings import Settings
from tests.fault.harness import Servers
from tests.support.apps import running, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]


async def always_breaks(
    ctx: StageContext[None], article: Article, message: PageFetched
) -> StageOutcome:
    raise RuntimeError("this page always breaks the extractor")


def poison_spec() -> StageSpec[None, PageFetched]:
    return StageSpec(stage=EXTRACTOR, handle=always_breaks, open_resources=no_resources)


async def test_no_dead_letter_until_the_article_can_say_so(
    redis_server: Server, tmp_path: Path
) -> None:
    servers = Servers(tmp_path, redis_server.port, free_port())
    servers.mongo = start_mongo(tmp_path / "mongo", servers.mongo_port)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
        mongo_url=f"mongodb://127.0.0.1:{servers.mongo_port}",
        mongo_db=f"outage_{tag}",
        stream_prefix=f"outage-{tag}",
        consumer_name=f"outage-{tag}",
        claim_idle_ms=2_000,
        handler_timeout=1.5,
        poll_interval_ms=100,
        max_deliveries=2,
        heartbeat_file=str(tmp_path / "heartbeat"),
        _env_file=None,  # type: ignore[call-arg]
    )
    streams = Streams(settings.stream_prefix)
    redis = Redis.from_url(settings.redis_url)
    store = ArticleStore.connect(settings)
    try:
        await ensure_groups(redis, streams)
        url = canonical_url("http://127.0.0.1:9/poison-during-outage")
        intake = await store.accept(
            canonical=url, submitted_url=url, submitted_by="test", refresh=False, entry_id="1-0"
        )
        await store.save_stage(intake.article_id, 1, FETCHER, FetchResult(status="ok"))
        async with running(build_worker(poison_spec(), settings)):
            await asyncio.to_thread(servers.mongo.stop)
            await redis.xadd(streams[FETCHED], {"article_id": intake.article_id, "generation": "1"})

            async def retried_past_the_cap() -> bool:
                rows = await redis.xpending_range(
                    streams[FETCHED], "extractor", min="-", max="+", count=1
                )
                return bool(rows) and rows[0]["times_delivered"] > settings.max_deliveries

            # the last delivery failed, dead-lettering waited for MongoDB, the entry came back
            await wait_for(retried_past_the_cap, 60, "a delivery past max_deliveries")
            assert await redis.xlen(streams.dead) == 0

            await asyncio.to_thread(servers.restart_mongo, signal.SIGTERM, 0.0)

            async def dead_lettered() -> bool:
                pending = (await redis.xpending(streams[FETCHED], "extractor"))["pending"]
                return await redis.xlen(streams.dead) >= 1 and pending == 0

            await wait_for(dead_lettered, 60, "the dead letter once MongoDB is back")
        assert await redis.xlen(streams.dead) == 1
        article = await store.article(intake.article_id)
        assert article is not None and article.status is Status.FAILED
        assert article.failure is not None and article.failure.dead_letter is True
        # The reason is the last delivery's error: the handler's own, or the timeout of the
        # claim's read while MongoDB was still coming back. The dead letter keeps its details
        # (masked); the article, shown on public pages, says the exception's kind only, or all
        # of it for an error whose text we wrote (a handler timeout: `public_message`).
        [(_, letter)] = await DeadLetters(redis, streams).list()
        deliveries = int(letter["deliveries"])
        assert deliveries > settings.max_deliveries
        prefix = f"gave up after {deliveries} deliveries: "
        assert letter["error"].startswith(prefix)
        kind = letter["error"].removeprefix(prefix).split(":")[0]
        assert article.failure.reason in (prefix + kind, letter["error"])
    finally:
        store.close()
        await redis.aclose()
        if servers.mongo is not None:
            servers.mongo.stop()
