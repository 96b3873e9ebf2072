"""The LLM ledger in MongoDB: the answer cache, usage totals per day and purpose, and budgets.

Collections (``<c>`` is ``NEWSFLOW_MONGO_COLLECTION``):

- ``<c>_llm_cache``: one document per validated answer, ``_id`` = its
  :func:`~newsflow.domain.usage.cache_key` (sha256 of purpose, provider, model, target language,
  prompt version and the exact text). Every replica shares it, so a chunk translated once is
  never sent again, by any worker. Entries are never expired: an answer stays valid for as
  long as the same model is asked the same thing with the same prompt.
- ``<c>_llm_usage``: one document per UTC day and purpose (``2026-11-30:translation``) with
  ``$inc`` counters: calls, cached, reused, deferred, prompt and completion tokens, cost,
  unpriced calls, and ``committed`` (tokens used plus tokens reserved by calls in flight).

Budget: before its calls a stage reserves an estimate of their tokens; the reservation is
granted while the day's ``committed`` tokens are below the budget (one conditional ``$inc``, so
replicas cannot all slip under it at once), and settled with the real count afterwards. The
budget can be exceeded by at most the calls already granted when it ran out. A worker killed
between reserving and settling leaves its reservation counted for that day.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from newsflow.domain.usage import PURPOSES, LLMUsage, Purpose, UsageTotals, day_of
from newsflow.settings import Settings

log = logging.getLogger(__name__)

_COUNTERS = (
    "calls", "cached", "reused", "deferred", "prompt_tokens", "completion_tokens",
    "cost", "unpriced_calls", "committed",
)  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC)


#: The setting of each purpose's daily budget, named in refusals.
_ENV = {
    "translation": "NEWSFLOW_TRANSLATE_DAILY_TOKENS",
    "impact": "NEWSFLOW_IMPACT_DAILY_TOKENS",
}


class LLMLedger:
    """Implements :class:`~newsflow.domain.usage.Ledger` on two collections."""

    def __init__(self, db: AsyncIOMotorDatabase[Any], settings: Settings) -> None:
        self.settings = settings
        self._cache: AsyncIOMotorCollection[Any] = db[f"{settings.mongo_collection}_llm_cache"]
        self._usage: AsyncIOMotorCollection[Any] = db[f"{settings.mongo_collection}_llm_usage"]

    async def ensure_indexes(self) -> None:
        await self._usage.create_index([("day", DESCENDING)])

    def budget(self, purpose: Purpose) -> int:
        """The daily token budget of ``purpose`` (0: none)."""
        if purpose == "translation":
            return self.settings.translate_daily_tokens
        return self.settings.impact_daily_tokens

    # --- the cache ------------------------------------------------------------------------

    async def cached(self, key: str) -> object | None:
        doc = await self._cache.find_one({"_id": key}, {"answer": 1})
        return None if doc is None else doc.get("answer")

    async def remember(self, key: str, purpose: Purpose, answer: object) -> None:
        # DuplicateKeyError: another replica stored the same answer at the same time.
        with contextlib.suppress(DuplicateKeyError):
            await self._cache.update_one(
                {"_id": key},
                {"$setOnInsert": {"answer": answer, "purpose": purpose, "created_at": now()}},
                upsert=True,
            )

    # --- usage and budget -----------------------------------------------------------------

    async def _day(self, purpose: Purpose, day: str) -> None:
        """Create the day's counter document if it is missing."""
        with contextlib.suppress(DuplicateKeyError):
            await self._usage.update_one(
                {"_id": f"{day}:{purpose}"},
                {"$setOnInsert": {"day": day, "purpose": purpose, **dict.fromkeys(_COUNTERS, 0)}},
                upsert=True,
            )

    async def reserve(self, purpose: Purpose, tokens: int) -> str | None:
        budget = self.budget(purpose)
        if budget <= 0:
            return None
        day = day_of()
        await self._day(purpose, day)
        # Granted while anything is left, whatever its size: a refusal of what does not fit
        # would leave a long article deferred, then swept back, then deferred again, every
        # sweep while others fit. So one article's calls can take the day past the budget by
        # their own size (README, "Budget").
        granted = await self._usage.update_one(
            {"_id": f"{day}:{purpose}", "committed": {"$lt": budget}},
            {"$inc": {"committed": max(0, tokens)}},
        )
        if granted.matched_count == 1:
            return None
        doc = await self._usage.find_one_and_update(
            {"_id": f"{day}:{purpose}"}, {"$inc": {"deferred": 1}}
        )
        used = int((doc or {}).get("prompt_tokens", 0)) + int(
            (doc or {}).get("completion_tokens", 0)
        )
        return (
            f"the daily {purpose} budget is spent: {used:,} of {budget:,} tokens used on {day} "
            f"(UTC; {_ENV[purpose]}); resumes when the budget allows (the next UTC day), or "
            f"with `newsflow retry --deferred`"
        )

    async def settle(self, purpose: Purpose, reserved: int, usage: LLMUsage) -> None:
        day = day_of()
        # Calls whose provider reported no tokens at all keep the reservation spent: else a
        # gateway without ``usage`` would never meet the budget.
        spent = usage.tokens if usage.tokens or not usage.calls else reserved
        inc: dict[str, int | float] = {
            "calls": usage.calls,
            "cached": usage.cached,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "committed": spent - reserved,
        }
        if usage.cost is not None:
            inc["cost"] = usage.cost
        elif usage.calls:
            inc["unpriced_calls"] = usage.calls
        await self._day(purpose, day)
        await self._usage.update_one({"_id": f"{day}:{purpose}"}, {"$inc": inc})

    async def count_reused(self, purpose: Purpose) -> None:
        """Count a result taken from another article of the story (no call made)."""
        day = day_of()
        await self._day(purpose, day)
        await self._usage.update_one({"_id": f"{day}:{purpose}"}, {"$inc": {"reused": 1}})

    async def has_room(self, purpose: Purpose) -> bool:
        """Whether today's budget of ``purpose`` is not spent (always, without a budget)."""
        budget = self.budget(purpose)
        if budget <= 0:
            return True
        doc = await self._usage.find_one({"_id": f"{day_of()}:{purpose}"}, {"committed": 1})
        return int((doc or {}).get("committed", 0)) < budget

    async def totals(self, days: int = 1) -> list[UsageTotals]:
        """The totals of today and the ``days - 1`` UTC days before, newest first, one row per
        day and purpose (zeros where nothing was used)."""
        wanted = [day_of(now() - timedelta(days=i)) for i in range(max(1, days))]
        rows = {(d, p): UsageTotals(day=d, purpose=p) for d in wanted for p in PURPOSES}
        async for doc in self._usage.find({"day": {"$in": wanted}}):
            key = (doc.get("day"), doc.get("purpose"))
            if key in rows:
                values = {k: doc.get(k, 0) for k in _COUNTERS if k != "committed"}
                rows[key] = UsageTotals(day=key[0], purpose=key[1], **values)
        for (day, purpose), row in rows.items():
            row.budget = self.budget(purpose)
            if row.budget and day == wanted[0]:
                row.remaining = max(0, row.budget - row.tokens)
        return [rows[(d, p)] for d in wanted for p in PURPOSES]
