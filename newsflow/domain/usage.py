"""What LLM calls cost, and the keys of the answer cache: plain values, no I/O.

- :class:`LLMUsage` is stored on every translation and impact result: provider label, model,
  requests sent, answers taken from the cache, prompt and completion tokens, latency, and the
  estimated cost from the user's price table (``NEWSFLOW_LLM_PRICES``; None when the model has
  no price there: no price is built in).
- :func:`cache_key` names an answer by everything that decides it (purpose, provider, model,
  target language, prompt version, the exact text sent), so the same text is never paid twice.
- :class:`Reuse` records that a result was taken from another article of the same story.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

#: What an LLM call is for; budgets and totals are kept per purpose.
Purpose = Literal["translation", "impact"]
PURPOSES: tuple[Purpose, ...] = ("translation", "impact")


class Price(Protocol):
    """A model's price per million tokens (``NEWSFLOW_LLM_PRICES`` entries)."""

    @property
    def input(self) -> float: ...
    @property
    def output(self) -> float: ...


class CallUsage(BaseModel):
    """One answered chat-completions request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Seconds from the first attempt to the answer (retries included).
    latency: float = 0.0


class LLMUsage(BaseModel):
    """What the LLM work behind one stage result used."""

    provider: str | None = None
    model: str | None = None
    #: Requests answered by the provider (a call retried after a 429 counts once).
    calls: int = 0
    #: Answers taken from the cache instead of a request.
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Sum of the calls' latencies, milliseconds.
    latency_ms: int = 0
    #: Estimated cost in the price table's currency; None when the model has no price.
    cost: float | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Reuse(BaseModel):
    """A result taken from another article of the same story instead of an LLM call."""

    #: The article whose result this is.
    article_id: str
    #: Estimated similarity of the two texts (Jaccard) and share of this text in the other.
    similarity: float
    containment: float


def price_for(prices: Mapping[str, Price], provider: str | None, model: str | None) -> Price | None:
    """The price of ``model``: ``"<provider>/<model>"`` first, then ``"<model>"``."""
    if not model:
        return None
    if provider and f"{provider}/{model}" in prices:
        return prices[f"{provider}/{model}"]
    return prices.get(model)


def cost_of(
    prices: Mapping[str, Price],
    provider: str | None,
    model: str | None,
    prompt_tokens: int,
    completion_tokens: int,
) -> float | None:
    """Estimated cost of the tokens, or None when the model has no price in the table."""
    price = price_for(prices, provider, model)
    if price is None:
        return None
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def summarize(
    calls: Iterable[CallUsage],
    *,
    provider: str | None,
    model: str | None,
    cached: int,
    prices: Mapping[str, Price],
) -> LLMUsage:
    """The usage of a result made of ``calls`` (and ``cached`` answers), priced."""
    calls = list(calls)
    prompt = sum(c.prompt_tokens for c in calls)
    completion = sum(c.completion_tokens for c in calls)
    cost = cost_of(prices, provider, model, prompt, completion) if calls else 0.0
    return LLMUsage(
        provider=provider,
        model=model,
        calls=len(calls),
        cached=cached,
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_ms=round(sum(c.latency for c in calls) * 1000),
        cost=None if cost is None else round(cost, 8),
    )


def cache_key(
    purpose: Purpose,
    provider: str,
    model: str,
    target_language: str,
    prompt_version: str,
    text: str,
) -> str:
    """The sha256 naming an answer: the same inputs always get the same answer from the cache."""
    material = json.dumps(
        [purpose, provider, model, target_language, prompt_version, text], ensure_ascii=False
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def estimate_tokens(text: str) -> int:
    """A generous estimate of the tokens of ``text`` (before a call, for the budget).

    Tokenizers give about four Latin characters a token and about one token per Chinese or
    Japanese character; the estimate counts both that way and rounds up.
    """
    dense = sum(1 for char in text if ord(char) >= 0x2E80)
    return dense + math.ceil((len(text) - dense) / 4)


def day_of(moment: datetime | None = None) -> str:
    """The UTC day that budgets and totals are kept by (``2026-11-30``)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")


class Ledger(Protocol):
    """Where LLM answers are cached and their usage counted (MongoDB in production).

    The stages call it around every request; :mod:`newsflow.adapters.ledger` implements it.
    """

    async def cached(self, key: str) -> object | None:
        """The stored answer for ``key``, or None."""
        ...

    async def remember(self, key: str, purpose: Purpose, answer: object) -> None:
        """Store a validated answer under ``key``."""
        ...

    async def reserve(self, purpose: Purpose, tokens: int) -> str | None:
        """Set ``tokens`` of today's budget aside; a refusal is the reason (else None)."""
        ...

    async def settle(self, purpose: Purpose, reserved: int, usage: LLMUsage) -> None:
        """Count what the calls used and give back the reservation."""
        ...


class UsageTotals(BaseModel):
    """One day's totals of one purpose (``newsflow status``, ``/api/pipeline``)."""

    day: str
    purpose: Purpose
    calls: int = 0
    cached: int = 0
    reused: int = 0
    deferred: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Sum of the priced calls' cost; ``unpriced_calls`` tells how many had no price.
    cost: float = 0.0
    unpriced_calls: int = 0
    #: The daily token budget (0: none) and what is still free of it.
    budget: int = 0
    remaining: int | None = Field(default=None)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
