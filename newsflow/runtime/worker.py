"""The runtime every stage worker shares: the claim protocol, broker, store, heartbeat, trimming.

A service declares its stage as data (:class:`StageSpec`) and gets a FastStream app::

    spec = StageSpec(stage=EXTRACTOR, handle=extract, open_resources=open_pool)
    app = build_worker(spec)

For every message the runtime does the protocol once (:func:`process`): it turns a submitted
URL into its article (the intake), claims the article (:meth:`StageContext.claim`: skip a
stale or finished message, republish after a crash, recover a lost article), calls the
stage's handler with the claimed :class:`~newsflow.domain.article.Article`, then stores what
the handler returned (:class:`~newsflow.domain.pipeline.Done` or
:class:`~newsflow.domain.pipeline.Failed`) and publishes the next stage's message. A handler
is the stage's work only, and can be called directly with an article (the handler tests call
one so, and run the others through :func:`process` on a real store and Redis, no broker).

A service that consumes a stream but moves no article on (the notifier) is declared with
:class:`ServiceSpec`: it gets the same consumer group, reclaiming, handler timeout, retries,
dead letters, heartbeat, trimming and shutdown; its handler does its own work per message.

Each worker reads its input stream with two subscribers in the service's consumer group:
one for new entries, one that reclaims entries left pending by a dead or stuck replica. In
the background it trims its input stream and sweeps for articles waiting for its stage whose
message a crash lost (:mod:`newsflow.runtime.reconcile`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from faststream import FastStream
from faststream.redis import StreamSub
from faststream.redis.annotations import RedisStreamMessage
from faststream.redis.prometheus import RedisPrometheusMiddleware
from redis.asyncio import Redis

from newsflow import metrics
from newsflow.adapters.redis import connect_redis, make_broker
from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.domain.article import Article
from newsflow.domain.contracts import Message, StageDone, Status, UrlSubmitted
from newsflow.domain.pipeline import (
    RANK,
    Failed,
    Service,
    Stage,
    StageOutcome,
    Streams,
    next_message,
)
from newsflow.domain.urls import article_id, canonical_url, short_id
from newsflow.runtime import gauges
from newsflow.runtime.delivery import (
    guard_factory,
    prune_consumers,
    release_pending,
    trim_acknowledged,
)
from newsflow.runtime.health import Health, MetricsServer, health_loop
from newsflow.runtime.logs import bind, configure_logging
from newsflow.runtime.memory import trim_periodically
from newsflow.runtime.reconcile import run_periodically
from newsflow.settings import Settings, get_settings

log = logging.getLogger("newsflow.runtime.worker")

R = TypeVar("R")
M = TypeVar("M", bound=Message)


@runtime_checkable
class Closable(Protocol):
    """A resource the runtime closes when the worker stops (an HTTP client, a pool)."""

    async def aclose(self) -> None: ...


class ArticleMissing(RuntimeError):
    """A stage message names an article that MongoDB does not have (a lost write)."""

    public_message = True  # our own words: shown on the article as they are


class Claim(enum.Enum):
    """What a message's article says about the work the message asks for."""

    #: The work is to do: the article is where the stage before left it.
    WORK = "work"
    #: The message is of an older generation (a refresh came since): nothing to do.
    STALE = "stale"
    #: This stage's result is stored already (a redelivery): only republish the next message.
    DONE = "done"
    #: The article moved past this stage, or this stage already failed it: nothing to do.
    PASSED = "passed"
    #: The article is missing, or behind the message: MongoDB lost acknowledged writes.
    LOST = "lost"


def decide(article: Article | None, generation: int, stage: Stage) -> Claim:
    """The claim of a message of ``generation`` for ``stage`` on ``article`` (None: missing)."""
    if article is not None and article.generation > generation:
        return Claim.STALE
    rank = RANK[stage.status]
    # A message is published only after the stage before stored its result, so the article
    # is at least there: anything less means MongoDB lost acknowledged writes.
    if article is None or article.generation < generation or article.progress < rank - 1:
        return Claim.LOST
    if article.progress > rank:
        return Claim.PASSED
    if article.progress == rank:
        return Claim.DONE
    failure = article.failure
    if failure is not None and failure.stage == stage.status.value and not failure.dead_letter:
        return Claim.PASSED  # this stage already decided the article failed
    return Claim.WORK


