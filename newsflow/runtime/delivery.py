"""At-least-once delivery on Redis Streams: consumer groups, reclaiming, dead letters, trimming.

FastStream reads the streams; this module adds what it leaves to us (see FIELD-NOTES.md):

- groups are created at ``0`` before anyone consumes, so nothing published early is skipped;
- every handler runs under a hard timeout shorter than the reclaim idle time;
- a message that fails stays pending and is reclaimed (XAUTOCLAIM) after ``claim_idle_ms``;
  after ``max_deliveries`` it goes to the dead-letter stream with the original entry, the
  stage, the error and the delivery count, and its article is marked failed;
- a message that cannot be decoded or validated is dead-lettered at once, never looped;
- streams are trimmed of acknowledged entries only, never below what is still pending.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple

from faststream import BaseMiddleware
from faststream.exceptions import FastStreamException
from faststream.message import StreamMessage
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from newsflow import metrics
from newsflow.domain.contracts import MAX_GENERATION
from newsflow.domain.pipeline import Streams
from newsflow.domain.redact import mask_secrets, public_error
from newsflow.domain.urls import InvalidUrl

log = logging.getLogger("newsflow.runtime.delivery")


#: Marks the article of a dead-lettered entry failed: (article id, generation, reason).
OnDead = Callable[[str, int | None, str], Awaitable[None]]


class HandlerTimeout(Exception):
    """The handler ran longer than ``handler_timeout``."""

    public_message = True  # our own words: shown on the article as they are


#: Errors that no redelivery can fix: the entry itself is malformed.
_MALFORMED: tuple[type[BaseException], ...] = (
    ValidationError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    FastStreamException,
    InvalidUrl,
)


async def delivery_count(redis: Redis, stream: str, group: str, entry_id: str) -> int:
    """How many times the pending entry has been delivered (0 if it is not pending)."""
    rows = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    return int(rows[0]["times_delivered"]) if rows else 0


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def entry_fields(
    data: Mapping[bytes | str, bytes | str] | Mapping[bytes, bytes] | Mapping[str, str],
) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in data.items()}


def undecodable_fields(data: Mapping[Any, Any]) -> dict[str, str] | None:
    """The entry's fields as base64 (keys and values) when one of them is not UTF-8, whose
    text form (:func:`entry_fields`) replaced bytes with U+FFFD; None when all are text. A
    dead letter keeps them, so the entry is kept byte for byte."""

    def raw(value: Any) -> bytes:
        return value if isinstance(value, bytes) else str(value).encode("utf-8")

    def utf8(value: bytes) -> bool:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    pairs = [(raw(k), raw(v)) for k, v in data.items()]
    if all(utf8(k) and utf8(v) for k, v in pairs):
        return None
    return {base64.b64encode(k).decode(): base64.b64encode(v).decode() for k, v in pairs}


def article_of(fields: dict[str, str]) -> tuple[str | None, int | None]:
    """The article id and generation carried by an entry's fields, if it carries them
    (every message travels as plain fields: :meth:`~newsflow.domain.contracts.Message.to_fields`)."""
    aid = fields.get("article_id")
    gen = fields.get("generation")
    try:
        gen_int = int(gen) if gen is not None else None
    except ValueError:
        gen_int = None
    if gen_int is not None and not 1 <= gen_int <= MAX_GENERATION:
        # No article has that generation (and MongoDB could not even compare it): the entry
        # names none, so its dead letter touches no article.
        return None, None
    return (aid if aid is not None and len(aid) == 64 else None), gen_int


class Requeued(NamedTuple):
    """What :meth:`DeadLetters.requeue` did: (dead id, new id) pairs, and the dead letters
    it left because their fields cannot be read."""

    done: list[tuple[str, str]]
    kept: list[str]


class DeadLetters:
    """The dead-letter stream: write, list, requeue."""

    def __init__(self, redis: Redis, streams: Streams) -> None:
        self.redis = redis
        self.streams = streams

    async def add(
        self,
        *,
        stream: str,
        group: str,
        entry_id: str,
        fields: dict[str, str],
        error: str,
        deliveries: int,
        acknowledge: bool = False,
        raw_fields: dict[str, str] | None = None,
    ) -> str:
        """Write the dead letter of ``entry_id``; with ``acknowledge``, acknowledge the entry
        in ``group`` in the same transaction (MULTI/EXEC, which Redis writes to its
        append-only file as one block): a Redis that loses the acknowledgement in a crash
        loses the dead letter with it, so the entry is never dead-lettered twice."""
        entry = {
            "stream": stream,
            "stage": group,
            "entry_id": entry_id,
            "fields": json.dumps(fields, ensure_ascii=False),
            "error": error[:2000],
            "deliveries": str(deliveries),
            "dead_at": datetime.now(UTC).isoformat(),
        }
        if raw_fields is not None:
            # fields that were not UTF-8, byte for byte (base64): ``requeue`` sends these
            entry["fields_b64"] = json.dumps(raw_fields)
        aid, _ = article_of(fields)
        if aid:
            entry["article_id"] = aid
        async with self.redis.pipeline(transaction=True) as tx:
            tx.xadd(self.streams.dead, entry)  # type: ignore[arg-type]
            tx.hincrby(self.streams.stats, f"dead:{group}", 1)
            if acknowledge:
                tx.xack(stream, group, entry_id)
            new_id, *_ = await tx.execute()
        return _text(new_id)

    async def list(self, count: int = 100) -> builtins.list[tuple[str, dict[str, str]]]:
        rows: Any = await self.redis.xrange(self.streams.dead, count=count)
        return [(_text(i), entry_fields(f)) for i, f in rows or []]

    async def requeue(self, entry_ids: builtins.list[str] | None = None) -> Requeued:
        """Publish dead letters back onto their streams: (dead id, new id) pairs.

        A dead letter whose stored fields cannot be read back (edited by hand in Redis) is
        left where it is, with a warning, and named in ``kept``; the others still go."""
        requeued = Requeued([], [])
        for dead_id, entry in await self.list(count=100_000):
            if entry_ids is not None and dead_id not in entry_ids:
                continue
            try:
                fields = _stored_fields(entry)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                log.warning("dead letter %s kept: its fields cannot be read (%s)", dead_id, exc)
                requeued.kept.append(dead_id)
                continue
            new_id = await self.redis.xadd(entry["stream"], fields)
            await self.redis.xdel(self.streams.dead, dead_id)
            requeued.done.append((dead_id, _text(new_id)))
        return requeued


def _stored_fields(entry: dict[str, str]) -> dict[Any, Any]:
    """A dead letter's entry fields as they came: the bytes when it kept them."""
    if "fields_b64" in entry:
        raw = json.loads(entry["fields_b64"])
        return {
            base64.b64decode(k, validate=True): base64.b64decode(v, validate=True)
            for k, v in raw.items()
        }
    fields = json.loads(entry["fields"])
    if not isinstance(fields, dict) or not fields:
        raise ValueError("not a mapping of fields")
    return {str(k): str(v) for k, v in fields.items()}


