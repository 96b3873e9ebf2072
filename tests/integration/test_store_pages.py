"""Where the fetched page lives: on its article, written with the fetch result, read only by
the stage that reads it; pages that earlier versions kept in a collection of their own still
extract."""

from __future__ import annotations

import zlib

import pytest
from bson import Binary
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import FetchResult, PageFetched, Status
from newsflow.domain.pipeline import EXTRACTOR, FETCHER, TRANSLATOR, Streams
from newsflow.domain.urls import canonical_url
from newsflow.runtime.worker import StageContext, process
from newsflow.settings import Settings
from newsflow.stages.extraction import ExtractorPool
from services.extractor.handlers import extract
from tests.unit.test_extraction import EN_PARAGRAPHS, article_body, page

pytestmark = pytest.mark.integration

URL = canonical_url("http://127.0.0.1:9/pages/story")
HTML = page(article_body(EN_PARAGRAPHS, "Trams return"), title="Trams return")


async def queued(store: ArticleStore) -> str:
    intake = await store.accept(canonical=URL, submitted_url=URL, submitted_by="t",
                                refresh=False, entry_id="1-0")  # fmt: skip
    return intake.article_id


async def test_the_page_is_stored_with_the_fetch_result_and_read_only_when_asked(
    store: ArticleStore,
) -> None:
    aid = await queued(store)
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"), page=HTML)
    assert await store.load_page(aid) == (1, HTML)
    # What the reader, the command line and every stage but the extractor read: no page.
    for article in (await store.get(aid), (await store.find([aid]))[aid],
                    (await store.page()).items[0], await store.article(aid)):  # fmt: skip
        assert article is not None and article.page is None
        assert "page" not in article.document()
    # The extractor's claim loads it with the article; the translator's does not.
    claimed = await store.article(aid, EXTRACTOR.reads)
    assert claimed is not None and claimed.page is not None
    assert (claimed.page.generation, claimed.page.html) == (1, HTML)
    assert claimed.fetch is not None and claimed.generation == 1 and claimed.url == URL
    for_translator = await store.article(aid, TRANSLATOR.reads)
    assert for_translator is not None and for_translator.page is None
    assert for_translator.fetch is None  # not among the fields it reads
    assert for_translator.progress == 1 and for_translator.status is Status.FETCHED


async def test_a_page_stored_by_an_earlier_version_still_extracts(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    aid = await queued(store)
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok", final_url=URL))
    # Earlier versions wrote the page to <collection>_pages, apart from the article.
    pages = store._db[f"{settings.mongo_collection}_pages"]  # the old layout, as it was written
    await pages.insert_one({"_id": aid, "generation": 1,
                            "html_z": Binary(zlib.compress(HTML.encode(), 6))})  # fmt: skip
    assert await store.load_page(aid) == (1, HTML)
    pool = ExtractorPool(Settings(extract_processes=1, _env_file=None))  # type: ignore[call-arg]  # pydantic-settings' own keyword
    await pool.start()
    try:
        ctx = StageContext(EXTRACTOR, settings, Streams(settings.stream_prefix), redis, store, pool)
        await process(ctx, extract, PageFetched(article_id=aid, url=URL), "1-0")
    finally:
        await pool.aclose()
    article = await store.get(aid)
    assert article.status is Status.EXTRACTED and article.title == "Trams return"