class _Publishing:
    """Publishing and counting, for the contexts of every kind of worker."""

    redis: Redis
    streams: Streams

    @property
    def service(self) -> str:
        raise NotImplementedError

    async def publish(self, message: Message, stream: str) -> None:
        """Add ``message`` to ``stream`` as plain fields, as a raw ``XADD`` would."""
        await self.redis.xadd(stream, message.to_fields())  # type: ignore[arg-type]  # redis-py's stubs want a dict of its broad key/value union

    async def count(self, what: str) -> None:
        """Bump a counter shown by `newsflow status` (``failed``, ``duplicate``...)."""
        await self.redis.hincrby(self.streams.stats, f"{what}:{self.service}", 1)


@dataclass
class ServiceContext(_Publishing, Generic[R]):
    """What the handler of a consuming service that is not a stage (the notifier) can use."""

    of: Service
    settings: Settings
    streams: Streams
    redis: Redis
    store: ArticleStore
    #: What the spec's ``open_resources`` opened.
    resources: R

    @property
    def service(self) -> str:
        return self.of.name


@dataclass
class StageContext(_Publishing, Generic[R]):
    """What a stage's handler can use: its stage, settings, store, Redis and resources."""

    stage: Stage
    settings: Settings
    streams: Streams
    redis: Redis
    store: ArticleStore
    #: What the spec's ``open_resources`` opened (an HTTP client, a process pool, a provider).
    resources: R

    @property
    def service(self) -> str:
        return self.stage.name

    async def claim(
        self, aid: str, generation: int, url: str | None, *, known: Article | None = None
    ) -> Article | None:
        """The article if this message's work is still to do, else None.

        ``known`` is the article as a write just returned it (the intake's), which saves
        reading it again. A redelivered message whose stage is already stored only
        re-publishes the next message (the crash may have come between the two); a stale
        one (of an older generation) does nothing. An article that is missing, or behind
        the message's generation, was lost by MongoDB after it acknowledged the write (a
        server crash with a lax write concern): its URL is submitted again (``url``, which
        every stage message carries), or the message is retried (:class:`ArticleMissing`),
        never dropped.
        """
        article = known if known is not None else await self.store.article(aid, self.stage.reads)
        claim = decide(article, generation, self.stage)
        if claim is Claim.STALE:
            log.info(
                "%s: stale message for %s (generation %d)", self.service, short_id(aid), generation
            )
        elif claim is Claim.LOST:
            await self._recover(aid, generation, url)
        elif claim is Claim.DONE:
            assert article is not None
            await self._publish_next(article)
        if claim is not Claim.WORK:
            metrics.stage_outcome(self.service, _CLAIM_OUTCOME[claim])
        return article if claim is Claim.WORK else None

    async def settle(self, article: Article, outcome: StageOutcome) -> None:
        """Store what the stage's work came to; on success publish the next message."""
        aid, generation = article.id, article.generation
        metrics.stage_outcome(self.service, "failed" if isinstance(outcome, Failed) else "done")
        # One line per article and stage, bound to the article (the audit trail of the log).
        if isinstance(outcome, Failed):
            log.info("%s: %s failed: %s", self.service, short_id(aid), outcome.reason)
            stored = await self.store.fail(
                aid, generation, self.stage, outcome.reason, result=outcome.result
            )
            await self.count(outcome.counter)
        else:
            log.info("%s: %s done", self.service, short_id(aid))
            if outcome.note:
                await self.count(outcome.note)
            stored = await self.store.save_stage(
                aid, generation, self.stage, outcome.result, page=outcome.page,
                fields=outcome.fields,
            )  # fmt: skip
            if stored:
                await self._publish_next(article)
        if not stored:
            await self._unstored(article)

    async def _unstored(self, article: Article) -> None:
        """A write that matched nothing: another delivery got there first (nothing to do), or
        MongoDB lost the article while the stage worked (submit it again, never drop it)."""
        now = await self.store.article(article.id)
        if decide(now, article.generation, self.stage) is Claim.LOST:
            await self._recover(article.id, article.generation, article.url or None)

    async def _publish_next(self, article: Article) -> None:
        done = StageDone(
            article_id=article.id, generation=article.generation, url=article.url or None
        )
        message = next_message(self.stage, done)
        if message is not None and self.stage.emits is not None:
            await self.publish(message, self.streams[self.stage.emits])

    async def _recover(self, aid: str, generation: int, url: str | None) -> None:
        """Process again an article whose stored state MongoDB lost."""
        if url is None or self.stage.status is Status.FETCHED:
            # The fetcher's own intake (re)creates the article when the message comes back.
            raise ArticleMissing(
                f"article {short_id(aid)} (generation {generation}) is missing or behind in MongoDB"
            )
        # The URL comes with the message: submit it only if it is this article's (an invalid
        # one raises InvalidUrl, which the delivery guard dead-letters with its reason).
        if article_id(canonical_url(url)) != aid:
            raise ArticleMissing(
                f"article {short_id(aid)} (generation {generation}) is missing or behind in MongoDB, "
                "and the message's URL is not this article's: not submitted"
            )
        log.warning(
            "%s: article %s is missing or behind in MongoDB; submitting %s again",
            self.service,
            short_id(aid),
            url,
        )
        await self.publish(
            UrlSubmitted(url=url, refresh=True, submitted_by=f"recovery:{self.service}"),
            self.streams.urls,
        )
        await self.count("recovered")


