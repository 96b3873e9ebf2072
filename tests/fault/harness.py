"""The fault test's moving parts: servers that restart on their data, a supervisor that
restarts crashed workers (as compose's ``restart: unless-stopped`` does), a publisher that
records which URLs Redis accepted, and the final accounting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server, free_port, start_mongo, start_redis
from newsflow.domain.contracts import Status
from newsflow.domain.pipeline import RANK, STAGES, TERMINAL, Streams
from newsflow.domain.urls import InvalidUrl, article_id, canonical_url
from newsflow.runtime.delivery import entry_fields
from tests.support.workers import WorkerProcesses


@dataclass
class RedisCrash:
    """What a SIGKILLed Redis kept: read from its data before anyone could write again."""

    #: Wall-clock milliseconds when the server was killed: every entry id it generated is
    #: below this, every id of the restarted server above.
    killed_ms: int
    #: Each watched stream's last generated entry id as the restarted server has it.
    last_ids: dict[str, str]

    def lost(self, stream: str, entry_id: str) -> bool:
        """Whether Redis generated ``entry_id`` in ``stream`` before the kill and lost it."""
        last = self.last_ids.get(stream)
        return last is not None and _id_key(last) < _id_key(entry_id) < (self.killed_ms, 0)


@dataclass
class Servers:
    """Redis and SecantusDB with their data on disk, restartable on the same port."""

    data: Path
    redis_port: int
    mongo_port: int
    redis: Server | None = None
    mongo: Server | None = None
    restarts: Counter[str] = field(default_factory=Counter)
    #: Redis's own fsync policy (``everysec`` as the issue's deployment, or ``always``).
    appendfsync: str = "everysec"
    #: Extra environment of redis-server (a slow-fsync shim: tests/fault/slowsync.py).
    redis_env: dict[str, str] | None = None
    #: Streams whose last entry id is read after each Redis SIGKILL (see :class:`RedisCrash`).
    watch_streams: tuple[str, ...] = ()
    redis_crashes: list[RedisCrash] = field(default_factory=list)

    def _start_redis(self) -> Server:
        return start_redis(
            self.data / "redis", self.redis_port, appendfsync=self.appendfsync, env=self.redis_env
        )

    def start(self) -> None:
        self.redis = self._start_redis()
        self.mongo = start_mongo(self.data / "mongo", self.mongo_port)

    def _inspect_redis(self, killed_ms: int) -> RedisCrash:
        """Load the killed server's data on a private port, before any client can add to it,
        and note each watched stream's last entry id."""
        import redis as redis_sync

        probe = start_redis(self.data / "redis", free_port(), appendfsync=self.appendfsync)
        client = redis_sync.Redis(port=probe.port)
        try:
            last: dict[str, str] = {}
            for stream in self.watch_streams:
                with contextlib.suppress(redis_sync.ResponseError):  # no such stream yet
                    last[stream] = _name(client.xinfo_stream(stream)["last-generated-id"])
            with contextlib.suppress(redis_sync.ConnectionError):
                client.shutdown(nosave=True)
            probe.proc.wait(15)
        finally:
            client.close()
            probe.kill()
            if probe._log:
                probe._log.close()
        return RedisCrash(killed_ms, last)

    def _halt(self, server: Server, how: signal.Signals) -> None:
        if how == signal.SIGKILL:
            server.kill()
        else:
            server.stop()
        if server._log:
            server._log.close()

    def restart_redis(self, how: signal.Signals, down_for: float = 1.0) -> None:
        """Stop Redis (SIGTERM: clean, SIGKILL: crash) and start it on the same data."""
        assert self.redis is not None
        self._halt(self.redis, how)
        killed_ms = int(time.time() * 1000)
        started = time.monotonic()
        if how == signal.SIGKILL and self.watch_streams:
            self.redis_crashes.append(self._inspect_redis(killed_ms))
        time.sleep(max(0.0, down_for - (time.monotonic() - started)))
        self.redis = self._start_redis()
        self.restarts[f"redis {how.name}"] += 1

    def restart_mongo(self, how: signal.Signals, down_for: float = 1.0) -> None:
        """Stop SecantusDB (SIGTERM or SIGKILL) and start it on the same data."""
        assert self.mongo is not None
        self._halt(self.mongo, how)
        time.sleep(down_for)
        self.mongo = start_mongo(self.data / "mongo", self.mongo_port)
        self.restarts[f"mongodb {how.name}"] += 1

    def stop(self) -> None:
        for server in (self.redis, self.mongo):
            if server is not None:
                server.stop()


