"""Resuming LLM work that a spent daily budget deferred.

A translation or impact analysis deferred by the budget (``status: deferred`` with the reason)
is resumed by itself: the translator and the analyzer each run a :class:`DeferredSweeper`
that, every ``NEWSFLOW_DEFERRED_SWEEP_SECONDS``, checks whether today's budget has room again
(a new UTC day, or a larger budget) and, if so, sends at most ``NEWSFLOW_DEFERRED_SWEEP_BATCH``
deferred articles back to the stage. ``newsflow retry --deferred`` does the same at once,
whatever the budget says. Several replicas may sweep together: each article is reopened by
one of them only (a conditional update on its generation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from newsflow.adapters.providers import ChatProvider
from newsflow.adapters.redis import connect_redis
from newsflow.adapters.store import ArticleStore
from newsflow.domain.pipeline import ANALYZER, TRANSLATOR, Stage, Streams
from newsflow.domain.usage import Purpose
from newsflow.runtime.worker import Closable
from newsflow.settings import Settings

log = logging.getLogger("newsflow.runtime.deferred")

#: The stage whose LLM work each purpose is: a reopened article goes back to its input.
DEFERRED_STAGE: dict[Purpose, Stage] = {"translation": TRANSLATOR, "impact": ANALYZER}


async def requeue_deferred(
    store: ArticleStore, redis: Redis, streams: Streams, purpose: Purpose, limit: int,
    *, stuck_after: float,
) -> int:  # fmt: skip
    """Reopen up to ``limit`` articles whose ``purpose`` was deferred and queue them again;
    how many were queued."""
    reopened = await store.reopen_deferred(purpose, limit, stuck_after=stuck_after)
    # Back to the stage that was deferred, on the stream it consumes.
    inbox = DEFERRED_STAGE[purpose].consumes
    assert inbox is not None  # the translator and the analyzer both consume a stream
    for aid, generation, url in reopened:
        message = inbox.message.model_validate(
            {"article_id": aid, "generation": generation, "url": url}
        )
        await redis.xadd(streams[inbox], message.to_fields())  # type: ignore[arg-type]  # redis-py's stubs want a dict of its broad key/value union
    return len(reopened)


class DeferredSweeper:
    """A bounded periodic sweep in a worker's event loop; ``aclose`` stops it."""

    def __init__(self, purpose: Purpose, settings: Settings) -> None:
        self.purpose = purpose
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def sweep(self, store: ArticleStore, redis: Redis) -> int:
        """One pass: requeue deferred articles if today's budget has room."""
        if not await store.ledger.has_room(self.purpose):
            return 0
        streams = Streams(self.settings.stream_prefix)
        count = await requeue_deferred(
            store, redis, streams, self.purpose, self.settings.deferred_sweep_batch,
            stuck_after=2 * self.settings.claim_idle_ms / 1000,
        )  # fmt: skip
        if count:
            log.info("requeued %d articles whose %s was deferred", count, self.purpose)
        return count

    async def _run(self) -> None:
        store = ArticleStore.connect(self.settings)
        redis = connect_redis(self.settings)
        try:
            while True:
                await asyncio.sleep(self.settings.deferred_sweep_seconds)
                try:
                    await self.sweep(store, redis)
                except Exception:
                    log.warning("the sweep of deferred %s failed", self.purpose, exc_info=True)
        finally:
            store.close()
            await redis.aclose()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@dataclass
class LLMResources:
    """What the translator and the analyzer open: their provider (None when not configured)
    and the sweep that resumes their deferred work. The runtime closes both on shutdown."""

    provider: ChatProvider | None
    deferred: DeferredSweeper

    @classmethod
    def open(
        cls, purpose: Purpose, provider: ChatProvider | None, settings: Settings
    ) -> LLMResources:
        sweeper = DeferredSweeper(purpose, settings)
        sweeper.start()
        return cls(provider, sweeper)

    async def aclose(self) -> None:
        await self.deferred.aclose()
        if isinstance(self.provider, Closable):
            await self.provider.aclose()
