"""Reproduce, one at a time, the ways an article got stranded or lost after a crash (issue 9).

Each scenario runs the real servers and workers of the fault harness, kills one server at a
chosen moment, waits until Redis has nothing left to deliver, and prints a timeline and where
every published URL ended up. docs/reliability.md quotes what they printed::

    .venv/bin/python -m tests.fault.repro analyzer-busy  [--write-concern fast|journaled]
    .venv/bin/python -m tests.fault.repro fetcher-fails  [--write-concern fast|journaled]
    .venv/bin/python -m tests.fault.repro redis-slow-disk [--appendfsync everysec|always]

- ``analyzer-busy``: the analyzer works through a backlog; SecantusDB is SIGKILLed as soon as
  the analyzer has stored a few results (acknowledged writes) and restarted on its data.
- ``fetcher-fails``: only the fetcher runs; URLs that fail at once (404, refused port) arrive
  quickly; SecantusDB is SIGKILLed while the fetcher accepts them, and restarted.
- ``redis-slow-disk``: every worker runs; Redis's fsync takes 1.5 s (a busy disk, see
  tests/fault/slowsync.py); Redis is SIGKILLed while its append-only buffer holds acknowledged
  writes, and restarted on its data.

``--reconcile-after S`` turns the reconciler on (sweep every 2 s); 0 leaves it off, so what
is printed is what the write concern alone does. Nothing here asserts: the fault tests do.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.cli.embedded import free_port
from newsflow.domain.pipeline import STAGES, Streams
from newsflow.settings import Settings
from tests.fault import slowsync
from tests.fault.harness import Publisher, Servers, Supervisor, Tally, account
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.workers import WorkerProcesses


class Run:
    """Servers, workers and a clock for one scenario."""

    def __init__(self, args: argparse.Namespace, folder: Path, pages: CorpusServer) -> None:
        self.args = args
        self.t0 = time.monotonic()
        self.events: list[str] = []
        streams = Streams("repro")
        # everysec: each background fsync takes 1.5 s, so writes are postponed; always: the
        # fsync is synchronous before every reply, a slow one only makes Redis slow.
        delay = 1500 if args.appendfsync == "everysec" else 20
        redis_env = slowsync.env(delay) if args.scenario == "redis-slow-disk" else None
        if args.scenario == "redis-slow-disk" and redis_env is None:
            sys.exit("redis-slow-disk needs a C compiler (cc) for the slow-fsync shim")
        self.servers = Servers(
            folder / "data",
            free_port(),
            free_port(),
            appendfsync=args.appendfsync,
            redis_env=redis_env,
            watch_streams=(streams.urls,),
        )
        self.settings = Settings(
            redis_url=f"redis://127.0.0.1:{self.servers.redis_port}/0",
            mongo_url=f"mongodb://127.0.0.1:{self.servers.mongo_port}",
            mongo_db="repro",
            stream_prefix="repro",
            fetch_allowed_networks=["127.0.0.0/8"],
            fetch_allowed_ports=[pages.port],
            fetch_retries=0,
            claim_idle_ms=15_000,
            handler_timeout=12.0,
            extract_timeout=5.0,
            extract_processes=1,
            poll_interval_ms=200,
            concurrency=8,
            # Keep acknowledged entries: an entry absent after a Redis restart was lost by
            # Redis, not trimmed.
            trim_interval=3600.0,
            _env_file=None,  # type: ignore[call-arg]
        )
        self.streams = streams
        self.workers = WorkerProcesses(self.settings, folder / "workers")
        self.workers.extra_env = {"NEWSFLOW_MONGO_WRITE_CONCERN": args.write_concern}
        if args.reconcile_after > 0:
            self.workers.extra_env |= {
                "NEWSFLOW_RECONCILE_AFTER": str(args.reconcile_after),
                "NEWSFLOW_RECONCILE_INTERVAL": "2",
            }
        else:
            self.workers.extra_env["NEWSFLOW_RECONCILE_INTERVAL"] = "0"

    def note(self, what: str) -> None:
        line = f"{time.monotonic() - self.t0:6.1f} s  {what}"
        self.events.append(line)
        print(line, flush=True)


async def until(check: Callable[[], Awaitable[bool]], timeout: float, poll: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await check():
                return True
        except Exception:  # noqa: BLE001 - a server restarting: try again
            pass
        await asyncio.sleep(poll)
    return False


async def stat(redis: Redis, streams: Streams, key: str) -> int:
    return int(await redis.hget(streams.stats, key) or 0)


async def quiet(
    run: Run, redis: Redis, store: ArticleStore, accepted: list[tuple[str, str]], timeout: float
) -> Tally:
    """Wait until nothing is pending or undelivered twice in a row (and, with the reconciler
    on, until every URL is accounted for), then account."""
    deadline = time.monotonic() + timeout
    streak = 0
    tally = Tally()
    while time.monotonic() < deadline:
        try:
            tally = await account(accepted, store, redis, run.streams)
        except Exception:  # noqa: BLE001 - a server restarting
            await asyncio.sleep(1)
            continue
        idle = not any(tally.pending.values()) and not any(tally.undelivered.values())
        done = tally.settled if run.args.reconcile_after > 0 else idle
        streak = streak + 1 if done else 0
        if streak >= 3:
            break
        await asyncio.sleep(2)
    return tally


async def analyzer_busy(run: Run, redis: Redis, store: ArticleStore, urls: list[str]) -> None:
    for name in ("fetcher", "extractor", "translator"):
        run.workers.start(name)
    await asyncio.to_thread(run.workers.wait_ready, 120.0)
    publisher = Publisher(redis, run.streams)
    await publisher.publish(urls, per_second=50)
    run.note(f"{len(publisher.accepted)} URLs accepted; analyzer not started yet")

    async def all_translated() -> bool:
        counts = await store.status_counts()
        return counts.get("translated", 0) + counts.get("failed", 0) >= len(urls)

    await until(all_translated, 300, poll=1)
    run.note(f"articles per status: {await store.status_counts()}")
    run.workers.start("analyzer")
    run.note("analyzer started")
    target = run.args.kill_after

    async def analyzer_stored() -> bool:
        return await stat(redis, run.streams, "processed:analyzer") >= target

    await until(analyzer_stored, 300)
    acked = await stat(redis, run.streams, "processed:analyzer")
    await asyncio.to_thread(run.servers.restart_mongo, signal.SIGKILL, 1.0)
    run.note(
        f"SecantusDB SIGKILLed after the analyzer had stored and acknowledged {acked} "
        "articles; restarted on its data"
    )
    with Supervisor(run.workers):
        tally = await quiet(run, redis, store, publisher.accepted, run.args.settle)
    report(run, tally, publisher, await stat(redis, run.streams, "processed:analyzer"))


async def fetcher_fails(run: Run, redis: Redis, store: ArticleStore, urls: list[str]) -> None:
    run.workers.start("fetcher")
    await asyncio.to_thread(run.workers.wait_ready, 120.0)
    publisher = Publisher(redis, run.streams)
    done = asyncio.Event()

    async def publish() -> None:
        await publisher.publish(urls, per_second=80)
        done.set()

    async def crash() -> None:
        async def enough() -> bool:
            return await stat(redis, run.streams, "failed:fetcher") >= run.args.kill_after

        await until(enough, 120)
        failed = await stat(redis, run.streams, "failed:fetcher")
        await asyncio.to_thread(run.servers.restart_mongo, signal.SIGKILL, 1.0)
        run.note(
            f"SecantusDB SIGKILLed while the fetcher accepted URLs ({failed} already marked "
            "failed and acknowledged); restarted on its data"
        )

    with Supervisor(run.workers):
        await asyncio.gather(publish(), crash())
        run.note(f"{len(publisher.accepted)} URLs accepted")
        tally = await quiet(run, redis, store, publisher.accepted, run.args.settle)
    report(run, tally, publisher, await stat(redis, run.streams, "processed:fetcher"))


async def redis_slow_disk(run: Run, redis: Redis, store: ArticleStore, urls: list[str]) -> None:
    for stage in STAGES:
        run.workers.start(stage.name)
    await asyncio.to_thread(run.workers.wait_ready, 120.0)
    publisher = Publisher(redis, run.streams)

    async def crash() -> None:
        async def buffered() -> bool:
            if len(publisher.accepted) < run.args.kill_after:
                return False
            if run.args.appendfsync == "always":
                return True  # nothing is ever acknowledged before it is written and synced
            info = await redis.info("persistence")
            return int(info["aof_buffer_length"]) > 2_000

        await until(buffered, 120, poll=0.05)
        info = await redis.info("persistence")
        await asyncio.to_thread(run.servers.restart_redis, signal.SIGKILL, 1.0)
        crash = run.servers.redis_crashes[-1]
        lost = [e for _, e in publisher.accepted if crash.lost(run.streams.urls, e)]
        run.note(
            f"Redis SIGKILLed with {info['aof_buffer_length']} bytes in its AOF buffer "
            f"(not yet written to the file) and {len(publisher.accepted)} URLs accepted so far; "
            f"restarted: its urls stream ends at {crash.last_ids.get(run.streams.urls)}, "
            f"{len(lost)} accepted URL entries are not in it"
        )

    with Supervisor(run.workers):
        await asyncio.gather(publisher.publish(urls, per_second=20), crash())
        run.note(f"{len(publisher.accepted)} URLs accepted")
        tally = await quiet(run, redis, store, publisher.accepted, run.args.settle)
    crash = run.servers.redis_crashes[-1] if run.servers.redis_crashes else None
    by_redis = {
        u for u, e in publisher.accepted if crash is not None and crash.lost(run.streams.urls, e)
    }
    kept = await redis.xlen(run.streams.urls)
    print(f"urls stream after settling: {kept} entries (nothing trimmed in this scenario)")
    print(f"URLs lost by Redis (acknowledged, absent after the restart): {len(by_redis)}")
    print(
        f"  of which no document: {len(by_redis & set(tally.lost))}; document stuck "
        f"mid-pipeline: {len(by_redis & set(tally.unfinished))}"
    )
    report(run, tally, publisher, await stat(redis, run.streams, "processed:analyzer"))


def report(run: Run, tally: Tally, publisher: Publisher, processed: int) -> None:
    print("\nwhere the accepted URLs ended up")
    print(f"  accepted by Redis                     {tally.accepted}")
    print(f"  documents                             {tally.documents}  {dict(tally.by_status)}")
    print(f"  dead letters                          {tally.dead_letters}")
    print(f"  no document, no dead letter (lost)    {len(tally.lost)}")
    print(f"  document stuck mid-pipeline           {len(tally.unfinished)}")
    print(f"  pending / undelivered                 {tally.pending} {tally.undelivered}")
    print(f"  handler runs completed (last stage)   {processed}")
    print(f"  analyzed but missing a stage result   {tally.analyzed_incomplete}")
    print(f"  driven on by the reconciler           {tally.reconciled}")
    print(f"  submitted again by a stage (recovery) {tally.recovered}")
    for url in (tally.lost + tally.unfinished)[:15]:
        print(f"    {url}")


async def main(args: argparse.Namespace) -> None:
    corpus = Corpus()
    folder = Path(tempfile.mkdtemp(prefix="newsflow-repro-"))
    print(
        f"scenario {args.scenario}, write concern {args.write_concern}, Redis appendfsync "
        f"{args.appendfsync}, reconciler {f'after {args.reconcile_after:g} s' if args.reconcile_after else 'off'}; "
        f"data and logs in {folder}",
        flush=True,
    )
    with CorpusServer(corpus) as pages:
        run = Run(args, folder, pages)
        run.servers.start()
        redis = Redis.from_url(run.settings.redis_url)
        store = ArticleStore.connect(run.settings)
        try:
            await ensure_groups(redis, run.streams)
            ids = [("scrapinghub", i) for i in corpus.ids("scrapinghub")]
            ids += [("zh_cwced", i) for i in corpus.ids("zh_cwced")]
            good = [pages.url(s, i) for s, i in (ids[::2] + ids[1::2])[: args.pages]]
            if args.scenario == "analyzer-busy":
                await analyzer_busy(run, redis, store, good)
            elif args.scenario == "fetcher-fails":
                refused = free_port()
                bad = []
                for i in range(args.pages):
                    bad.append(f"http://127.0.0.1:{pages.port}/scrapinghub/missing-{i}.html")
                    bad.append(f"http://127.0.0.1:{refused}/story-{i}.html")
                await fetcher_fails(run, redis, store, bad)
            else:
                await redis_slow_disk(run, redis, store, good)
        finally:
            run.workers.stop_all(timeout=15)
            store.close()
            await redis.aclose()
            run.servers.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["analyzer-busy", "fetcher-fails", "redis-slow-disk"])
    parser.add_argument(
        "--write-concern", default="journaled", choices=["journaled", "majority", "fast"]
    )
    parser.add_argument("--appendfsync", default="everysec", choices=["everysec", "always"])
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument(
        "--kill-after",
        type=int,
        default=5,
        help="analyzer results / fetcher failures / accepted URLs before the kill",
    )
    parser.add_argument("--reconcile-after", type=float, default=0.0)
    parser.add_argument("--settle", type=float, default=120.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