class Supervisor:
    """Restarts any worker process that exits, like compose's ``restart: unless-stopped``.

    ``kills`` and ``terminations`` count the SIGKILLs and SIGTERMs we sent,
    ``unexpected_exits`` the exits we did not cause
    (a worker that gave up on its own when Redis or MongoDB went away).
    """

    def __init__(self, workers: WorkerProcesses) -> None:
        self.workers = workers
        self.kills: Counter[str] = Counter()
        self.terminations: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self.unexpected_exits: Counter[str] = Counter()
        #: "name-index exited with code N" for every exit we did not cause.
        self.exit_notes: list[str] = []
        self._killed: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def alive(self, name: str, index: int) -> bool:
        return self.workers.procs[name][index].poll() is None

    def kill(self, name: str, index: int) -> None:
        """SIGKILL one replica (its process group: the extractor's children too)."""
        proc = self.workers.procs[name][index]
        if proc.poll() is not None:
            return  # already gone (being restarted): not a kill of ours
        self._killed.add(proc.pid)
        self.workers.kill(name, index)
        self.kills[name] += 1

    def terminate(self, name: str, index: int) -> None:
        """SIGTERM one replica, as ``docker compose stop``/``restart`` does (no wait)."""
        proc = self.workers.procs[name][index]
        if proc.poll() is not None:
            return
        self._killed.add(proc.pid)
        proc.send_signal(signal.SIGTERM)
        self.terminations[name] += 1

    async def _watch(self) -> None:
        while True:
            for name, replicas in self.workers.procs.items():
                for index, proc in enumerate(replicas):
                    if proc.poll() is None:
                        continue
                    if proc.pid not in self._killed:
                        self.unexpected_exits[name] += 1
                        self.exit_notes.append(f"{name}-{index} exited with {proc.returncode}")
                    await asyncio.sleep(0.5)  # compose waits a little before a restart too
                    self.workers.start(name, index)
                    self.restarts[name] += 1
            await asyncio.sleep(0.3)

    def __enter__(self) -> Self:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


@dataclass
class Publisher:
    """XADDs URLs as any client would, retrying while Redis is down.

    A URL counts as accepted once Redis answered the XADD with an entry id: that is the
    promise the system makes to whoever published it.
    """

    redis: Redis
    streams: Streams
    accepted: list[tuple[str, str]] = field(default_factory=list)
    retries: int = 0

    async def publish(self, urls: list[str], per_second: float) -> None:
        for url in urls:
            while True:
                try:
                    entry = await self.redis.xadd(
                        self.streams.urls, {"url": url, "submitted_by": "fault-test"}
                    )
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    self.retries += 1
                    await asyncio.sleep(0.2)
                    continue
                self.accepted.append((url, entry.decode() if isinstance(entry, bytes) else entry))
                break
            await asyncio.sleep(1 / per_second)


async def _retrying(make: Any, attempts: int = 50) -> Any:
    """Run a read against a server that may be restarting."""
    for _ in range(attempts - 1):
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            return await make()
        await asyncio.sleep(0.2)
    return await make()


