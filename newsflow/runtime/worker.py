"""The runtime every stage worker shares: broker, subscribers, store, heartbeat, trimming.

A service declares its stage as data (:class:`StageSpec`) and gets a FastStream app::

    app = build_worker(StageSpec(service="extractor", handler=on_page_fetched, ...))

Each worker reads its input stream with two subscribers in the service's consumer group:
one for new entries, one that reclaims entries left pending by a dead or stuck replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faststream import FastStream
from faststream.redis import RedisBroker, StreamSub
from pydantic import BaseModel
from redis.asyncio import Redis

from newsflow.domain.contracts import RANK, Status, Streams, UrlSubmitted
from newsflow.runtime.delivery import (
    ensure_groups,
    guard_factory,
    prune_consumers,
    release_pending,
    trim_acknowledged,
)
from newsflow.runtime.logs import configure_logging
from newsflow.settings import Settings, get_settings
from newsflow.adapters.store import ArticleStore

log = logging.getLogger("newsflow.runtime.worker")


@dataclass
class Worker:
    """What a stage's handler can use: settings, store, Redis, and a way to publish."""

    service: str
    settings: Settings
    streams: Streams
    redis: Redis
    store: ArticleStore = field(init=False)
    resources: dict[str, Any] = field(default_factory=dict)

    async def publish(self, message: BaseModel, stream: str) -> None:
        """Add ``message`` to ``stream`` as plain fields, as a raw ``XADD`` would.

        Plain fields rather than FastStream's binary envelope: every entry stays readable
        with redis-cli, and a dead letter keeps its fields intact for `newsflow retry`.
        """
        await self.redis.xadd(stream, message_fields(message))  # type: ignore[arg-type]

    async def claim(
        self,
        aid: str,
        generation: int,
        stage: Status,
        republish: Callable[[], Awaitable[None]] | None = None,
        url: str | None = None,
    ) -> dict[str, Any] | None:
        """The article if this message's work is still to do, else None.

        A redelivered message whose stage is already stored only re-publishes the next
        message (the crash may have come between the two); a stale one (of an older
        generation) does nothing. An article that is missing, or behind the message's
        generation, was lost by MongoDB after it acknowledged the write (a server crash
        with a lax write concern): its URL is submitted again (``url``, which every stage
        message carries), or the message is retried (:class:`ArticleMissing`), never dropped.
        """
        doc = await self.store.articles.find_one({"_id": aid})
        if doc is not None and int(doc.get("generation", 1)) > generation:
            log.info("%s: stale message for %s (generation %d)", self.service, aid[:10], generation)
            return None
        progress = int(doc.get("progress", 0)) if doc is not None else -1
        # A message is published only after the stage before stored its result, so the
        # article is at least there: anything less means MongoDB lost acknowledged writes.
        if (
            doc is None
            or int(doc.get("generation", 1)) < generation
            or progress < RANK[stage] - 1
        ):
            await self._recover(aid, generation, stage, url)
            return None
        if progress > RANK[stage]:
            return None
        if progress == RANK[stage]:
            if republish is not None:
                await republish()
            return None
        failure = doc.get("failure") or {}
        if failure.get("stage") == stage.value and not failure.get("dead_letter"):
            return None  # this stage already decided the article failed
        return doc

    async def _recover(self, aid: str, generation: int, stage: Status, url: str | None) -> None:
        """Process again an article whose stored state MongoDB lost."""
        if url is None or stage is Status.FETCHED:
            # The fetcher's own intake (re)creates the article when the message comes back.
            raise ArticleMissing(
                f"article {aid[:10]} (generation {generation}) is missing or behind in MongoDB"
            )
        log.warning("%s: article %s is missing or behind in MongoDB; submitting %s again",
                    self.service, aid[:10], url)
        await self.publish(
            UrlSubmitted(url=url, refresh=True, submitted_by=f"recovery:{self.service}"),
            self.streams.urls,
        )
        await self.count("recovered")

    async def count(self, what: str) -> None:
        """Bump a counter shown by `newsflow status` (``failed``, ``skipped``...)."""
        await self.redis.hincrby(self.streams.stats, f"{what}:{self.service}", 1)