class DeliveryGuard(BaseMiddleware):
    """Hard timeout, retry cap and dead-lettering around every handled entry.

    Built per message by :func:`guard_factory`; configuration lives on the class made there.
    """

    redis: Redis
    dead: DeadLetters
    group: str
    stats_key: str
    timeout: float
    max_deliveries: int
    on_dead: OnDead
    #: When the handling of this delivery started (perf_counter), for the metrics.
    started: float | None = None

    def _elapsed(self) -> float | None:
        return None if self.started is None else time.perf_counter() - self.started

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        self.started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                return await call_next(msg)
        except TimeoutError:
            raise HandlerTimeout(f"handler ran longer than {self.timeout:g} s") from None

    async def after_processed(  # FastStream's signature; only the exception is needed
        self,
        exc_type: type[BaseException] | None = None,  # noqa: ARG002
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,  # noqa: ARG002
    ) -> bool | None:
        raw = self.msg if isinstance(self.msg, dict) else {}
        stream = str(raw.get("channel", ""))
        ids = raw.get("message_ids") or []
        if exc_val is None:
            if stream:
                metrics.delivery(self.group, "processed", self._elapsed())
                await self.redis.hincrby(self.stats_key, f"processed:{self.group}", 1)
            return False
        if isinstance(exc_val, asyncio.CancelledError) or not ids or not stream:
            return False  # shutting down: the entry stays pending and is reclaimed
        metrics.delivery(self.group, "failed", self._elapsed())
        entry_id = _text(ids[0])
        data = raw.get("data") or {}
        fields = entry_fields(data)
        malformed = isinstance(exc_val, _MALFORMED)
        try:
            deliveries = await delivery_count(self.redis, stream, self.group, entry_id)
        except Exception:  # Redis unreachable: leave the entry pending, it will come back
            log.exception("cannot read the delivery count of %s", entry_id)
            metrics.delivery(self.group, "retried")
            return False
        if not malformed and deliveries < self.max_deliveries:
            log.warning(
                "%s %s failed (delivery %d of %d): %s",
                stream,
                entry_id,
                deliveries,
                self.max_deliveries,
                exc_val,
            )
            metrics.delivery(self.group, "retried")
            return False
        # The dead letter (read by operators) keeps the details, credentials masked; the
        # article's failure (shown to anonymous readers) says what kind of error it was: an
        # exception's text can name internal addresses and database URLs.
        if malformed:
            reason = f"invalid message: {mask_secrets(str(exc_val))}"
            public = f"invalid message ({public_error(exc_val)})"
        else:
            reason = (
                f"gave up after {deliveries} deliveries: "
                f"{mask_secrets(f'{type(exc_val).__name__}: {exc_val}')}"
            )
            public = f"gave up after {deliveries} deliveries: {public_error(exc_val)}"
        aid, generation = article_of(fields)
        try:
            # The article first: if MongoDB is down the entry stays pending and comes back,
            # instead of leaving a dead letter whose article never learns it failed (and a
            # second dead letter for the same entry on the next delivery).
            if aid:
                await self.on_dead(aid, generation, public)
            await self.dead.add(
                stream=stream,
                group=self.group,
                entry_id=entry_id,
                fields=fields,
                error=reason,
                deliveries=deliveries,
                acknowledge=True,
                raw_fields=undecodable_fields(data),
            )
        except Exception:  # a store is down: leave it pending, it will come back
            log.exception("cannot dead-letter %s %s yet", stream, entry_id)
            metrics.delivery(self.group, "retried")
            return False
        log.error("dead-lettered %s %s: %s", stream, entry_id, reason)
        metrics.delivery(
            self.group, "dead_lettered", reason="malformed" if malformed else "max_deliveries"
        )
        return True  # suppressed: the entry is acknowledged