@dataclass
class Tally:
    """Where every accepted URL ended up, and what is left in Redis."""

    accepted: int = 0
    distinct_canonical: int = 0
    invalid_urls: int = 0
    documents: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    dead_by_stage: Counter[str] = field(default_factory=Counter)
    #: Accepted URLs with no finished document and no dead letter: lost.
    lost: list[str] = field(default_factory=list)
    #: Accepted URLs whose document is still in progress (not analyzed, not failed).
    unfinished: list[str] = field(default_factory=list)
    #: Documents whose canonical URL another document also has.
    shared_canonical: int = 0
    #: Documents nobody submitted (should be none).
    stray_documents: int = 0
    failed_without_reason: int = 0
    #: Analyzed documents missing a stage's result (a regression by a stale message).
    analyzed_incomplete: int = 0
    #: Dead letters without the original entry, stage, error or delivery count.
    dead_letters_incomplete: int = 0
    pending: dict[str, int] = field(default_factory=dict)
    undelivered: dict[str, bool] = field(default_factory=dict)
    processed: dict[str, int] = field(default_factory=dict)
    #: Handler runs a fault-free run needs per stage (one per message it must handle).
    needed: dict[str, int] = field(default_factory=dict)
    duplicates_merged: int = 0
    #: Accepted URLs whose entry Redis lost in a crash (acknowledged, then absent).
    redis_lost: list[str] = field(default_factory=list)
    #: Canonical URLs Redis lost every submission of before the fetcher made a document.
    redis_lost_no_document: int = 0
    #: Accepted URLs Redis lost that left nothing at all (no document, no dead letter).
    redis_lost_unseen: int = 0
    #: Dead letters beyond the first for one stream entry (should be none).
    dead_letters_repeated: int = 0
    #: Articles each stage's reconciler drove on, and articles each stage submitted again.
    reconciled: dict[str, int] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return (
            not self.lost
            and not self.unfinished
            and not any(self.pending.values())
            and not any(self.undelivered.values())
        )


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def account(
    accepted: list[tuple[str, str]],
    store: ArticleStore,
    redis: Redis,
    streams: Streams,
    crashes: list[RedisCrash] | None = None,
) -> Tally:
    """Check every accepted URL against the articles and the dead-letter stream.

    A URL whose entry one of ``crashes`` lost is Redis's loss, not Newsflow's: it is counted
    in ``redis_lost``; if it has a document anyway, that document must be finished.
    """
    tally = Tally(accepted=len(accepted))
    everything = await store.page(limit=1_000_000)
    docs = {a.id: a.document() for a in everything.items}
    tally.documents = len(docs)
    urls = Counter(d["url"] for d in docs.values())
    tally.shared_canonical = sum(n for n in urls.values() if n > 1)
    stages = [s.field for s in STAGES]
    for d in docs.values():
        tally.by_status[d["status"]] += 1
        if d["status"] == "analyzed" and (
            d.get("progress") != RANK[Status.ANALYZED]
            or not all((d.get(k) or {}).get("status") for k in stages)
        ):
            tally.analyzed_incomplete += 1
        if d["status"] == "failed":
            reason = (d.get("failure") or {}).get("reason") or ""
            if not reason:
                tally.failed_without_reason += 1
            tally.failure_reasons[_reason_kind(reason)] += 1

    dead_rows = await _retrying(lambda: redis.xrange(streams.dead))
    dead_urls: set[str] = set()
    dead_articles: set[str] = set()
    dead_entries: Counter[tuple[str, str]] = Counter()
    for _, raw in dead_rows:
        entry = entry_fields(raw)
        tally.dead_letters += 1
        dead_entries[(entry.get("stream", ""), entry.get("entry_id", ""))] += 1
        if not all(entry.get(k) for k in ("stream", "stage", "entry_id", "fields", "error")) or (
            int(entry.get("deliveries") or 0) < 1
        ):
            tally.dead_letters_incomplete += 1
        tally.dead_by_stage[entry.get("stage", "?")] += 1
        if entry.get("article_id"):
            dead_articles.add(entry["article_id"])
        with contextlib.suppress(ValueError):
            fields = json.loads(entry.get("fields", "{}"))
            if isinstance(fields, dict) and isinstance(fields.get("url"), str):
                dead_urls.add(fields["url"])

    tally.dead_letters_repeated = sum(n - 1 for n in dead_entries.values())

    wanted: set[str] = set()
    kept_by_redis: set[str] = set()  # canonical ids with a submission Redis did not lose
    lost_by_redis: set[str] = set()
    for url, entry_id in accepted:
        by_redis = any(c.lost(streams.urls, entry_id) for c in crashes or [])
        if by_redis:
            tally.redis_lost.append(url)
        try:
            aid = article_id(canonical_url(url))
        except InvalidUrl:
            tally.invalid_urls += 1
            if url not in dead_urls:
                if by_redis:
                    tally.redis_lost_unseen += 1
                else:
                    tally.lost.append(url)
            continue
        wanted.add(aid)
        (lost_by_redis if by_redis else kept_by_redis).add(aid)
        doc = docs.get(aid)
        if doc is not None and doc["status"] in TERMINAL:
            continue
        if url in dead_urls or aid in dead_articles:
            continue
        if doc is None and by_redis:
            tally.redis_lost_unseen += 1  # Redis lost it before the fetcher took it
            continue
        (tally.unfinished if doc is not None else tally.lost).append(url)
    tally.distinct_canonical = len(wanted)
    tally.stray_documents = len(set(docs) - wanted)
    tally.redis_lost_no_document = len((lost_by_redis - kept_by_redis) - set(docs))

    for group, stream in streams.inputs().items():
        summary = await _retrying(lambda s=stream, g=group: redis.xpending(s, g))
        tally.pending[group] = int(summary["pending"])
        info = await _retrying(lambda s=stream: redis.xinfo_stream(s))
        last = info["last-generated-id"]
        last = last.decode() if isinstance(last, bytes) else str(last)
        groups = await _retrying(lambda s=stream: redis.xinfo_groups(s))
        delivered = next(
            (g["last-delivered-id"] for g in groups if _name(g["name"]) == group), b"0-0"
        )
        delivered = delivered.decode() if isinstance(delivered, bytes) else str(delivered)
        tally.undelivered[group] = _id_key(delivered) < _id_key(last)
    stats = await _retrying(lambda: redis.hgetall(streams.stats))
    for key, value in stats.items():
        k = _name(key)
        if k.startswith("processed:"):
            tally.processed[k.split(":", 1)[1]] = int(value)
        if k == "duplicate:fetcher":
            tally.duplicates_merged = int(value)
        if k.startswith("reconciled:"):
            tally.reconciled[k.split(":", 1)[1]] = int(value)
        if k.startswith("recovered:"):
            tally.recovered[k.split(":", 1)[1]] = int(value)

    def reached(stage: str) -> int:
        return sum(1 for d in docs.values() if (d.get(stage) or {}).get("status"))

    tally.needed = {
        "fetcher": tally.accepted - tally.invalid_urls,
        "extractor": sum(1 for d in docs.values() if (d.get("fetch") or {}).get("status") == "ok"),
        "translator": sum(
            1 for d in docs.values() if (d.get("extraction") or {}).get("status") == "ok"
        ),
        "analyzer": reached("translation"),
    }
    return tally


