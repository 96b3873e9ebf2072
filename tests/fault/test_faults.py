"""The fault test: a few hundred URLs through the real workers while we break things.

Real redis-server (AOF, appendfsync everysec) and SecantusDB with their data on disk, the
four workers as ``python -m services.<name>`` (two replicas each) and real news pages from
the corpus server on 127.0.0.1, plus URLs that fail: 404s, a port the fetcher refuses to
dial, URLs that are not http(s) at all, and duplicates. While the URLs flow we SIGKILL every
kind of worker several times, stop two workers gracefully (SIGTERM), stop Redis cleanly and
restart it, SIGKILL Redis and restart it, SIGKILL SecantusDB and restart it, and stop it
cleanly and restart it. A supervisor restarts any worker that exits, as compose's
``restart: unless-stopped`` does.

When the system settles, every URL that Redis accepted must be in exactly one finished
article document (analyzed, or failed with a reason) or in the dead-letter stream, no two
documents may share a canonical URL, and every pending list must be empty.

Run: ``.venv/bin/pytest tests/fault -m fault -s`` (``make test-fault``). The counts are
printed; ``NEWSFLOW_FAULT_PAGES`` sets how many corpus pages are used (default 160).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.cli.embedded import free_port
from newsflow.domain.pipeline import Streams
from newsflow.settings import Settings
from tests.fault.harness import Publisher, Servers, Supervisor, Tally, account, summary
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.workers import STAGES, WorkerProcesses

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]

REPLICAS = 2
#: How long the system may take to settle once the chaos is over (seconds).
SETTLE_TIMEOUT = 240.0


def fault_urls(server: CorpusServer, corpus: Corpus, pages: int, refused_port: int) -> list[str]:
    """Corpus pages, their duplicates, 404s, a refused port and non-http URLs, interleaved."""
    ids = [("scrapinghub", i) for i in corpus.ids("scrapinghub")]
    ids += [("zh_cwced", i) for i in corpus.ids("zh_cwced")]
    # both sets in the mix whatever the page count
    ids = ids[::2] + ids[1::2]
    good = [server.url(s, i) for s, i in ids[:pages]]
    duplicates = [u + "?utm_source=fault&utm_medium=test" for u in good[::5]]
    missing = [f"http://127.0.0.1:{server.port}/scrapinghub/missing-{i}.html" for i in range(30)]
    refused = [f"http://127.0.0.1:{refused_port}/story-{i}.html" for i in range(10)]
    invalid = [f"ftp://127.0.0.1/story-{i}.txt" for i in range(10)]
    bad = missing + refused + invalid
    urls: list[str] = []
    step = max(1, len(good) // len(bad))
    for n, url in enumerate(good):
        urls.append(url)
        if n % step == 0 and bad:
            urls.append(bad.pop())
    urls += bad
    # duplicates arrive while the originals are still being worked on
    for n, dup in enumerate(duplicates):
        urls.insert(min(len(urls), 20 + n * 5), dup)
    return urls


async def chaos(
    sup: Supervisor, servers: Servers, log: list[str], published: asyncio.Event
) -> None:
    """Kill every kind of worker several times; restart Redis and SecantusDB twice each."""
    t0 = time.monotonic()

    def note(what: str) -> None:
        log.append(f"{time.monotonic() - t0:6.1f} s  {what}")

    async def kill(name: str, index: int) -> None:
        sup.kill(name, index)
        note(f"kill -9 {name}-{index}")

    async def term(name: str, index: int) -> None:
        sup.terminate(name, index)
        note(f"SIGTERM {name}-{index} (graceful stop, then restarted)")

    steps: list[tuple[float, Callable[[], Awaitable[None]]]] = [
        (3, lambda: kill("fetcher", 0)),
        (5, lambda: kill("extractor", 0)),
        (7, lambda: kill("translator", 0)),
        (9, lambda: kill("analyzer", 0)),
        (11, lambda: restart(servers.restart_redis, signal.SIGTERM, "redis SIGTERM + start")),
        (17, lambda: kill("extractor", 1)),
        (19, lambda: kill("fetcher", 1)),
        (22, lambda: restart(servers.restart_mongo, signal.SIGKILL, "mongodb SIGKILL + start")),
        (28, lambda: kill("translator", 1)),
        (30, lambda: kill("analyzer", 1)),
        # After the last URL was accepted: see docs/reliability.md on what a crash of
        # Redis may lose, and why the stage messages it may lose come back anyway.
        (33, lambda: crash_redis()),
        (39, lambda: kill("extractor", 0)),
        (41, lambda: kill("fetcher", 0)),
        (44, lambda: restart(servers.restart_mongo, signal.SIGTERM, "mongodb SIGTERM + start")),
        (48, lambda: term("extractor", 0)),
        (49, lambda: term("fetcher", 1)),
        (50, lambda: kill("analyzer", 0)),
        (52, lambda: kill("translator", 0)),
        (55, lambda: kill("extractor", 1)),
    ]

    async def restart(fn: Callable[[signal.Signals], None], how: signal.Signals, what: str) -> None:
        note(what + " ...")
        await asyncio.to_thread(fn, how)
        note(what + " done")

    async def crash_redis() -> None:
        # More than the AOF's one-second fsync window after the last accepted URL.
        await published.wait()
        await asyncio.sleep(2)
        await restart(servers.restart_redis, signal.SIGKILL, "redis SIGKILL + start")

    for at, step in steps:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - t0)))
        await step()


async def wait_settled(
    check: Callable[[], Awaitable[Tally]], timeout: float
) -> Tally:
    """Poll the accounting until it holds twice in a row (or the time is up)."""
    deadline = time.monotonic() + timeout
    streak = 0
    tally = await check()
    while time.monotonic() < deadline:
        tally = await check()
        streak = streak + 1 if tally.settled else 0
        if streak >= 2:
            return tally
        await asyncio.sleep(2)
    return tally


async def test_nothing_lost_nothing_duplicated_under_faults(tmp_path: Path) -> None:
    started = time.monotonic()
    corpus = Corpus()
    pages = int(os.environ.get("NEWSFLOW_FAULT_PAGES", "160"))
    servers = Servers(tmp_path / "data", free_port(), free_port())
    servers.start()
    refused_port = free_port()  # never listened on, and not an allowed port: never dialled
    with CorpusServer(corpus) as pages_server:
        settings = Settings(
            redis_url=f"redis://127.0.0.1:{servers.redis_port}/0",
            mongo_url=f"mongodb://127.0.0.1:{servers.mongo_port}",
            mongo_db="fault",
            stream_prefix="fault",
            fetch_allowed_networks=["127.0.0.0/8"],
            fetch_allowed_ports=[pages_server.port],
            fetch_retries=1,
            fetch_backoff=0.2,
            # An extractor replica runs two pages per child process, so a handler may wait for
            # one extraction before its own: handler_timeout > 2 x extract_timeout. A shorter
            # handler timeout on a loaded machine kills pool children mid-warm-up again and
            # again (each timeout cancels the page and pebble kills its child).
            claim_idle_ms=20_000,
            handler_timeout=18.0,
            extract_timeout=8.0,
            extract_processes=1,
            max_deliveries=6,
            poll_interval_ms=200,
            trim_interval=2.0,
            graceful_timeout=5.0,
            concurrency=4,
            _env_file=None,  # type: ignore[call-arg]
        )
        streams = Streams(settings.stream_prefix)
        redis = Redis.from_url(settings.redis_url)
        store = ArticleStore.connect(settings)
        workers = WorkerProcesses(settings, tmp_path / "workers")
        try:
            await ensure_groups(redis, streams)
            for name in STAGES:
                for _ in range(REPLICAS):
                    workers.start(name)
            await asyncio.to_thread(workers.wait_ready, 120.0)
            urls = fault_urls(pages_server, corpus, pages, refused_port)
            publisher = Publisher(redis, streams)
            events: list[str] = []
            with Supervisor(workers) as sup:
                # Publishing takes ~22 s: the clean Redis restart (11 s) happens while URLs
                # arrive, the Redis SIGKILL (33 s) once every URL has been accepted.
                rate = max(8.0, len(urls) / 22)
                published = asyncio.Event()

                async def publish_all() -> None:
                    await publisher.publish(urls, per_second=rate)
                    published.set()
                    events.append(f"{time.monotonic() - chaos_start:6.1f} s  last URL accepted")

                chaos_start = time.monotonic()
                await asyncio.gather(publish_all(), chaos(sup, servers, events, published))
                chaos_over = time.monotonic()
                tally = await wait_settled(
                    lambda: account(publisher.accepted, store, redis, streams), SETTLE_TIMEOUT
                )
                settle = time.monotonic() - chaos_over
            print("\n".join(["", "chaos timeline", *events, *sup.exit_notes]))
            print(summary(
                tally, elapsed=time.monotonic() - started, settle=settle, sup=sup,
                servers=servers, publisher=publisher, published=len(urls),
            ))
            handed_back = sum(
                int(m) for log in (tmp_path / "workers").glob("*.log")
                for m in re.findall(r"handed back (\d+) unfinished", log.read_text(errors="replace"))
            )
            print(f"entries handed back by workers stopped with SIGTERM: {handed_back}")
            if tally.lost or tally.unfinished:
                print("lost:", tally.lost[:10], "unfinished:", tally.unfinished[:10])

            assert tally.accepted == len(urls)  # the publisher retried until Redis took each
            assert not tally.lost, f"{len(tally.lost)} accepted URLs vanished: {tally.lost[:5]}"
            assert not tally.unfinished, f"stuck mid-pipeline: {tally.unfinished[:5]}"
            assert tally.pending == dict.fromkeys(STAGES, 0)
            assert not any(tally.undelivered.values()), tally.undelivered
            assert tally.shared_canonical == 0 and tally.stray_documents == 0
            assert tally.failed_without_reason == 0
            assert tally.analyzed_incomplete == 0 and tally.dead_letters_incomplete == 0
            # every valid URL has its one document; only the non-http ones have none
            assert tally.documents == tally.distinct_canonical
            assert tally.by_status["analyzed"] > pages // 2
            assert sum(sup.kills.values()) >= 3 * len(STAGES) - 1
            assert all(sup.kills[s] >= 3 for s in STAGES)
        finally:
            workers.stop_all(timeout=15)
            store.close()
            await redis.aclose()
            servers.stop()
