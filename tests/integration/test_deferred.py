"""Deferred LLM work comes back: the sweep when the budget has room, `newsflow retry --deferred`."""

from __future__ import annotations

from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import (
    AnalysisResult,
    ExtractionResult,
    FetchResult,
    ImpactResult,
    TranslationResult,
)
from newsflow.domain.pipeline import (
    ANALYZER,
    EXTRACTED,
    EXTRACTOR,
    FETCHER,
    TRANSLATED,
    TRANSLATOR,
    Streams,
)
from newsflow.runtime.deferred import DeferredSweeper
from newsflow.settings import Settings
from tests.support.workers import run_newsflow


async def _deferred(store: ArticleStore, url: str, purpose: str) -> str:
    intake = await store.accept(
        canonical=url, submitted_url=url, submitted_by="test", refresh=False, entry_id=url
    )
    aid = intake.article_id
    await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"))
    await store.save_stage(
        aid, 1, EXTRACTOR, ExtractionResult(status="ok", text="文本", language="zh")
    )
    if purpose == "translation":
        translation = TranslationResult(status="deferred", error="the daily budget is spent")
    else:
        translation = TranslationResult(status="translated", text="Text")
    await store.save_stage(aid, 1, TRANSLATOR, translation)
    impact = (
        ImpactResult(status="deferred", reason="the daily impact budget is spent")
        if purpose == "impact"
        else ImpactResult(status="skipped", reason="no provider")
    )
    await store.save_stage(aid, 1, ANALYZER, AnalysisResult(status="ok", impact=impact))
    return aid


async def _entries(redis: Redis, stream: str) -> list[dict[str, str]]:
    return [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in await redis.xrange(stream)
    ]


async def test_the_sweep_requeues_deferred_work_only_when_the_budget_has_room(
    store: ArticleStore, redis: Redis, settings: Settings
) -> None:
    streams = Streams(settings.stream_prefix)
    translation = await _deferred(store, "https://a.example/1", "translation")
    impact = await _deferred(store, "https://a.example/2", "impact")
    spent = settings.model_copy(update={"translate_daily_tokens": 5, "impact_daily_tokens": 5})
    tight = ArticleStore.connect(spent)
    try:
        assert await tight.ledger.reserve("translation", 10) is None  # the day's budget goes
        assert await tight.ledger.reserve("impact", 10) is None
        assert await DeferredSweeper("translation", spent).sweep(tight, redis) == 0
        assert await DeferredSweeper("impact", spent).sweep(tight, redis) == 0
    finally:
        tight.close()
    assert (await store.get(translation)).status == "analyzed"
    assert await redis.exists(streams[EXTRACTED]) == 0

    # a new day, or a larger budget: the sweep sends each article back to its stage, once
    roomy = settings.model_copy(update={"translate_daily_tokens": 10**6})
    assert await DeferredSweeper("translation", roomy).sweep(store, redis) == 1
    assert await DeferredSweeper("translation", roomy).sweep(store, redis) == 0
    doc = await store.get(translation)
    assert (doc.status, doc.generation, doc.progress) == ("extracted", 2, 2)
    assert doc.model_extra is not None and doc.model_extra["resumed"]["purpose"] == "translation"
    [entry] = await _entries(redis, streams[EXTRACTED])
    assert (entry["article_id"], entry["generation"]) == (translation, "2")
    assert entry["url"] == "https://a.example/1"

    assert await DeferredSweeper("impact", settings).sweep(store, redis) == 1  # no budget set
    doc = await store.get(impact)
    assert (doc.status, doc.generation) == ("translated", 2)
    [entry] = await _entries(redis, streams[TRANSLATED])
    assert (entry["article_id"], entry["generation"]) == (impact, "2")


async def test_a_reopened_article_whose_message_was_lost_is_sent_again(
    store: ArticleStore, redis: Redis, settings: Settings
) -> None:
    streams = Streams(settings.stream_prefix)
    aid = await _deferred(store, "https://a.example/3", "translation")
    [(reopened, generation, _)] = await store.reopen_deferred("translation", 10, stuck_after=60)
    assert (reopened, generation) == (aid, 2)
    # the process died before publishing: nothing in the stream; a later sweep finds it
    assert await store.reopen_deferred("translation", 10, stuck_after=60) == []
    assert await redis.exists(streams[EXTRACTED]) == 0
    # a sweep once the claim is stale (here at once) sends it again, same generation
    stale = settings.model_copy(update={"claim_idle_ms": 0})
    assert await DeferredSweeper("translation", stale).sweep(store, redis) == 1
    [entry] = await _entries(redis, streams[EXTRACTED])
    assert (entry["article_id"], entry["generation"]) == (aid, "2")
    assert entry["url"] == "https://a.example/3"


async def test_newsflow_retry_deferred(
    settings: Settings, store: ArticleStore, redis: Redis
) -> None:
    aid = await _deferred(store, "https://a.example/5", "impact")
    run = run_newsflow(settings, "retry", "--deferred", timeout=60)
    assert run.returncode == 0, run.stderr
    assert "requeued 0 articles whose translation was deferred" in run.stdout
    assert "requeued 1 articles whose impact was deferred" in run.stdout
    assert (await store.get(aid)).status == "translated"
    streams = Streams(settings.stream_prefix)
    assert [e["article_id"] for e in await _entries(redis, streams[TRANSLATED])] == [aid]