def _name(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _reason_kind(reason: str) -> str:
    """A short bucket for a failure reason, for the summary table."""
    lowered = reason.lower()
    for needle, kind in (
        ("gave up after", "dead-lettered (retries exhausted)"),
        ("invalid message", "dead-lettered (invalid)"),
        ("404", "HTTP 404"),
        ("port", "refused port"),
        ("not processed further", "not an article / teaser / paywall"),
        ("timed out", "extraction timed out"),
    ):
        if needle in lowered:
            return kind
    return reason[:60]


def summary(
    tally: Tally,
    *,
    elapsed: float,
    settle: float,
    sup: Supervisor,
    servers: Servers,
    publisher: Publisher,
    published: int,
) -> str:
    """The table the fault test prints."""
    rows: list[tuple[str, str]] = [
        ("URLs published (XADD)", str(published)),
        ("  accepted by Redis (entry id returned)", str(tally.accepted)),
        ("  publish retries while Redis was down", str(publisher.retries)),
        ("  distinct canonical URLs (valid)", str(tally.distinct_canonical)),
        ("  invalid URLs (no article possible)", str(tally.invalid_urls)),
        ("article documents", str(tally.documents)),
    ]
    rows += [(f"  status {k}", str(v)) for k, v in sorted(tally.by_status.items())]
    rows += [(f"    failed: {k}", str(v)) for k, v in tally.failure_reasons.most_common()]
    rows += [
        ("dead letters", str(tally.dead_letters)),
        *[(f"  from {k}", str(v)) for k, v in sorted(tally.dead_by_stage.items())],
        ("lost by Redis (acknowledged, absent after its restart)", str(len(tally.redis_lost))),
        ("  of which left nothing (no document, no dead letter)", str(tally.redis_lost_unseen)),
        ("LOST (accepted, no document, no dead letter)", str(len(tally.lost))),
        ("UNFINISHED (document stuck mid-pipeline)", str(len(tally.unfinished))),
        ("documents sharing a canonical URL", str(tally.shared_canonical)),
        ("documents nobody submitted", str(tally.stray_documents)),
        ("failed without a reason", str(tally.failed_without_reason)),
        ("analyzed but missing a stage's result", str(tally.analyzed_incomplete)),
        ("dead letters missing entry/stage/error/count", str(tally.dead_letters_incomplete)),
        ("dead letters repeated for one entry", str(tally.dead_letters_repeated)),
        *[(f"reconciled (driven on) at {g}", str(n)) for g, n in sorted(tally.reconciled.items())],
        *[
            (f"recovered (submitted again) by {g}", str(n))
            for g, n in sorted(tally.recovered.items())
        ],
        *[(f"pending in group {g}", str(n)) for g, n in tally.pending.items()],
        ("duplicate submissions merged into their article", str(tally.duplicates_merged)),
        *[
            (f"{g}: handler runs completed / needed", f"{tally.processed.get(g, 0)}/{n}")
            for g, n in tally.needed.items()
        ],
        *[(f"kill -9 {k}", str(v)) for k, v in sorted(sup.kills.items())],
        *[(f"SIGTERM (graceful stop) {k}", str(v)) for k, v in sorted(sup.terminations.items())],
        *[(f"restart {k}", str(v)) for k, v in sorted(servers.restarts.items())],
        ("workers restarted by the supervisor", str(sum(sup.restarts.values()))),
        ("  of which exited on their own", str(sum(sup.unexpected_exits.values()))),
        ("time: whole test / settling after chaos", f"{elapsed:.0f} s / {settle:.0f} s"),
    ]
    width = max(len(k) for k, _ in rows) + 2
    lines = ["", "fault test summary", "-" * (width + 8)]
    lines += [f"{k:<{width}}{v:>8}" for k, v in rows]
    return "\n".join(lines)