#: How a claim that is not work is counted (``newsflow_stage_outcomes_total{outcome}``).
_CLAIM_OUTCOME = {
    Claim.STALE: "stale",
    Claim.DONE: "redelivered",
    Claim.PASSED: "passed",
    Claim.LOST: "recovered",
}


#: A stage's work: the claimed article and the message in, what it came to out.
Handler = Callable[[StageContext[R], Article, M], Awaitable[StageOutcome]]


async def no_resources(settings: Settings) -> None:
    """For a stage that needs no per-process resources."""


@dataclass(frozen=True)
class StageSpec(Generic[R, M]):
    """A stage worker described as data."""

    stage: Stage
    #: The stage's work (see :data:`Handler`).
    handle: Handler[R, M]
    #: Opens per-process resources (an HTTP client, a process pool); closed on shutdown when
    #: they have ``aclose``.
    open_resources: Callable[[Settings], Awaitable[R]]
    #: Messages handled at once; None uses settings.concurrency.
    concurrency: Callable[[Settings], int] | None = None


#: A consuming service's work on one message (it owns what it writes; the runtime acknowledges
#: the message when it returns, and retries it, then dead-letters it, when it raises).
ServiceHandler = Callable[[ServiceContext[R], M], Awaitable[None]]
#: What a service does when one of its messages is dead-lettered: (context, article id,
#: generation, reason).
ServiceOnDead = Callable[[ServiceContext[R], str, int | None, str], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec(Generic[R, M]):
    """A worker that consumes a stream but is not a stage: it moves no article on (the
    notifier). It gets the same consumer group, reclaim, retries, dead letters, heartbeat,
    trimming and shutdown as a stage worker; the claim protocol is the handler's own."""

    service: Service
    handle: ServiceHandler[R, M]
    open_resources: Callable[[Settings], Awaitable[R]]
    #: Called when a message is dead-lettered (the article is not marked failed: the service
    #: is not a stage).
    on_dead: ServiceOnDead[R] | None = None
    concurrency: Callable[[Settings], int] | None = None


async def process(ctx: StageContext[R], handle: Handler[R, M], body: M, entry_id: str) -> None:
    """One message through the protocol: intake, claim, the stage's work, store, publish."""
    known: Article | None = None
    url: str | None
    if isinstance(body, UrlSubmitted):
        # An invalid URL raises InvalidUrl: the delivery guard dead-letters it with the reason.
        canonical = canonical_url(body.url)
        intake = await ctx.store.accept(
            canonical=canonical,
            submitted_url=body.url.strip(),
            submitted_by=body.submitted_by,
            refresh=body.refresh,
            entry_id=entry_id,
            # An item of a source (the feeder): named after the source, with its feed's hints.
            source=body.source,
            hints=body.hints(),
        )
        if not intake.process:
            await ctx.count("duplicate")
            metrics.stage_outcome(ctx.service, "duplicate")
            return
        aid, generation, url, known = (
            intake.article_id,
            intake.generation,
            canonical,
            intake.article,
        )
    elif isinstance(body, StageDone):
        aid, generation, url = body.article_id, body.generation, body.url
    else:
        raise TypeError(f"{ctx.service} cannot process a {type(body).__name__}")
    with bind(article_id=aid):
        article = await ctx.claim(aid, generation, url, known=known)
        if article is None:
            return
        await ctx.settle(article, await handle(ctx, article, body))


@dataclass
class _Running(Generic[R]):
    """The context of a started worker (None until its resources are open)."""

    ctx: StageContext[R] | ServiceContext[R] | None = None


def build_worker(
    spec: StageSpec[R, M] | ServiceSpec[R, M], settings: Settings | None = None
) -> FastStream:
    settings = settings or get_settings()
    service = spec.stage if isinstance(spec, StageSpec) else spec.service
    if service.consumes is None:
        raise ValueError(f"{service.name} consumes no stream: it is not a consuming worker")
    streams = Streams(settings.stream_prefix)
    stream = streams[service.consumes]
    redis = connect_redis(settings)
    store = ArticleStore.connect(settings)
    running: _Running[R] = _Running()
    metrics.init_stage(service.name)

    async def on_dead(aid: str, generation: int | None, reason: str) -> None:
        if isinstance(spec, StageSpec):
            await store.fail(aid, generation, spec.stage, reason, dead_letter=True)
        elif spec.on_dead is not None and isinstance(running.ctx, ServiceContext):
            await spec.on_dead(running.ctx, aid, generation, reason)
        await redis.hincrby(streams.stats, f"failed:{service.name}", 1)

    guard = guard_factory(
        redis=redis,
        streams=streams,
        group=service.name,
        timeout=settings.handler_timeout,
        max_deliveries=settings.max_deliveries,
        on_dead=on_dead,
    )
    # FastStream's Prometheus middleware counts and times every message (faststream_* series,
    # app_name = the service); the guard (retries, dead letters) counts Newsflow's own.
    prometheus = RedisPrometheusMiddleware(registry=metrics.registry, app_name=service.name)
    broker = make_broker(
        settings,
        middlewares=[prometheus, guard],
        graceful_timeout=settings.graceful_timeout,
        # FastStream's access log goes through the process's handlers: same format, masked.
        logger=logging.getLogger("newsflow.broker"),
        # Generous: a read whose reply arrives after the client gave up is lost until it is
        # reclaimed (the entry is already in our pending list), so a briefly busy event loop
        # must not trip it. A dead connection is still noticed by the health check.
        socket_timeout=60.0,
        health_check_interval=30,
    )

    async def on_message(body: Message) -> None:
        ctx = running.ctx
        assert ctx is not None, "a message before start-up"
        # The stream entry, from FastStream's context: a parameter annotated
        # RedisStreamMessage costs a worker-thread round trip per message (fast_depends
        # resolves context fields with a sync callable), a fifth of an idle stage's CPU.
        message: RedisStreamMessage = broker.context.get_local("message")
        entry_id = message.raw_message["message_ids"][0].decode()
        with bind(stage=service.name, entry_id=entry_id):
            if isinstance(spec, StageSpec):
                assert isinstance(ctx, StageContext)
                await process(ctx, spec.handle, body, entry_id)  # type: ignore[arg-type]  # FastStream decoded the stream's declared message type
            else:
                assert isinstance(ctx, ServiceContext)
                await spec.handle(ctx, body)  # type: ignore[arg-type]  # as above

    # FastStream decodes each entry into the handler's annotated type: the stream's message.
    on_message.__annotations__ = {"body": service.consumes.message, "return": None}
    concurrency = spec.concurrency(settings) if spec.concurrency else settings.concurrency
    consumer = settings.consumer
    fresh = broker.subscriber(
        stream=StreamSub(
            stream,
            group=service.name,
            consumer=consumer,
            polling_interval=settings.poll_interval_ms,
            max_records=concurrency,
        ),
        max_workers=concurrency,
    )
    reclaim = broker.subscriber(
        stream=StreamSub(
            stream,
            group=service.name,
            consumer=f"{consumer}-reclaim",
            min_idle_time=settings.claim_idle_ms,
            polling_interval=settings.poll_interval_ms,
        ),
    )
    fresh(on_message)
    reclaim(on_message)

    background: list[asyncio.Task[None]] = []
    health = Health()
    served: list[MetricsServer] = []

    async def startup() -> None:
        await ensure_groups(redis, streams)
        if pruned := await prune_consumers(redis, stream, service.name, settings.claim_idle_ms):
            log.info("%s: removed %d idle consumers of earlier processes", service.name, pruned)
        await store.ensure_indexes()
        resources = await spec.open_resources(settings)
        if isinstance(spec, StageSpec):
            running.ctx = StageContext(spec.stage, settings, streams, redis, store, resources)
        else:
            running.ctx = ServiceContext(spec.service, settings, streams, redis, store, resources)

    async def after_startup() -> None:
        background.append(
            asyncio.create_task(
                health_loop(redis.ping, store.ping, health, settings.heartbeat_file)
            )
        )
        background.append(asyncio.create_task(_trimmer(redis, stream, settings.trim_interval)))
        if isinstance(spec, StageSpec) and settings.reconcile_interval > 0:
            # Articles waiting for this stage whose message a crash lost (reconcile.py).
            background.append(
                asyncio.create_task(
                    run_periodically(spec.stage, redis=redis, store=store, settings=settings)
                )
            )
        background.append(asyncio.create_task(trim_periodically()))  # the heap (glibc)
        background.append(
            asyncio.create_task(
                gauges.refresh_loop(
                    redis,
                    store,
                    streams,
                    every=settings.metrics_interval,
                    articles_every=settings.metrics_articles_interval,
                    groups=[service.name],
                )
            )
        )
        if settings.metrics_port:
            server = MetricsServer(settings.metrics_port, settings.metrics_host, lambda: health)
            served.append(server.start())
            log.info(
                "%s: metrics on http://%s:%d/metrics",
                service.name,
                settings.metrics_host,
                server.port,
            )
        log.info("%s consuming %s as %s (group %s)", service.name, stream, consumer, service.name)

    async def stop_background() -> None:
        for task in background:
            task.cancel()
        for server in served:
            server.stop()

    async def after_shutdown() -> None:
        # FastStream runs on_shutdown hooks before it stops the broker and waits up to
        # graceful_timeout for in-flight handlers: resources must outlive that wait, so
        # they are closed here, after the broker has stopped.
        try:
            released = await release_pending(
                redis,
                stream,
                service.name,
                [consumer, f"{consumer}-reclaim"],
                settings.claim_idle_ms,
            )
            if released:
                log.info("%s handed back %d unfinished entries", service.name, released)
        except Exception:  # noqa: BLE001 - Redis gone: reclaimed after claim_idle_ms anyway
            log.warning("%s could not hand back its unfinished entries", service.name)
        if running.ctx is not None and isinstance(running.ctx.resources, Closable):
            await running.ctx.resources.aclose()
        store.close()
        await redis.aclose()

    return FastStream(
        broker,
        on_startup=[startup],
        after_startup=[after_startup],
        on_shutdown=[stop_background],
        after_shutdown=[after_shutdown],
    )


async def _trimmer(redis: Redis, stream: str, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            if removed := await trim_acknowledged(redis, stream):
                log.debug("trimmed %d acknowledged entries from %s", removed, stream)
        except Exception:
            log.exception("trimming %s failed", stream)


def run(spec: StageSpec[R, M] | ServiceSpec[R, M]) -> None:
    """Entry point of ``python -m services.<name>``."""
    settings = get_settings()
    # credentials masked in every line, the service named (newsflow.runtime.logs)
    configure_logging(
        settings, service=spec.stage.name if isinstance(spec, StageSpec) else spec.service.name
    )
    asyncio.run(build_worker(spec, settings).run())
