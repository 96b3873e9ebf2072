"""The reconciler: drive on articles that nothing else will move.

An article waits at a status short of ``analyzed``/``failed`` only while the message that
moves it on exists in Redis: in its stage's input stream, delivered and pending, or not yet
delivered. When a server crash loses that message (Redis losing acknowledged writes, see
docs/reliability.md) or the result of the stage that consumed it (MongoDB losing an
acknowledged write), the article is stranded: nothing is pending, nothing will retry, and no
error is recorded. A sweep finds such articles and publishes their next message again.

Every stage worker runs the sweep for the status its own stage moves articles on from (the
fetcher for ``queued``, the extractor for ``fetched``...), every ``NEWSFLOW_RECONCILE_INTERVAL``
seconds. One sweep of a stage:

1. takes the stage's lock in Redis (``SET NX PX``, :class:`redis.asyncio.lock.Lock`): of all
   replicas, one sweeps a stage at a time; the lock expires if its holder dies;
2. asks MongoDB for at most ``NEWSFLOW_RECONCILE_BATCH`` articles at that status not updated for
   ``NEWSFLOW_RECONCILE_AFTER`` seconds (:meth:`~newsflow.adapters.store.ArticleStore.stranded`);
3. reads, up to ``NEWSFLOW_RECONCILE_SCAN`` entries each, the stage group's pending entries
   and the stream's undelivered tail; more than that means the stage is busy, not stranded,
   and the sweep stops there;
4. publishes, for each article with no entry among them, the message the stage consumes:
   the article's id, generation and URL, as the stage before would have published it (for
   ``queued`` articles, their URL again with ``refresh``, as the runtime's recovery does);
5. counts them (:func:`count_reconciled`: ``reconciled:<stage>`` in the stats hash, shown by
   ``newsflow status``).

A message published twice is harmless (the claim protocol skips work already stored), so a
race with a worker that republishes at the same moment costs one redundant claim, never a
second document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError, ResponseError

from newsflow import metrics
from newsflow.adapters.store import ArticleStore
from newsflow.domain.article import Article
from newsflow.domain.contracts import Message, StageDone, Status, UrlSubmitted
from newsflow.domain.pipeline import RANK, STAGES, Stage, Streams, next_message
from newsflow.domain.urls import InvalidUrl, article_id, canonical_url, short_id
from newsflow.runtime.delivery import article_of, entry_fields
from newsflow.settings import Settings

log = logging.getLogger("newsflow.runtime.reconcile")

#: How long a sweep may hold its stage's lock (seconds); a sweep stops at half of it.
LOCK_SECONDS = 60.0

#: Called with (stage name, articles driven on) after every sweep that drove some on; the
#: Prometheus counter (``newsflow_reconciler_repairs_total``) is the first.
RECONCILED_HOOKS: list[Callable[[str, int], None]] = [metrics.reconciled]


async def count_reconciled(redis: Redis, streams: Streams, stage: str, count: int) -> None:
    """Record that a sweep drove ``count`` articles on at ``stage`` (``reconciled:<stage>``
    in the stats hash, which `newsflow status` shows), and tell the hooks."""
    await redis.hincrby(streams.stats, f"reconciled:{stage}", count)
    for hook in RECONCILED_HOOKS:
        hook(stage, count)


def waiting_status(stage: Stage) -> Status:
    """The status of an article waiting for ``stage`` (``queued`` for the fetcher...)."""
    rank = RANK[stage.status] - 1
    return next(status for status, r in RANK.items() if r == rank)


def resend(stage: Stage, article: Article) -> Message | None:
    """The message ``stage`` consumes for ``article``, as the stage before it publishes it;
    None when the article has no usable URL (nothing can be sent for it)."""
    if not article.url:
        return None
    try:
        url = canonical_url(article.url)
    except InvalidUrl:
        return None
    index = STAGES.index(stage)
    if index == 0:
        # The intake makes a known URL a duplicate unless it is a refresh: a new generation,
        # as the runtime's recovery of a lost article does.
        return UrlSubmitted(url=url, refresh=True, submitted_by="reconciler")
    done = StageDone(article_id=article.id, generation=article.generation, url=url)
    return next_message(STAGES[index - 1], done)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _article_of_entry(fields: dict[str, str]) -> str | None:
    aid, _ = article_of(fields)
    if aid is not None:
        return aid
    url = fields.get("url")
    if url:
        try:
            return article_id(canonical_url(url))
        except InvalidUrl:
            return None
    return None


async def waiting_articles(redis: Redis, stream: str, group: str, scan: int) -> set[str] | None:
    """The articles with an entry in ``stream`` that ``group`` has not acknowledged: pending
    (delivered to a consumer) or not yet delivered. None when either list is longer than
    ``scan``: the stage is busy, and what it holds is not read."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream: nothing waits in it
        return set()
    info = next((g for g in groups if _text(g["name"]) == group), None)
    if info is None:
        return set()
    if int(info["pending"]) > scan:
        return None
    pending = await redis.xpending_range(stream, group, min="-", max="+", count=scan)
    last = _text(info["last-delivered-id"])
    tail = await redis.xrange(stream, min=f"({last}", max="+", count=scan + 1) or []
    if len(tail) > scan:
        return None
    entries = [fields for _, fields in tail if fields]
    if pending:
        async with redis.pipeline(transaction=False) as pipe:
            for row in pending:
                pipe.xrange(stream, min=row["message_id"], max=row["message_id"], count=1)
            for rows in await pipe.execute():
                entries += [fields for _, fields in rows or [] if fields]  # none: deleted
    found = (_article_of_entry(entry_fields(fields)) for fields in entries)
    return {aid for aid in found if aid is not None}


