"""LLM cost against the stand-in server and SecantusDB: the answer cache, usage, budgets.

The stand-in records every request it receives: the counts below are requests that reached
an HTTP server, not calls a test double claims to have made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from newsflow.adapters.ledger import LLMLedger
from newsflow.adapters.providers import OpenAICompatible
from newsflow.domain.contracts import ExtractionResult
from newsflow.domain.usage import day_of
from newsflow.settings import ModelPrice, Settings
from newsflow.stages.impact import analyze_impact
from newsflow.stages.translation import chunk_text, translate_article
from tests.support.llm_server import LLMServer

KEY = "sk-cost-test-key"
PARAGRAPHS = [
    "特斯拉公司今天宣布第三季度利润增长，股价上涨。",
    "分析师表示，电动车销量在中国市场强劲增长，投资者对公司前景感到乐观。",
    "央行同日宣布维持利率不变，经济增长预期保持稳定。",
    "记者从公司获悉，芯片价格下跌，汽车成本随之降低。",
] * 6
ARTICLE = ExtractionResult(
    status="ok", title="特斯拉股价上涨", text="\n".join(PARAGRAPHS), language="zh"
)
LedgerOf = Callable[[Settings], LLMLedger]
PRICES = {"stand-in-mt": ModelPrice(input=0.30, output=2.50)}


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(llm: LLMServer) -> None:
    llm.reset()


def _settings(base: Settings, **changes: object) -> Settings:
    return base.model_copy(update={"translate_chunk_chars": 200, "llm_prices": PRICES, **changes})


@pytest.fixture
async def ledger_of(settings: Settings) -> AsyncIterator[LedgerOf]:
    client: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(settings.mongo_url)

    def make(config: Settings) -> LLMLedger:
        return LLMLedger(client[settings.mongo_db], config)

    yield make
    await client.drop_database(settings.mongo_db)
    client.close()


@pytest.fixture
async def provider(llm: LLMServer) -> AsyncIterator[OpenAICompatible]:
    async with OpenAICompatible(llm.url, "stand-in-mt", KEY, backoff=0.01, retries=1) as client:
        yield client


async def test_a_translated_chunk_is_never_sent_again(
    llm: LLMServer, provider: OpenAICompatible, settings: Settings, ledger_of: LedgerOf
) -> None:
    config = _settings(settings)
    ledger = ledger_of(config)
    chunks = len(chunk_text(ARTICLE.text or "", config.translate_chunk_chars))
    assert chunks >= 3

    first = await translate_article(ARTICLE, provider, config, ledger)
    assert first.status == "translated", first.error
    assert len(llm.requests) == chunks + 1  # every chunk and the title, once
    usage = first.usage
    assert usage is not None
    assert (usage.provider, usage.model, usage.calls, usage.cached) == (
        provider.name,
        "stand-in-mt",
        chunks + 1,
        0,
    )
    # the stand-in reports usage computed from each request: the sums are what it said
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost == pytest.approx(
        (usage.prompt_tokens * 0.30 + usage.completion_tokens * 2.50) / 1e6, rel=1e-6
    )
    # the calls' time, summed and rounded to whole milliseconds (local calls may round to 0)
    assert isinstance(usage.latency_ms, int) and usage.latency_ms < 60_000

    # a re-run (refresh, re-delivery): the same chunks come from the cache, no request
    again = await translate_article(ARTICLE, provider, config, ledger)
    assert len(llm.requests) == chunks + 1
    assert (again.status, again.text, again.title) == ("translated", first.text, first.title)
    assert again.usage is not None and (again.usage.calls, again.usage.cached) == (0, chunks + 1)
    assert again.usage.cost == 0.0

    # one paragraph changed: only the chunk that holds it is sent
    edited = ARTICLE.model_copy(update={"text": "\n".join([*PARAGRAPHS[:-1], "股价下跌。"])})
    third = await translate_article(edited, provider, config, ledger)
    assert third.status == "translated"
    assert len(llm.requests) == chunks + 2

    # another model: nothing cached for it
    async with OpenAICompatible(llm.url, "other-model", KEY) as other:
        fourth = await translate_article(ARTICLE, other, config, ledger)
    assert fourth.status == "translated" and fourth.usage is not None
    assert fourth.usage.cost is None  # no price for other-model: unknown, not zero
    assert len(llm.requests) == 2 * chunks + 3

    [translation, impact] = await ledger.totals()
    assert (translation.day, translation.purpose) == (day_of(), "translation")
    assert translation.calls == len(llm.requests) == 2 * chunks + 3
    assert translation.cached == (chunks + 1) + chunks  # the re-run, and the edited article
    assert translation.unpriced_calls == chunks + 1
    assert translation.prompt_tokens == sum(
        r.usage.prompt_tokens for r in (first, again, third, fourth) if r.usage
    )
    assert impact.calls == 0


async def test_a_failed_chunk_is_asked_again_but_the_good_ones_are_not(
    llm: LLMServer, provider: OpenAICompatible, settings: Settings, ledger_of: LedgerOf
) -> None:
    config = _settings(settings, translate_concurrency=1)
    ledger = ledger_of(config)
    chunks = len(chunk_text(ARTICLE.text or "", config.translate_chunk_chars))
    # one call at a time, title first: every answer is good but the last chunk's
    llm.misbehave(*["think"] * chunks, "untranslated")
    failed = await translate_article(ARTICLE, provider, config, ledger)
    assert failed.status == "failed"
    assert f"chunk {chunks} of {chunks}: the answer is" in (failed.error or "")
    assert failed.usage is not None and failed.usage.calls == chunks + 1  # the bad one is paid
    sent = len(llm.requests)
    retried = await translate_article(ARTICLE, provider, config, ledger)
    assert retried.status == "translated", retried.error
    assert retried.usage is not None
    assert (retried.usage.cached, retried.usage.calls) == (chunks, 1)
    assert len(llm.requests) == sent + 1


async def test_impact_answers_are_cached_and_counted(
    llm: LLMServer, settings: Settings, ledger_of: LedgerOf
) -> None:
    config = _settings(settings)
    ledger = ledger_of(config)
    async with OpenAICompatible(llm.url, "stand-in-analyst", KEY) as analyst:
        first = await analyze_impact(
            "Tesla rallies", "Tesla shares rose.", ["TSLA"], analyst, config, ledger
        )
        second = await analyze_impact(
            "Tesla rallies", "Tesla shares rose.", ["TSLA"], analyst, config, ledger
        )
        other = await analyze_impact(
            "Tesla falls", "Tesla shares fell.", ["TSLA"], analyst, config, ledger
        )
    assert len(llm.requests) == 2
    assert first.status == second.status == other.status == "ok"
    assert second.impact == first.impact and other.impact != first.impact
    assert first.usage is not None and first.usage.calls == 1 and first.usage.cached == 0
    assert second.usage is not None and (second.usage.calls, second.usage.cached) == (0, 1)
    [_, impact] = await ledger.totals()
    assert (impact.calls, impact.cached) == (2, 1)
    assert impact.prompt_tokens == first.usage.prompt_tokens + (
        other.usage.prompt_tokens if other.usage else 0
    )


async def test_a_spent_budget_defers_without_a_request(
    llm: LLMServer, provider: OpenAICompatible, settings: Settings, ledger_of: LedgerOf
) -> None:
    config = _settings(settings, translate_daily_tokens=50, impact_daily_tokens=1)
    ledger = ledger_of(config)
    # the budget is not spent yet: the article is translated (and goes over it)
    first = await translate_article(ARTICLE, provider, config, ledger)
    assert first.status == "translated"
    assert first.usage is not None and first.usage.tokens > 50
    sent = len(llm.requests)

    other = ARTICLE.model_copy(
        update={"text": "比亚迪股价上涨。\n投资者表示乐观。", "title": "比亚迪"}
    )
    deferred = await translate_article(other, provider, config, ledger)
    assert deferred.status == "deferred"
    assert "daily translation budget is spent" in (deferred.error or "")
    assert "newsflow retry --deferred" in (deferred.error or "")
    assert len(llm.requests) == sent  # nothing sent

    # a cached article needs no budget
    cached = await translate_article(ARTICLE, provider, config, ledger)
    assert cached.status == "translated" and len(llm.requests) == sent

    impact = await analyze_impact("Tesla", "Tesla shares rose.", [], provider, config, ledger)
    assert impact.status == "ok"  # the first impact call is granted
    late = await analyze_impact("BYD", "BYD shares rose.", [], provider, config, ledger)
    assert late.status == "deferred" and "daily impact budget is spent" in (late.reason or "")
    assert len(llm.requests) == sent + 1

    [translation, impact_totals] = await ledger.totals()
    assert (translation.deferred, impact_totals.deferred) == (1, 1)
    assert translation.budget == 50 and translation.remaining == 0
    assert not await ledger.has_room("translation")
    # a larger budget (the next day, or a new setting) lets deferred work go on
    assert await ledger_of(_settings(settings, translate_daily_tokens=10**9)).has_room(
        "translation"
    )


async def test_tokens_are_counted_however_the_answer_ends(
    llm: LLMServer, provider: OpenAICompatible, settings: Settings, ledger_of: LedgerOf
) -> None:
    # An outside review: an answer cut off at the token limit was paid for and never counted;
    # a gateway reporting 1e19 tokens crashed the stage (retried, billed again, dead-lettered);
    # one reporting no usage never met the budget.
    config = _settings(settings, impact_daily_tokens=10**9)
    ledger = ledger_of(config)
    llm.misbehave("length")
    cut = await analyze_impact("Tesla", "Tesla shares rose.", [], provider, config, ledger)
    assert cut.status == "failed" and "token limit" in (cut.reason or "")
    assert cut.usage is not None and cut.usage.calls == 1 and cut.usage.prompt_tokens > 0
    [_, impact] = await ledger.totals()
    assert impact.calls == 1 and impact.prompt_tokens == cut.usage.prompt_tokens

    llm.misbehave("usage:1e19")
    huge = await analyze_impact("BYD", "BYD shares rose.", [], provider, config, ledger)
    assert huge.status == "ok" and huge.usage is not None
    assert huge.usage.prompt_tokens == 10_000_000  # capped, stored, no crash

    before = await ledger.totals()
    llm.misbehave("no-usage")
    silent = await analyze_impact("NIO", "NIO shares rose.", [], provider, config, ledger)
    assert silent.status == "ok" and silent.usage is not None and silent.usage.tokens == 0
    doc = await ledger._usage.find_one({"_id": f"{day_of()}:impact"})
    assert doc is not None
    committed_before = before[1].prompt_tokens + before[1].completion_tokens
    assert doc["committed"] > committed_before  # the estimate stays charged


async def test_a_refused_translation_counts_the_tokens_it_was_billed(
    llm: LLMServer, provider: OpenAICompatible, settings: Settings, ledger_of: LedgerOf
) -> None:
    config = _settings(settings, translate_chunk_chars=100_000)
    ledger = ledger_of(config)
    llm.misbehave("length", "length")
    result = await translate_article(ARTICLE, provider, config, ledger)
    assert result.status == "failed" and "token limit" in (result.error or "")
    assert result.usage is not None and result.usage.calls >= 1
    [translation, _] = await ledger.totals()
    assert translation.calls == result.usage.calls and translation.prompt_tokens > 0
