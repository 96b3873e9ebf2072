"""Graceful shutdown of a real worker process (``python -m services.fetcher``) on SIGTERM.

A local server answers slowly, so the fetcher has messages in flight when it is told to stop.
Within ``graceful_timeout`` it either finishes them (acknowledged, article stored) or hands
them back to the group, idle enough to be reclaimed at once by another replica, with their
delivery count unchanged: nothing is lost and nothing waits out ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.domain.contracts import Status
from newsflow.domain.pipeline import FETCHED, Streams
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from tests.support.workers import WorkerProcesses

pytestmark = pytest.mark.integration

PAGE = (
    "<html><head><title>Slow news</title></head><body><article><h1>Slow news</h1>"
    + "<p>A paragraph of a slowly served article about nothing in particular.</p>" * 20
    + "</article></body></html>"
).encode()


class SlowServer:
    """An HTTP server on 127.0.0.1 that waits ``delay`` seconds before each answer."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = 0
        self.finished = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.started += 1
                time.sleep(outer.delay)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)
                outer.finished += 1

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/story-{n}.html"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    server = SlowServer(delay=2.0)
    yield server
    server.close()


def fetcher_settings(settings: Settings, server: SlowServer, **changes: Any) -> Settings:
    return settings.model_copy(
        update={
            "fetch_allowed_ports": [server.port],
            "fetch_read_timeout": 30.0,
            "fetch_deadline": 40.0,
            "fetch_retries": 0,
            # Long on purpose: nothing may depend on waiting out the reclaim threshold.
            "claim_idle_ms": 60_000,
            "handler_timeout": 50.0,
            "concurrency": 3,
            **changes,
        }
    )


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def nothing_pending(redis: Redis, streams: Streams) -> None:
    """Every entry acknowledged (a handler acks just after it stores its result)."""

    async def check() -> bool:
        return (await redis.xpending(streams.urls, "fetcher"))["pending"] == 0

    await wait_until(check, 15, "every entry acknowledged")


async def sigterm_and_time(workers: WorkerProcesses) -> float:
    proc = workers.procs["fetcher"][0]
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proc.wait, 60)
    return time.monotonic() - t0


async def publish(redis: Redis, streams: Streams, urls: list[str]) -> None:
    for url in urls:
        await redis.xadd(streams.urls, {"url": url})


async def fetched_count(store: ArticleStore, urls: list[str]) -> int:
    ids = [article_id(canonical_url(u)) for u in urls]
    found = await store.find(ids)
    return sum(a.status is Status.FETCHED for a in found.values())


async def test_sigterm_finishes_in_flight_messages(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    slow_server: SlowServer,
    tmp_path: Path,
) -> None:
    cfg = fetcher_settings(settings, slow_server, graceful_timeout=15.0)
    streams = Streams(cfg.stream_prefix)
    await ensure_groups(redis, streams)
    workers = WorkerProcesses(cfg, tmp_path)
    workers.start("fetcher")
    try:
        await asyncio.to_thread(workers.wait_ready, 90.0)
        urls = [slow_server.url(n) for n in range(3)]
        await publish(redis, streams, urls)

        async def all_in_flight() -> bool:
            return slow_server.started == 3

        await wait_until(all_in_flight, 30, "three requests in flight")
        took = await sigterm_and_time(workers)
        assert workers.procs["fetcher"][0].returncode == 0, workers.log("fetcher")[-3000:]
        # it waited for its handlers (2 s answers), not for the whole grace period
        assert took < cfg.graceful_timeout, f"stopping took {took:.1f} s"
        assert slow_server.finished == 3
        assert await fetched_count(store, urls) == 3
        await nothing_pending(redis, streams)
        assert await redis.xlen(streams[FETCHED]) == 3
    finally:
        workers.stop_all(timeout=10)


async def test_sigterm_hands_back_what_it_cannot_finish(
    settings: Settings,
    redis: Redis,
    store: ArticleStore,
    slow_server: SlowServer,
    tmp_path: Path,
) -> None:
    slow_server.delay = 20.0  # far longer than the grace period
    cfg = fetcher_settings(settings, slow_server, graceful_timeout=2.0)
    streams = Streams(cfg.stream_prefix)
    await ensure_groups(redis, streams)
    workers = WorkerProcesses(cfg, tmp_path)
    workers.start("fetcher")
    try:
        await asyncio.to_thread(workers.wait_ready, 90.0)
        urls = [slow_server.url(100 + n) for n in range(5)]
        await publish(redis, streams, urls)

        async def three_in_flight() -> bool:
            return slow_server.started == 3  # concurrency 3: two entries still wait in Redis

        await wait_until(three_in_flight, 30, "three requests in flight")
        took = await sigterm_and_time(workers)
        # bounded by the grace period (plus handing back, closing the client, exiting)
        assert took < cfg.graceful_timeout + 8, f"stopping took {took:.1f} s"
        assert slow_server.finished == 0 and await fetched_count(store, urls) == 0
        # all it held (three running, and those it had read ahead into its in-memory queue:
        # up to two, as the timing goes) are handed back: idle past the reclaim threshold,
        # still on their first delivery (a shutdown is not a failed attempt); the rest were
        # never delivered and wait in the stream
        held = await redis.xpending_range(streams.urls, "fetcher", min="-", max="+", count=10)
        [group] = [g for g in await redis.xinfo_groups(streams.urls) if g["name"] == b"fetcher"]
        last = group["last-delivered-id"].decode()
        undelivered = len(await redis.xrange(streams.urls, min=f"({last}", max="+"))
        assert 3 <= len(held) <= 5 and len(held) + undelivered == 5, (len(held), undelivered)
        assert all(row["time_since_delivered"] >= cfg.claim_idle_ms for row in held)
        assert all(row["times_delivered"] == 1 for row in held)

        # a replacement replica takes them over at once, not after claim_idle_ms (60 s)
        slow_server.delay = 0.0
        replacement = WorkerProcesses(cfg, tmp_path / "second")
        replacement.start("fetcher")
        try:
            t0 = time.monotonic()

            async def all_fetched() -> bool:
                return await fetched_count(store, urls) == 5

            await wait_until(all_fetched, 45, "the five articles fetched by the new replica")
            assert time.monotonic() - t0 < cfg.claim_idle_ms / 1000
            await nothing_pending(redis, streams)
        finally:
            replacement.stop_all(timeout=10)
    finally:
        workers.stop_all(timeout=10)
