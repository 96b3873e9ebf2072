"""The reconciler against the real store (SecantusDB) and Redis.

An article is stranded when it waits at a status short of analyzed/failed and the message
that would move it on is gone (a crash lost it, or lost the result of the stage that
consumed it). A sweep publishes that message again, exactly once, and leaves alone every
article whose message is still pending or waiting in its stage's stream.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from newsflow import metrics
from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.domain.article import Article
from newsflow.domain.contracts import (
    AnalysisResult,
    ArticleTranslated,
    ExtractionResult,
    FetchResult,
    Status,
    TranslationResult,
)
from newsflow.domain.pipeline import (
    ANALYZER,
    EXTRACTOR,
    FETCHER,
    RANK,
    STAGES,
    TRANSLATOR,
    Done,
    Failed,
    Stage,
    StageOutcome,
    Streams,
)
from newsflow.domain.urls import article_id, canonical_url
from newsflow.runtime import reconcile
from newsflow.runtime.delivery import entry_fields
from newsflow.runtime.reconcile import count_reconciled, sweep, waiting_status
from newsflow.runtime.worker import StageContext, StageSpec, build_worker, no_resources
from newsflow.settings import Settings
from tests.support.apps import running, wait_for

pytestmark = pytest.mark.integration

RESULTS = {
    FETCHER: FetchResult(status="ok"),
    EXTRACTOR: ExtractionResult(status="ok", title="T", text="Some text.", language="en"),
    TRANSLATOR: TranslationResult(status="skipped"),
    ANALYZER: AnalysisResult(status="ok"),
}


def url(n: int) -> str:
    return canonical_url(f"http://127.0.0.1:9/story-{n}")


async def at(store: ArticleStore, status: Status, n: int = 0) -> str:
    """An article that reached ``status`` (its stages' results stored, as the workers do)."""
    u = url(n)
    intake = await store.accept(
        canonical=u, submitted_url=u, submitted_by="t", refresh=False, entry_id=f"{n + 1}-0"
    )
    aid = intake.article_id
    if status is Status.FAILED:
        assert await store.save_stage(aid, 1, FETCHER, RESULTS[FETCHER])
        assert await store.fail(aid, 1, EXTRACTOR, "not an article")
        return aid
    for stage in STAGES:
        if RANK[stage.status] > RANK[status]:
            break
        assert await store.save_stage(aid, 1, stage, RESULTS[stage])
    return aid


def later(settings: Settings) -> datetime:
    """A moment when every article stored now is older than ``reconcile_after``."""
    return datetime.now(UTC) + timedelta(seconds=settings.reconcile_after + 1)


async def stream_entries(redis: Redis, settings: Settings, stage: Stage) -> list[dict[str, str]]:
    assert stage.consumes is not None
    rows = await redis.xrange(Streams(settings.stream_prefix)[stage.consumes])
    return [entry_fields(fields) for _, fields in rows]


async def stat(redis: Redis, settings: Settings, key: str) -> int:
    return int(await redis.hget(Streams(settings.stream_prefix).stats, key) or 0)


@pytest.fixture
async def groups(settings: Settings, redis: Redis) -> None:
    await ensure_groups(redis, Streams(settings.stream_prefix))


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
async def test_a_stranded_article_at_each_status_is_driven_on(
    stage: Stage,
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    groups: None,
) -> None:
    status = waiting_status(stage)
    aid = await at(store, status)
    assert (await store.article(aid)).status is status  # type: ignore[union-attr]

    before = (
        metrics.registry.get_sample_value(
            "newsflow_reconciler_repairs_total", {"stage": stage.name}
        )
        or 0.0
    )
    done = await sweep(stage, redis=redis, store=store, settings=settings, now=later(settings))

    assert done.republished == [aid] and done.stale == 1 and done.waiting == 0
    [fields] = await stream_entries(redis, settings, stage)
    assert stage.consumes is not None
    message = stage.consumes.message.model_validate(fields)
    if stage is FETCHER:  # a known URL goes round again only as a refresh (a new generation)
        assert fields == {
            "schema_version": "1",
            "url": url(0),
            "refresh": "true",
            "submitted_by": "reconciler",
        }
    else:  # what the stage before publishes: the article's id, generation and URL
        assert fields == {
            "schema_version": "1",
            "article_id": aid,
            "generation": "1",
            "url": url(0),
        }
        assert isinstance(message, stage.consumes.message)
    assert await stat(redis, settings, f"reconciled:{stage.name}") == 1
    assert (
        metrics.registry.get_sample_value(
            "newsflow_reconciler_repairs_total", {"stage": stage.name}
        )
        == before + 1
    )  # and in the Prometheus metrics
    # a second sweep finds the message waiting in the stream: nothing more is sent
    again = await sweep(stage, redis=redis, store=store, settings=settings, now=later(settings))
    assert again.republished == [] and again.waiting == 1
    assert len(await stream_entries(redis, settings, stage)) == 1


async def test_an_article_with_a_pending_or_waiting_entry_is_left_alone(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    groups: None,
) -> None:
    streams = Streams(settings.stream_prefix)
    pending = await at(store, Status.TRANSLATED, 1)
    waiting = await at(store, Status.TRANSLATED, 2)
    stranded = await at(store, Status.TRANSLATED, 3)
    stream = streams[ANALYZER.consumes]  # type: ignore[index]
    # delivered to an analyzer that has not acknowledged it (working, or dead and to be
    # reclaimed) ...
    await redis.xadd(stream, ArticleTranslated(article_id=pending, url=url(1)).to_fields())  # type: ignore[arg-type]
    read = await redis.xreadgroup("analyzer", "busy-replica", {stream: ">"}, count=10)
    assert len(read[0][1]) == 1
    # ... and one not delivered yet
    await redis.xadd(stream, ArticleTranslated(article_id=waiting, url=url(2)).to_fields())  # type: ignore[arg-type]

    done = await sweep(ANALYZER, redis=redis, store=store, settings=settings, now=later(settings))

    assert done.stale == 3 and done.waiting == 2 and done.republished == [stranded]
    sent = [e["article_id"] for e in await stream_entries(redis, settings, ANALYZER)]
    assert sorted(sent) == sorted([pending, waiting, stranded])


async def test_a_queued_article_whose_url_waits_is_left_alone(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    groups: None,
) -> None:
    aid = await at(store, Status.QUEUED, 4)
    other = await at(store, Status.QUEUED, 5)
    # the URL entries carry no article id: the sweep canonicalises their URL
    await redis.xadd(
        Streams(settings.stream_prefix).urls, {"url": "http://127.0.0.1:9/story-4?utm_source=x#top"}
    )
    done = await sweep(FETCHER, redis=redis, store=store, settings=settings, now=later(settings))
    assert done.waiting == 1
    assert [
        article_id(canonical_url(e["url"])) for e in await stream_entries(redis, settings, FETCHER)
    ] == [aid, other]


async def test_recent_and_finished_articles_are_left_alone(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    groups: None,
) -> None:
    await at(store, Status.TRANSLATED, 6)
    await at(store, Status.ANALYZED, 7)
    await at(store, Status.FAILED, 8)
    for stage in STAGES:  # updated just now: not stranded (yet)
        done = await sweep(stage, redis=redis, store=store, settings=settings)
        assert done.stale == 0 and done.republished == []
    for stage in STAGES:  # later: only the translated one is stranded
        done = await sweep(stage, redis=redis, store=store, settings=settings, now=later(settings))
        assert len(done.republished) == (1 if stage is ANALYZER else 0)


async def test_a_busy_stage_is_not_swept(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    groups: None,
) -> None:
    settings = settings.model_copy(update={"reconcile_scan": 3})
    await at(store, Status.EXTRACTED, 9)
    stream = Streams(settings.stream_prefix)[TRANSLATOR.consumes]  # type: ignore[index]
    for n in range(4):  # a backlog longer than the scan cap, of other articles
        await redis.xadd(stream, {"article_id": article_id(url(100 + n)), "generation": "1"})
    done = await sweep(TRANSLATOR, redis=redis, store=store, settings=settings, now=later(settings))
    assert done.busy and done.republished == []
    assert len(await stream_entries(redis, settings, TRANSLATOR)) == 4
    # the same with a pending list longer than the cap
    await redis.xreadgroup("translator", "r", {stream: ">"}, count=10)
    done = await sweep(TRANSLATOR, redis=redis, store=store, settings=settings, now=later(settings))
    assert done.busy and done.republished == []


async def test_two_reconcilers_at_once_publish_once(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    groups: None,
) -> None:
    ids = [await at(store, Status.FETCHED, 20 + n) for n in range(12)]
    clients = [Redis.from_url(settings.redis_url) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(
                sweep(EXTRACTOR, redis=c, store=store, settings=settings, now=later(settings))
                for c in clients
            )
        )
    finally:
        for c in clients:
            await c.aclose()
    sent = [e["article_id"] for e in await stream_entries(redis, settings, EXTRACTOR)]
    assert sorted(sent) == sorted(ids)  # each once
    assert sum(len(r.republished) for r in results) == 12
    # the others were locked out, or came after and found every message waiting
    assert all(r.locked_out or r.waiting == 12 for r in results if not r.republished)
    assert await stat(redis, settings, "reconciled:extractor") == 12


async def test_count_reconciled_calls_the_hooks(
    settings: Settings,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, int]] = []
    monkeypatch.setattr(reconcile, "RECONCILED_HOOKS", [lambda stage, n: seen.append((stage, n))])
    await count_reconciled(redis, Streams(settings.stream_prefix), "analyzer", 3)
    assert seen == [("analyzer", 3)]
    assert await stat(redis, settings, "reconciled:analyzer") == 3


async def analyze_quickly(
    ctx: StageContext[None], article: Article, message: ArticleTranslated
) -> StageOutcome:
    if not article.url:
        return Failed("no URL")
    return Done(AnalysisResult(status="ok", word_count=2))


async def test_the_worker_sweeps_on_its_own(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    tmp_path: Path,
) -> None:
    """An article stranded at "translated" (its message lost) is analyzed by a running
    analyzer's own reconciler, with no sweep started by hand."""
    settings = settings.model_copy(
        update={
            "reconcile_after": 3.0,
            "reconcile_interval": 0.5,
            "heartbeat_file": str(tmp_path / "heartbeat"),
        }
    )
    aid = await at(store, Status.TRANSLATED, 30)
    spec = StageSpec(stage=ANALYZER, handle=analyze_quickly, open_resources=no_resources)
    async with running(build_worker(spec, settings)):

        async def analyzed() -> bool:
            article = await store.article(aid)
            return article is not None and article.status is Status.ANALYZED

        await wait_for(analyzed, 30, "the stranded article to be analyzed")
    assert await stat(redis, settings, "reconciled:analyzer") == 1
