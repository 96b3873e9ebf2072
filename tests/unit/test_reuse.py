"""Reusing a story's results: what may be taken from the matched article, and the wait."""

from __future__ import annotations

import time

from newsflow.domain.article import Article
from newsflow.domain.contracts import Impact, ImpactResult, TranslationResult
from newsflow.domain.stories import StoryLink
from newsflow.domain.usage import LLMUsage
from newsflow.settings import Settings
from newsflow.stages.reuse import (
    reuse_wait,
    reused_impact,
    reused_translation,
    story_source,
    wait_until,
)

LINK = StoryLink(id="s", first=False, matched="m", similarity=0.81, containment=0.97)
USAGE = LLMUsage(provider="p", model="m", calls=3, prompt_tokens=10, completion_tokens=10)


def test_a_translation_is_reused_with_its_evidence_and_no_usage() -> None:
    source = TranslationResult(
        status="translated", title="T", text="Text.", target_language="en", usage=USAGE
    )
    reused = reused_translation(LINK, "m" * 64, source, "en")
    assert reused is not None
    assert (reused.status, reused.title, reused.text) == ("translated", "T", "Text.")
    assert reused.reused is not None
    assert (reused.reused.article_id, reused.reused.similarity, reused.reused.containment) == (
        "m" * 64,
        0.81,
        0.97,
    )
    assert reused.usage is None  # the copy used no call: the cost stays with the original


def test_nothing_usable_is_not_reused() -> None:
    unusable = [
        TranslationResult(status="failed", target_language="en", error="bad answer"),
        TranslationResult(status="deferred", target_language="en", error="budget"),
        TranslationResult(status="skipped", target_language="en"),
        TranslationResult(status="not_needed", target_language="en"),
    ]
    for source in unusable:
        assert reused_translation(LINK, "m", source, "en") is None
    done = TranslationResult(status="translated", text="x", target_language="fr")
    assert reused_translation(LINK, "m", done, "en") is None  # another target language
    assert reused_translation(None, "m", done, "fr") is None
    assert reused_impact(LINK, "m", ImpactResult(status="deferred", reason="budget")) is None
    assert reused_impact(LINK, "m", None) is None


def test_an_impact_analysis_is_reused() -> None:
    impact = Impact(summary="Up.", direction="bullish", symbols=["TSLA"], confidence=0.7)
    source = ImpactResult(status="ok", provider="p", model="m", impact=impact, usage=USAGE)
    reused = reused_impact(LINK, "m" * 64, source)
    assert reused is not None and reused.impact == impact and reused.usage is None
    assert reused.reused is not None and reused.reused.article_id == "m" * 64


def test_the_wait_is_bounded_by_the_handler_time() -> None:
    assert reuse_wait(Settings(story_reuse_wait=20, handler_timeout=150, _env_file=None)) == 20  # type: ignore[call-arg]
    short = Settings(story_reuse_wait=20, handler_timeout=1.5, claim_idle_ms=2000, _env_file=None)  # type: ignore[call-arg]
    assert reuse_wait(short) == 0.5


async def test_wait_until_returns_as_soon_as_the_value_is_final() -> None:
    values = iter([1, 2, 3, 4])

    async def read() -> int | None:
        return next(values)

    started = time.monotonic()
    assert await wait_until(read, lambda v: v >= 3, 5.0, interval=0.01) == 3
    assert time.monotonic() - started < 1.0


async def test_wait_until_gives_up_with_the_last_value() -> None:
    async def read() -> int | None:
        return 1

    started = time.monotonic()
    assert await wait_until(read, lambda v: v > 1, 0.1, interval=0.02) == 1
    assert 0.09 <= time.monotonic() - started < 1.0

    async def missing() -> int | None:
        return None

    assert await wait_until(missing, lambda _v: True, 5.0) is None


async def test_the_story_source_is_read_only_for_a_reusable_copy_and_until_it_is_done() -> None:
    settings = Settings(story_reuse_wait=1.0, _env_file=None)  # type: ignore[call-arg]  # pydantic-settings' own keyword
    source_id = "m" * 64
    reads: list[str] = []
    states = iter([{}, {}, {"translation": {"status": "translated", "target_language": "en"}}])

    async def load(aid: str) -> Article | None:
        reads.append(aid)
        return Article.from_document({"_id": aid, "url": "https://a.example/m", **next(states)})

    def translated(a: Article) -> TranslationResult | None:
        return a.translation

    link = LINK.model_copy(update={"matched": source_id})
    # not a copy, or not close enough: nothing is read
    assert await story_source(None, settings, load, translated) is None
    far = link.model_copy(update={"containment": 0.2})
    assert await story_source(far, settings, load, translated) is None
    assert reads == []
    # a close copy: its matched article is read until it has the result
    found = await story_source(link, settings, load, translated)
    assert found is not None and found[0] == link and found[1] == source_id
    assert found[2].status == "translated" and reads == [source_id] * 3