@dataclass
class Sweep:
    """What one sweep of a stage did."""

    stage: str
    status: Status
    #: Another replica held the stage's lock: nothing was looked at.
    locked_out: bool = False
    #: The stage's backlog is over the scan cap: it is busy, nothing was published.
    busy: bool = False
    #: Articles at the status not updated for ``reconcile_after``.
    stale: int = 0
    #: Of those, articles whose next message is pending or waiting: left alone.
    waiting: int = 0
    #: Articles with no usable URL (left alone, logged).
    unsendable: list[str] = field(default_factory=list)
    #: Articles whose next message was published again.
    republished: list[str] = field(default_factory=list)


async def sweep(
    stage: Stage,
    *,
    redis: Redis,
    store: ArticleStore,
    settings: Settings,
    now: datetime | None = None,
) -> Sweep:
    """One bounded sweep of ``stage`` (see the module docstring); safe from any replica."""
    streams = Streams(settings.stream_prefix)
    status = waiting_status(stage)
    result = Sweep(stage.name, status)
    assert stage.consumes is not None
    stream = streams[stage.consumes]
    lock = Lock(
        redis,
        f"{streams.prefix}:reconcile:{stage.name}",
        timeout=LOCK_SECONDS,
        blocking=False,
        thread_local=False,
    )
    if not await lock.acquire():
        result.locked_out = True
        return result
    try:
        async with asyncio.timeout(LOCK_SECONDS / 2):
            # MongoDB first, Redis second: an article whose message is published meanwhile
            # then shows up in the stream read below rather than being sent twice.
            before = (now or datetime.now(UTC)) - timedelta(seconds=settings.reconcile_after)
            stale = await store.stranded(status, before, settings.reconcile_batch)
            result.stale = len(stale)
            if not stale:
                return result
            waiting = await waiting_articles(redis, stream, stage.name, settings.reconcile_scan)
            if waiting is None:
                result.busy = True
                return result
            for article in stale:
                if article.id in waiting:
                    result.waiting += 1
                    continue
                message = resend(stage, article)
                if message is None:
                    result.unsendable.append(article.id)
                    log.error(
                        "reconciler: article %s at %s has no usable URL (%r); left as it is",
                        short_id(article.id),
                        status.value,
                        article.url,
                    )
                    continue
                await redis.xadd(stream, message.to_fields())  # type: ignore[arg-type]  # redis-py's stubs want a dict of its broad key/value union
                result.republished.append(article.id)
                log.warning(
                    "reconciler: article %s stranded at %s since %s with no message for %s; "
                    "published its %s again",
                    short_id(article.id),
                    status.value,
                    article.updated_at.isoformat() if article.updated_at else "?",
                    stage.name,
                    type(message).__name__,
                )
    finally:
        if result.republished:
            await count_reconciled(redis, streams, stage.name, len(result.republished))
        with contextlib.suppress(LockError):  # expired meanwhile: nothing to release
            await lock.release()
    return result


async def run_periodically(
    stage: Stage, *, redis: Redis, store: ArticleStore, settings: Settings
) -> None:
    """Sweep ``stage`` every ``reconcile_interval`` seconds (jittered, so replicas started
    together do not all knock on the lock at once) until cancelled."""
    while True:
        await asyncio.sleep(settings.reconcile_interval * random.uniform(0.75, 1.25))
        try:
            done = await sweep(stage, redis=redis, store=store, settings=settings)
        except (RedisError, PyMongoError, OSError) as exc:  # a server away: try again later
            log.warning(
                "reconciler: sweep of %s failed (%s: %s); the next one tries again",
                stage.name,
                type(exc).__name__,
                exc,
            )
            continue
        except Exception:
            log.exception("reconciler: sweep of %s failed", stage.name)
            continue
        if done.busy:
            log.info(
                "reconciler: %s is busy (backlog over %d entries); not swept",
                stage.name,
                settings.reconcile_scan,
            )
