"""A stage that finds its article missing or behind in MongoDB (a server that lost
acknowledged writes) submits the URL again or retries; it never drops the message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from newsflow.domain.contracts import Status, Streams
from newsflow.settings import Settings
from newsflow.adapters.store import ArticleStore
from newsflow.domain.urls import article_id, canonical_url
from newsflow.runtime.worker import ArticleMissing, Worker

pytestmark = pytest.mark.integration

URL = canonical_url("http://127.0.0.1:9/lost-story")
AID = article_id(URL)


@pytest.fixture
async def worker(settings: Settings, redis: Redis, store: ArticleStore) -> AsyncIterator[Worker]:
    w = Worker("translator", settings, Streams(settings.stream_prefix), redis)
    w.store = store
    yield w


async def resubmitted(redis: Redis, streams: Streams) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await redis.xrange(streams.urls)]


async def test_a_missing_article_is_submitted_again(worker: Worker, redis: Redis) -> None:
    assert await worker.claim(AID, 1, Status.TRANSLATED, url=URL) is None
    entries = await resubmitted(redis, worker.streams)
    assert len(entries) == 1
    assert entries[0][b"url"].decode() == URL and entries[0][b"refresh"] == b"true"
    assert entries[0][b"submitted_by"] == b"recovery:translator"
    assert int(await redis.hget(worker.streams.stats, "recovered:translator")) == 1


async def test_an_article_behind_the_message_is_submitted_again(
    worker: Worker, redis: Redis, store: ArticleStore
) -> None:
    # The article exists but its extraction result was lost: still at "fetched".
    await store.accept(canonical=URL, submitted_url=URL, submitted_by="t", refresh=False,
                       entry_id="1-0")
    assert await store.save_stage(AID, 1, Status.FETCHED, {"status": "ok"})
    assert await worker.claim(AID, 1, Status.TRANSLATED, url=URL) is None
    assert len(await resubmitted(redis, worker.streams)) == 1


async def test_the_fetcher_retries_instead(worker: Worker) -> None:
    with pytest.raises(ArticleMissing, match="missing or behind"):
        await worker.claim(AID, 1, Status.FETCHED, url=URL)


async def test_stale_and_current_messages(
    worker: Worker, redis: Redis, store: ArticleStore
) -> None:
    await store.accept(canonical=URL, submitted_url=URL, submitted_by="t", refresh=False,
                       entry_id="1-0")
    await store.accept(canonical=URL, submitted_url=URL, submitted_by="t", refresh=True,
                       entry_id="2-0")  # generation 2
    assert await store.save_stage(AID, 2, Status.FETCHED, {"status": "ok"})
    assert await store.save_stage(AID, 2, Status.EXTRACTED, {"status": "ok"})
    assert await worker.claim(AID, 1, Status.TRANSLATED, url=URL) is None  # stale
    doc = await worker.claim(AID, 2, Status.TRANSLATED, url=URL)  # current: work to do
    assert doc is not None and doc["generation"] == 2
    assert await resubmitted(redis, worker.streams) == []
