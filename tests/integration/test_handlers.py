"""Each stage's handler against the real store (SecantusDB) and Redis, with no broker.

A message goes through :func:`newsflow.runtime.worker.process`, the protocol every worker
runs (intake, claim, the stage's work, store, publish), with the stage's real handler and
resources: success, failure reasons, stale generations, redeliveries after the stage was
stored (republish only) and articles MongoDB lost (submitted again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar, get_type_hints

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from newsflow.adapters.embeddings import EmbeddingsClient
from newsflow.adapters.providers import ChatProvider, translation_provider
from newsflow.adapters.store import ArticleStore
from newsflow.domain.article import Article
from newsflow.domain.contracts import (
    ArticleTranslated,
    ExtractionResult,
    FetchResult,
    Message,
    PageFetched,
    Status,
    TextExtracted,
    TranslationResult,
    UrlSubmitted,
)
from newsflow.domain.pipeline import (
    ANALYZED,
    ANALYZER,
    EXTRACTED,
    EXTRACTOR,
    FETCHED,
    FETCHER,
    TRANSLATED,
    TRANSLATOR,
    URLS,
    Done,
    Stage,
    StageOutcome,
    Stream,
    Streams,
)
from newsflow.domain.urls import article_id, canonical_url
from newsflow.runtime.deferred import DeferredSweeper, LLMResources
from newsflow.runtime.delivery import entry_fields
from newsflow.runtime.worker import ArticleMissing, Closable, Handler, StageContext, process
from newsflow.settings import Settings
from newsflow.stages.extraction import ExtractorPool, count_words
from newsflow.stages.fetching import PageFetcher
from services.analyzer.handlers import analyze
from services.analyzer.resources import AnalyzerResources
from services.extractor.handlers import extract
from services.fetcher.handlers import fetch
from services.translator.handlers import translate
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.llm_server import LLMServer
from tests.unit.test_extraction import EN_PARAGRAPHS, article_body, page

pytestmark = pytest.mark.integration

R = TypeVar("R")
M = TypeVar("M", bound=Message)
CORPUS = Corpus()
ENGLISH = CORPUS.ids("scrapinghub")[0]
URL = canonical_url("http://127.0.0.1:9/lost-story")
AID = article_id(URL)


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[CorpusServer]:
    with CorpusServer(CORPUS) as server:
        yield server


def llm_resources(provider: ChatProvider | None, settings: Settings) -> LLMResources:
    """The translator's and analyzer's resources, their sweep of deferred work not started."""
    return LLMResources(provider, DeferredSweeper("translation", settings))


def context(
    stage: Stage, settings: Settings, redis: Redis, store: ArticleStore, resources: R
) -> StageContext[R]:
    return StageContext(stage, settings, Streams(settings.stream_prefix), redis, store, resources)


async def entries(redis: Redis, settings: Settings, stream: Stream) -> list[dict[str, str]]:
    rows = await redis.xrange(Streams(settings.stream_prefix)[stream])
    return [entry_fields(fields) for _, fields in rows]


async def counter(redis: Redis, settings: Settings, name: str) -> int:
    return int(await redis.hget(Streams(settings.stream_prefix).stats, name) or 0)


async def stored(store: ArticleStore, aid: str) -> Article:
    article = await store.article(aid)
    assert article is not None
    return article


async def queued(store: ArticleStore, url: str = URL, entry_id: str = "1-0") -> str:
    intake = await store.accept(
        canonical=url, submitted_url=url, submitted_by="t", refresh=False, entry_id=entry_id
    )
    return intake.article_id


async def extracted(
    store: ArticleStore,
    text: str,
    *,
    title: str = "Apple shares rise",
    language: str = "en",
    url: str = URL,
    published: datetime | None = None,
) -> str:
    """An article as the extractor leaves it."""
    aid = await queued(store, url)
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"))
    result = ExtractionResult(
        status="ok",
        title=title,
        text=text,
        language=language,
        word_count=len(text.split()),
        published=published,
    )
    assert await store.save_stage(aid, 1, EXTRACTOR, result)
    return aid


def never_called(ctx: StageContext[Any], article: Article, message: Message) -> Any:
    raise AssertionError("the stage's work was done again")


# --- fetcher -----------------------------------------------------------------------------------


@pytest.fixture
async def fetcher(settings: Settings, corpus_server: CorpusServer) -> AsyncIterator[PageFetcher]:
    client = PageFetcher(settings.model_copy(update={"fetch_allowed_ports": [corpus_server.port]}))
    yield client
    await client.aclose()


async def test_fetcher_stores_the_page_and_hands_it_on(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    fetcher: PageFetcher,
    corpus_server: CorpusServer,
) -> None:
    ctx = context(FETCHER, settings, redis, store, fetcher)
    url = corpus_server.url("scrapinghub", ENGLISH)
    await process(ctx, fetch, UrlSubmitted(url=url + "?utm_source=x"), "1-0")
    aid = article_id(canonical_url(url))
    article = await stored(store, aid)
    assert article.status is Status.FETCHED and article.url == url
    assert article.fetch is not None and article.fetch.http_status == 200
    page_ = await store.load_page(aid)
    assert page_ is not None and page_[0] == 1 and "<html" in page_[1].lower()
    assert await entries(redis, settings, FETCHED) == [
        {"schema_version": "1", "article_id": aid, "generation": "1", "url": url}
    ]
    # the same URL from another entry: a duplicate, no second fetch
    await process(ctx, never_called, UrlSubmitted(url=url), "2-0")
    assert await counter(redis, settings, "duplicate:fetcher") == 1
    assert len(await entries(redis, settings, FETCHED)) == 1
    # a redelivery of the first entry after the crash: stored already, republished only
    await process(ctx, never_called, UrlSubmitted(url=url), "1-0")
    assert len(await entries(redis, settings, FETCHED)) == 2
    assert (await stored(store, aid)).submissions == 2  # a redelivery is not a submission


async def test_fetcher_records_why_a_page_could_not_be_fetched(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    fetcher: PageFetcher,
    corpus_server: CorpusServer,
) -> None:
    ctx = context(FETCHER, settings, redis, store, fetcher)
    missing = corpus_server.url("zh_cwced", "no-such-page")
    await process(ctx, fetch, UrlSubmitted(url=missing), "1-0")
    article = await stored(store, article_id(canonical_url(missing)))
    assert article.status is Status.FAILED and article.failure_text == (
        "failed at fetch: HTTP 404 Not Found"
    )
    assert article.fetch is not None and article.fetch.http_status == 404
    assert await entries(redis, settings, FETCHED) == []
    assert await counter(redis, settings, "failed:fetcher") == 1
    # the fetcher never resubmits: a lost article makes its message come back instead
    with pytest.raises(ArticleMissing, match="missing or behind"):
        await ctx.claim(AID, 1, URL)


# --- extractor ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[ExtractorPool]:
    extractor = ExtractorPool(Settings(extract_processes=1, _env_file=None))  # type: ignore[call-arg]  # pydantic-settings' own keyword
    await extractor.start()
    yield extractor
    await extractor.aclose()


async def fetched_page(store: ArticleStore, html: str) -> str:
    aid = await queued(store)
    result = FetchResult(status="ok", final_url=URL)
    assert await store.save_stage(aid, 1, FETCHER, result, page=html)  # as the fetcher does
    return aid


async def test_extractor_stores_the_text_and_hands_it_on(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    pool: ExtractorPool,
) -> None:
    ctx = context(EXTRACTOR, settings, redis, store, pool)
    html = page(article_body(EN_PARAGRAPHS, "Trams return"), title="Trams return")
    aid = await fetched_page(store, html)
    await process(ctx, extract, PageFetched(article_id=aid, url=URL), "1-0")
    article = await stored(store, aid)
    assert article.status is Status.EXTRACTED and article.title == "Trams return"
    assert article.text is not None and EN_PARAGRAPHS[0] in article.text
    assert article.word_count == count_words(article.text) > 100
    assert [e["article_id"] for e in await entries(redis, settings, EXTRACTED)] == [aid]
    # its story, stored with the text, and the story's summary
    assert article.story is not None and article.story.id == aid and article.story.first
    summary = await store.stories.summary(aid)
    assert summary is not None and summary.members == 1


async def test_the_extract_handler_alone_returns_its_outcome_and_stores_no_result(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    pool: ExtractorPool,
) -> None:
    """Called directly with a claimed article (no runtime, no broker): the handler is the
    stage's work only; storing the result and publishing are the runtime's."""
    ctx = context(EXTRACTOR, settings, redis, store, pool)
    html = page(article_body(EN_PARAGRAPHS, "Trams return"), title="Trams return")
    aid = await fetched_page(store, html)
    claimed = await stored(store, aid)
    outcome = await extract(ctx, claimed, PageFetched(article_id=aid, url=URL))
    assert isinstance(outcome, Done) and isinstance(outcome.result, ExtractionResult)
    assert outcome.result.title == "Trams return" and outcome.result.text is not None
    assert EN_PARAGRAPHS[0] in outcome.result.text
    assert outcome.fields["story"].id == aid  # the story link, for the runtime's one write
    after = await stored(store, aid)
    assert after.status is Status.FETCHED and after.extraction is None
    assert await entries(redis, settings, EXTRACTED) == []


async def test_extractor_stops_a_paywalled_page_with_the_evidence(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    pool: ExtractorPool,
) -> None:
    ctx = context(EXTRACTOR, settings, redis, store, pool)
    html = page(
        f"<article><h1>Markets</h1><p>{EN_PARAGRAPHS[1]}</p>"
        '<div class="paywall"><p>Subscribe to continue reading this article.</p></div></article>',
        title="Markets",
        json_ld={"@type": "NewsArticle", "headline": "Markets", "isAccessibleForFree": "False"},
    )
    aid = await fetched_page(store, html)
    await process(ctx, extract, PageFetched(article_id=aid, url=URL), "1-0")
    article = await stored(store, aid)
    assert article.status is Status.FAILED and article.failed is not None
    assert (article.failed.reason or "").startswith("not processed further: page is paywalled (")
    assert "JSON-LD isAccessibleForFree false" in (article.failed.reason or "")
    assert article.extraction is not None and article.extraction.status == "paywalled"
    assert await counter(redis, settings, "paywalled:extractor") == 1
    assert await entries(redis, settings, EXTRACTED) == []
    # a redelivery: the extractor already failed it, nothing is done again
    await process(ctx, never_called, PageFetched(article_id=aid, url=URL), "1-0")


async def test_extractor_without_the_fetched_page(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    pool: ExtractorPool,
) -> None:
    aid = await queued(store)
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"))
    ctx = context(EXTRACTOR, settings, redis, store, pool)
    await process(ctx, extract, PageFetched(article_id=aid, url=URL), "1-0")
    assert (await stored(store, aid)).failure_text == (
        "failed at extraction: the fetched page is missing from the store"
    )


# --- translator --------------------------------------------------------------------------------


async def test_translator_without_a_provider_and_with_a_failing_one(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    text = "苹果公司股价大涨。投资者很高兴。"
    aid = await extracted(store, text, title="苹果股价大涨", language="zh")
    ctx: StageContext[LLMResources] = context(
        TRANSLATOR, settings, redis, store, llm_resources(None, settings)
    )
    await process(ctx, translate, TextExtracted(article_id=aid, url=URL), "1-0")
    article = await stored(store, aid)
    assert article.status is Status.TRANSLATED and article.translation is not None
    assert article.translation.status == "skipped" and article.title == "苹果股价大涨"
    assert [e["article_id"] for e in await entries(redis, settings, TRANSLATED)] == [aid]

    # a provider that refuses the key: recorded as failed, the article still goes on
    other = await extracted(store, text, title="苹果股价大涨", language="zh", url=URL + "-2")
    with LLMServer(api_key="right-key") as llm:
        failing = settings.model_copy(
            update={
                "translate_provider": "openai",
                "translate_base_url": llm.url,
                "translate_model": "stand-in",
                "translate_api_key": SecretStr("wrong-key"),
            }
        )
        provider = translation_provider(failing)
        try:
            ctx = context(TRANSLATOR, failing, redis, store, llm_resources(provider, failing))
            await process(ctx, translate, TextExtracted(article_id=other, url=URL + "-2"), "2-0")
        finally:
            if isinstance(provider, Closable):
                await provider.aclose()
    article = await stored(store, other)
    assert article.status is Status.TRANSLATED and article.translation is not None
    assert article.translation.status == "failed"
    assert "API key was refused" in (article.translation.error or "")
    assert article.title == "苹果股价大涨" and article.original_title is None
    assert await counter(redis, settings, "translation_failed:translator") == 1
    assert len(await entries(redis, settings, TRANSLATED)) == 2


# --- analyzer ----------------------------------------------------------------------------------


async def test_analyzer_stores_the_analysis_and_finds_earlier_articles(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    ctx: StageContext[AnalyzerResources] = context(
        ANALYZER,
        settings,
        redis,
        store,
        AnalyzerResources(None, DeferredSweeper("impact", settings)),
    )
    earlier_url, url = URL + "-earlier", URL + "-later"
    text = "Apple (NASDAQ: AAPL) shares rose after the iPhone launch; Apple investors cheered."
    ids = []
    for u, published in ((earlier_url, datetime(2026, 1, 1, tzinfo=UTC)), (url, None)):
        aid = await extracted(store, text, url=u, published=published)
        assert await store.save_stage(aid, 1, TRANSLATOR, TranslationResult(status="not_needed"))
        ids.append(aid)
    for aid, u in zip(ids, (earlier_url, url), strict=True):
        await process(ctx, analyze, ArticleTranslated(article_id=aid, url=u), aid)
    later = await stored(store, ids[1])
    assert later.status is Status.ANALYZED and later.analysis is not None
    assert "AAPL" in later.symbols and later.analysis.impact is not None
    assert later.analysis.impact.status == "skipped"
    assert [s.id for s in later.analysis.similar] == [ids[0]]  # published before
    # indexed for later articles, the entry stored with the analysis
    assert later.similar_index is not None and "aapl" in later.similar_index.terms
    assert later.analysis.similar[0].title == "Apple shares rise"
    # the analyzer emits ArticleAnalyzed (for the notifier); a redelivery republishes it only
    assert [e["article_id"] for e in await entries(redis, settings, ANALYZED)] == ids
    await process(ctx, never_called, ArticleTranslated(article_id=ids[1], url=url), "x")
    analyzed = await entries(redis, settings, ANALYZED)
    assert [e["article_id"] for e in analyzed] == [*ids, ids[1]]
    assert analyzed[0] == {
        "schema_version": "1",
        "article_id": ids[0],
        "generation": "1",
        "url": earlier_url,
        "trigger": "analyzed",
    }


async def test_the_analyzer_finds_semantic_neighbours_with_an_embeddings_provider(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    """With an embeddings provider on its resources, the analyzer stores each article's
    vector and finds the earlier one by it too; the vector search is opened once, then kept."""
    with LLMServer(api_key="embed-key") as llm:
        embedder = EmbeddingsClient(llm.url, "stand-in-embed", "embed-key")
        resources = AnalyzerResources(None, DeferredSweeper("impact", settings), embedder=embedder)
        ctx = context(ANALYZER, settings, redis, store, resources)
        text = "Apple (NASDAQ: AAPL) shares rose after the iPhone launch; Apple investors cheered."
        ids = []
        for n, published in ((1, datetime(2026, 1, 1, tzinfo=UTC)), (2, None)):
            aid = await extracted(store, text, url=f"{URL}-semantic-{n}", published=published)
            assert await store.save_stage(
                aid, 1, TRANSLATOR, TranslationResult(status="not_needed")
            )
            ids.append(aid)
        for aid, n in zip(ids, (1, 2), strict=True):
            message = ArticleTranslated(article_id=aid, url=f"{URL}-semantic-{n}")
            await process(ctx, analyze, message, aid)
            if n == 1:
                search = resources.vectors
                assert search is not None
        assert resources.vectors is search  # opened once
        later = await stored(store, ids[1])
        assert later.analysis is not None
        [found] = later.analysis.similar
        assert found.id == ids[0] and found.method == "both" and found.semantic is not None
        await embedder.aclose()


# --- the claim: stale, lost and behind ---------------------------------------------------------


async def test_stale_messages_do_nothing(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    aid = await extracted(store, "Some text.")
    await store.accept(
        canonical=URL, submitted_url=URL, submitted_by="t", refresh=True, entry_id="2-0"
    )  # generation 2
    ctx = context(TRANSLATOR, settings, redis, store, None)
    await process(ctx, never_called, TextExtracted(article_id=aid, generation=1, url=URL), "1-0")
    article = await stored(store, aid)
    assert article.generation == 2 and article.status is Status.QUEUED
    assert await redis.keys(f"{settings.stream_prefix}:*") == []


async def test_a_missing_article_is_submitted_again(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    ctx = context(TRANSLATOR, settings, redis, store, None)
    await process(ctx, never_called, TextExtracted(article_id=AID, url=URL), "1-0")
    urls = await entries(redis, settings, URLS)
    assert urls == [
        {
            "schema_version": "1",
            "url": URL,
            "refresh": "true",
            "submitted_by": "recovery:translator",
        }
    ]
    assert await counter(redis, settings, "recovered:translator") == 1


async def test_a_missing_article_is_not_resubmitted_under_another_url(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    # A hand-written message naming a missing article and some other URL (outside review):
    # the URL is not this article's, so nothing is submitted; the message is retried, then
    # dead-lettered with the reason.
    ctx = context(TRANSLATOR, settings, redis, store, None)
    other = "https://elsewhere.example/ghost"
    with pytest.raises(ArticleMissing, match="the message's URL is not this article's"):
        await process(ctx, never_called, TextExtracted(article_id=AID, url=other), "1-0")
    assert await entries(redis, settings, URLS) == []


async def test_an_article_behind_the_message_is_submitted_again(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    # The article exists but its extraction result was lost: still at "fetched".
    aid = await queued(store)
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"))
    ctx = context(TRANSLATOR, settings, redis, store, None)
    await process(ctx, never_called, TextExtracted(article_id=aid, url=URL), "1-0")
    assert len(await entries(redis, settings, URLS)) == 1
    assert (await stored(store, aid)).status is Status.FETCHED  # untouched until it comes back


def test_handlers_match_the_declared_messages() -> None:
    handlers: list[tuple[Stage, Handler[Any, Any]]] = [
        (FETCHER, fetch),
        (EXTRACTOR, extract),
        (TRANSLATOR, translate),
        (ANALYZER, analyze),
    ]
    for stage, handler in handlers:
        assert stage.consumes is not None
        assert get_type_hints(handler)["message"] is stage.consumes.message, stage.name


async def forget_everything(
    ctx: StageContext[Any], article: Article, message: Message
) -> StageOutcome:
    """A stage during which MongoDB loses the article (a crash with a lax write concern)."""
    await ctx.store.drop()
    return Done(TranslationResult(status="skipped"))


async def test_an_article_lost_while_the_stage_worked_is_submitted_again(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    aid = await extracted(store, "Some text.")
    ctx = context(TRANSLATOR, settings, redis, store, None)
    await process(ctx, forget_everything, TextExtracted(article_id=aid, url=URL), "1-0")
    assert await entries(redis, settings, TRANSLATED) == []  # nothing stored, nothing sent on
    assert [e["url"] for e in await entries(redis, settings, URLS)] == [URL]
    # the fetcher has no URL to resubmit to but its own stream: its message is retried
    fetch_ctx = context(FETCHER, settings, redis, store, None)
    with pytest.raises(ArticleMissing):
        await process(fetch_ctx, forget_everything, UrlSubmitted(url=URL + "-2"), "2-0")


async def lose_the_extraction(
    ctx: StageContext[Any], article: Article, message: Message
) -> StageOutcome:
    """A stage during which MongoDB loses the result it worked from (the extraction), as a
    crash of a server that acknowledged it without journaling does."""
    doc = article.document()
    doc.pop("extraction", None)
    doc |= {"status": Status.FETCHED.value, "progress": 1}
    await ctx.store.drop()
    await ctx.store.import_documents([doc])
    return Done(TranslationResult(status="skipped"))


async def test_a_stage_never_builds_on_an_article_that_lost_the_stage_before(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
) -> None:
    aid = await extracted(store, "Some text.")
    ctx = context(TRANSLATOR, settings, redis, store, None)
    await process(ctx, lose_the_extraction, TextExtracted(article_id=aid, url=URL), "1-0")
    article = await stored(store, aid)
    # not "translated" without an extraction (which the analyzer would then analyze as empty)
    assert article.status is Status.FETCHED and article.translation is None
    assert await entries(redis, settings, TRANSLATED) == []
    assert [e["url"] for e in await entries(redis, settings, URLS)] == [URL]
    assert await counter(redis, settings, "recovered:translator") == 1