def guard_factory(
    *,
    redis: Redis,
    streams: Streams,
    group: str,
    timeout: float,
    max_deliveries: int,
    on_dead: OnDead,
) -> type[DeliveryGuard]:
    return type(
        "DeliveryGuardFor" + group.title(),
        (DeliveryGuard,),
        {
            "redis": redis,
            "dead": DeadLetters(redis, streams),
            "group": group,
            "stats_key": streams.stats,
            "timeout": timeout,
            "max_deliveries": max_deliveries,
            "on_dead": staticmethod(on_dead),
        },
    )


async def release_pending(
    redis: Redis, stream: str, group: str, consumers: list[str], idle_ms: int
) -> int:
    """Hand back the entries ``consumers`` still hold, so another replica takes them at once.

    A stopping worker calls this after its handlers finished or were cancelled: what it read
    but did not acknowledge is marked idle for ``idle_ms`` (the reclaim threshold), so the
    next XAUTOCLAIM of any replica picks it up instead of waiting out the idle time.
    ``JUSTID`` keeps the delivery count unchanged: a shutdown is not a failed attempt.
    Returns how many entries were released.
    """
    released = 0
    for consumer in consumers:
        start = "-"
        while True:
            rows = await redis.xpending_range(
                stream, group, min=start, max="+", count=100, consumername=consumer
            )
            ids: list[Any] = [row["message_id"] for row in rows]
            if not ids:
                break
            # Claimed by the same consumer name, with an idle time old enough for a reclaim.
            await redis.xclaim(stream, group, consumer, 0, list(ids), idle=idle_ms, justid=True)
            released += len(ids)
            if len(ids) < 100:
                break
            start = f"({_text(ids[-1])}"  # the entries stay pending: page past them
    return released


async def prune_consumers(redis: Redis, stream: str, group: str, idle_ms: int) -> int:
    """Delete consumers that hold nothing and have been idle longer than ``idle_ms``.

    Every worker process has its own consumer names (hostname + pid), so restarts leave
    names behind; pruning keeps ``XINFO CONSUMERS`` to the live replicas. A consumer with
    pending entries is never deleted (that would drop its entries from the pending list).
    """
    removed = 0
    for row in await redis.xinfo_consumers(stream, group):
        if int(row["pending"]) == 0 and int(row["idle"]) > idle_ms:
            await redis.xgroup_delconsumer(stream, group, _text(row["name"]))
            removed += 1
    return removed


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def trim_acknowledged(redis: Redis, stream: str) -> int:
    """Delete the entries every group has read and acknowledged; returns how many went.

    The cut is the oldest entry that is still pending or not yet delivered to some group:
    nothing unacknowledged is ever trimmed.
    """
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return 0
    if not groups:
        return 0
    cut: tuple[int, int] | None = None
    for g in groups:
        name = _text(g["name"])
        candidate = _next_id(_text(g["last-delivered-id"]))
        summary = await redis.xpending(stream, name)
        if summary and summary.get("pending"):
            candidate = _text(summary["min"])
        key = _id_key(candidate)
        cut = key if cut is None or key < cut else cut
    if cut is None or cut == (0, 1):
        return 0
    return int(await redis.xtrim(stream, minid=f"{cut[0]}-{cut[1]}", approximate=False))
