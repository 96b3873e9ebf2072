"""LLM usage values: prices, cost, cache keys, token estimates; the prompt versions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from newsflow.adapters.providers import OpenAICompatible
from newsflow.domain.usage import (
    CallUsage,
    cache_key,
    cost_of,
    day_of,
    estimate_tokens,
    summarize,
)
from newsflow.settings import ModelPrice, Settings
from newsflow.stages import translation

PRICES = {
    "gemini-2.5-flash": ModelPrice(input=0.30, output=2.50),
    "gemini/special": ModelPrice(input=1.0, output=1.0),
    "special": ModelPrice(input=9.0, output=9.0),
}


def test_cost_comes_from_the_price_table_per_million_tokens() -> None:
    assert cost_of(PRICES, "gemini", "gemini-2.5-flash", 1_000_000, 0) == pytest.approx(0.30)
    assert cost_of(PRICES, "x", "gemini-2.5-flash", 2000, 1000) == pytest.approx(0.0031)
    # a provider-qualified entry wins over the bare model name
    assert cost_of(PRICES, "gemini", "special", 1_000_000, 0) == pytest.approx(1.0)
    assert cost_of(PRICES, "other", "special", 1_000_000, 0) == pytest.approx(9.0)


def test_a_model_without_a_price_has_no_cost() -> None:
    assert cost_of(PRICES, "openai", "gpt-unknown", 100, 100) is None
    assert cost_of({}, "openai", "gpt-4o", 100, 100) is None
    usage = summarize(
        [CallUsage(prompt_tokens=10, completion_tokens=5, latency=0.25)] * 2,
        provider="p", model="unpriced", cached=3, prices=PRICES,
    )  # fmt: skip
    assert (usage.calls, usage.cached, usage.tokens, usage.latency_ms) == (2, 3, 30, 500)
    assert usage.cost is None


def test_answers_from_the_cache_cost_nothing() -> None:
    usage = summarize([], provider="p", model="unpriced", cached=4, prices=PRICES)
    assert (usage.calls, usage.cached, usage.cost) == (0, 4, 0.0)


def test_prices_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "NEWSFLOW_LLM_PRICES", '{"gemini-2.5-flash": {"input": 0.30, "output": 2.50}}'
    )
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.llm_prices == {"gemini-2.5-flash": ModelPrice(input=0.30, output=2.50)}
    monkeypatch.setenv("NEWSFLOW_LLM_PRICES", '{"m": {"input": -1, "output": 2}}')
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("NEWSFLOW_LLM_PRICES", '{"m": {"in": 1, "out": 2}}')
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_cache_key_depends_on_everything_that_decides_the_answer() -> None:
    key = cache_key("translation", "gemini", "gemini-2.5-flash", "en", "translate-1", "文本")
    assert len(key) == 64
    assert key == cache_key(
        "translation", "gemini", "gemini-2.5-flash", "en", "translate-1", "文本"
    )
    others = [
        cache_key("impact", "gemini", "gemini-2.5-flash", "en", "translate-1", "文本"),
        cache_key("translation", "xai", "gemini-2.5-flash", "en", "translate-1", "文本"),
        cache_key("translation", "gemini", "m2", "en", "translate-1", "文本"),
        cache_key("translation", "gemini", "gemini-2.5-flash", "fr", "translate-1", "文本"),
        cache_key("translation", "gemini", "gemini-2.5-flash", "en", "translate-2", "文本"),
        cache_key("translation", "gemini", "gemini-2.5-flash", "en", "translate-1", "文本。"),
    ]
    assert key not in others and len(set(others)) == len(others)


def test_token_estimates_count_dense_scripts_per_character() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("中国人民银行") == 6
    assert estimate_tokens("Apple 苹果") == 2 + 2


def test_days_are_utc() -> None:
    from datetime import datetime, timedelta, timezone

    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert day_of(late) == "2026-03-02"


def test_the_translation_cache_key_holds_the_whole_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers to an older prompt, or an older prompt version, are never served."""
    provider = OpenAICompatible("http://127.0.0.1:9/v1", "m", "")  # never called

    def key(language: str = "zh") -> str:
        return translation.segments_key(provider, ["第一段"], language, "en")

    first = key()
    assert first == key() and first != key("ja")
    monkeypatch.setattr(translation, "PROMPT_VERSION", "translate-2")
    assert key() != first
    monkeypatch.setattr(translation, "PROMPT_VERSION", "translate-1")
    monkeypatch.setattr(translation, "SYSTEM_PROMPT", translation.SYSTEM_PROMPT + " Be brief.")
    assert key() != first