def message_fields(message: BaseModel) -> dict[str, str]:
    """A message as stream fields (strings; booleans as ``true``/``false``; no nulls)."""
    fields: dict[str, str] = {}
    for name, value in message.model_dump(mode="json", exclude_none=True).items():
        fields[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return fields


class ArticleMissing(RuntimeError):
    """A stage message names an article that MongoDB does not have (a lost write)."""

    public_message = True  # our own words: shown on the article as they are


Handler = Callable[..., Awaitable[None]]


async def close_resources(worker: Worker) -> None:
    """Close every resource a worker opened that can be closed (``aclose``)."""
    for resource in worker.resources.values():
        if resource is not None and hasattr(resource, "aclose"):
            await resource.aclose()


@dataclass(frozen=True)
class StageSpec:
    """A stage worker described as data."""

    service: str
    #: The stage reached when this worker succeeds (its failures are recorded against it).
    stage: Status
    #: Builds the FastStream handler from the worker (a closure over it).
    make_handler: Callable[[Worker], Handler]
    #: Opens per-process resources (an HTTP client, a process pool) into worker.resources.
    open_resources: Callable[[Worker], Awaitable[None]] | None = None
    close_resources: Callable[[Worker], Awaitable[None]] | None = close_resources
    #: Messages handled at once; None uses settings.concurrency.
    concurrency: Callable[[Settings], int] | None = None


def build_worker(spec: StageSpec, settings: Settings | None = None) -> FastStream:
    settings = settings or get_settings()
    streams = Streams(settings.stream_prefix)
    stream = streams.inputs()[spec.service]
    redis = Redis.from_url(settings.redis_url)
    holder: dict[str, Worker] = {}

    async def on_dead(aid: str, generation: int | None, reason: str) -> None:
        await holder["w"].store.fail(aid, generation, spec.stage, reason, dead_letter=True)
        await holder["w"].count("failed")

    guard = guard_factory(
        redis=redis, streams=streams, group=spec.service, timeout=settings.handler_timeout,
        max_deliveries=settings.max_deliveries, on_dead=on_dead,
    )
    broker = RedisBroker(
        settings.redis_url, middlewares=[guard], graceful_timeout=settings.graceful_timeout,
        # Generous: a read whose reply arrives after the client gave up is lost until it is
        # reclaimed (the entry is already in our pending list), so a briefly busy event loop
        # must not trip it. A dead connection is still noticed by the health check.
        socket_timeout=60.0, health_check_interval=30,
    )
    worker = Worker(spec.service, settings, streams, redis)
    worker.store = ArticleStore.connect(settings)
    holder["w"] = worker
    handler = spec.make_handler(worker)
    concurrency = spec.concurrency(settings) if spec.concurrency else settings.concurrency
    consumer = settings.consumer
    fresh = broker.subscriber(
        stream=StreamSub(
            stream, group=spec.service, consumer=consumer,
            polling_interval=settings.poll_interval_ms, max_records=concurrency,
        ),
        max_workers=concurrency,
    )
    reclaim = broker.subscriber(
        stream=StreamSub(
            stream, group=spec.service, consumer=f"{consumer}-reclaim",
            min_idle_time=settings.claim_idle_ms, polling_interval=settings.poll_interval_ms,
        ),
    )
    fresh(handler)
    reclaim(handler)

    background: list[asyncio.Task[None]] = []

    async def startup() -> None:
        await ensure_groups(redis, streams)
        if pruned := await prune_consumers(redis, stream, spec.service, settings.claim_idle_ms):
            log.info("%s: removed %d idle consumers of earlier processes", spec.service, pruned)
        await worker.store.ensure_indexes()
        if spec.open_resources:
            await spec.open_resources(worker)

    async def after_startup() -> None:
        background.append(asyncio.create_task(_heartbeat(redis, settings.heartbeat_file)))
        background.append(asyncio.create_task(_trimmer(redis, stream, settings.trim_interval)))
        log.info("%s consuming %s as %s (group %s)", spec.service, stream, consumer, spec.service)

    async def stop_background() -> None:
        for task in background:
            task.cancel()

    async def after_shutdown() -> None:
        # FastStream runs on_shutdown hooks before it stops the broker and waits up to
        # graceful_timeout for in-flight handlers: resources must outlive that wait, so
        # they are closed here, after the broker has stopped.
        try:
            released = await release_pending(
                redis, stream, spec.service, [consumer, f"{consumer}-reclaim"],
                settings.claim_idle_ms,
            )
            if released:
                log.info("%s handed back %d unfinished entries", spec.service, released)
        except Exception:  # noqa: BLE001 - Redis gone: reclaimed after claim_idle_ms anyway
            log.warning("%s could not hand back its unfinished entries", spec.service)
        if spec.close_resources:
            await spec.close_resources(worker)
        worker.store.close()
        await redis.aclose()

    return FastStream(
        broker, on_startup=[startup], after_startup=[after_startup],
        on_shutdown=[stop_background], after_shutdown=[after_shutdown],
    )


async def _heartbeat(redis: Redis, path: str) -> None:
    beat = pathlib.Path(path)
    while True:
        with contextlib.suppress(Exception):
            if await redis.ping():
                beat.write_text(str(time.time()))
        await asyncio.sleep(5)


async def _trimmer(redis: Redis, stream: str, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            if removed := await trim_acknowledged(redis, stream):
                log.debug("trimmed %d acknowledged entries from %s", removed, stream)
        except Exception:
            log.exception("trimming %s failed", stream)


def run(spec: StageSpec) -> None:
    """Entry point of ``python -m services.<name>``."""
    settings = get_settings()
    configure_logging(settings)  # credentials masked in every line (newsflow.runtime.logs)
    asyncio.run(build_worker(spec, settings).run())
