"""Wiring and loop of the feeder: lease due sources, poll them, record the outcome.

Any number of replicas run this loop against the same MongoDB and Redis: each due source is
leased by one of them (see ``newsflow.adapters.sources``); the per-host limits hold across
all. Health: Redis and MongoDB are checked every few seconds; the heartbeat file is touched
only while both answer, and with ``NEWSFLOW_METRICS_PORT`` set, ``/healthz`` (which compose's
health check asks) and ``/metrics`` are served there (:mod:`newsflow.runtime.health`).
SIGTERM: stop leasing, let in-flight polls finish for
``NEWSFLOW_GRACEFUL_TIMEOUT``, then give the unfinished sources back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime

from newsflow import metrics
from newsflow.adapters.redis import connect_redis
from newsflow.adapters.sources import SourceStore
from newsflow.adapters.streams import ensure_groups
from newsflow.domain.pipeline import Streams
from newsflow.runtime.health import Health, MetricsServer, health_loop
from newsflow.runtime.logs import configure_logging
from newsflow.settings import Settings, get_settings
from newsflow.stages.fetching import PageFetcher

from .poll import Poller

log = logging.getLogger("newsflow.feeder")

SERVICE = "feeder"
#: Longest wait between two looks for due sources (a source just added waits at most this).
MAX_IDLE = 5.0


class Feeder:
    """One feeder replica. ``fetcher`` replaces the network seam in tests (its resolver)."""

    def __init__(
        self, settings: Settings, fetcher: PageFetcher | None = None, name: str | None = None
    ) -> None:
        self.settings = settings
        self.name = name or settings.consumer
        self.redis = connect_redis(settings)
        self.store = SourceStore.connect(settings)
        self.fetcher = fetcher or PageFetcher(settings)
        self.poller = Poller(settings, self.store, self.redis, self.fetcher, self.name)
        self.stopping = asyncio.Event()
        self.in_flight: dict[asyncio.Task[None], str] = {}
        self._reported_ops = 0
        self._idle_until = 0.0

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        s = self.settings
        await self.store.ensure_indexes()
        await ensure_groups(self.redis, Streams(s.stream_prefix))
        health = Health()
        for event in metrics.FEEDER_EVENT_NAMES:  # every series from the start, at 0
            metrics.FEEDER_EVENTS.labels(event)
        background = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(
                health_loop(self.redis.ping, self.store.ping, health, s.heartbeat_file)
            ),
        ]
        server = None
        if s.metrics_port:
            server = MetricsServer(s.metrics_port, s.metrics_host, lambda: health).start()
        log.info("feeder %s polling sources (up to %d at once)", self.name, s.feed_concurrency)
        try:
            await self._loop()
        finally:
            if server is not None:
                server.stop()
            for task in background:
                task.cancel()
            await self._drain()
            with contextlib.suppress(Exception):
                await self._flush_stats()
            await self.fetcher.aclose()
            self.store.close()
            await self.redis.aclose()
            log.info("feeder %s stopped", self.name)

    async def _loop(self) -> None:
        # ``feed_concurrency`` lanes, each leasing and polling one source at a time: leases
        # run concurrently too, so a slow database round trip does not serialise the polls.
        lanes = [asyncio.create_task(self._lane()) for _ in range(self.settings.feed_concurrency)]
        await self.stopping.wait()
        await self._drain()
        await asyncio.gather(*lanes, return_exceptions=True)

    async def _lane(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            # When a lease found nothing due, every lane waits before asking again: one idle
            # query per poll interval and replica, not one per lane.
            if (wait := self._idle_until - loop.time()) > 0:
                await self._sleep(wait)
                continue
            try:
                source = await self.store.lease(self.name, s.feed_lease_seconds)
            except Exception as exc:  # noqa: BLE001 - MongoDB away: wait and try again
                log.warning("cannot lease sources: %s", exc)
                self._idle_until = loop.time() + 5
                continue
            if source is None:
                self.poller.stats.add("idle_leases")  # a lease query that found nothing due
                self._idle_until = loop.time() + self._idle_seconds()
                continue
            if self.stopping.is_set():  # leased while stopping: give it straight back
                with contextlib.suppress(Exception):
                    await self.store.release(source["_id"], self.name)
                return
            task = asyncio.create_task(self.poller.poll(source))
            self.in_flight[task] = source["_id"]
            task.add_done_callback(self.in_flight.pop)
            # Not ``await task``: on shutdown the drain decides how long a poll may take.
            await asyncio.wait({task})

    def _idle_seconds(self) -> float:
        """How long to wait after finding nothing due: until the next source falls due, at
        least the poll interval, at most ``MAX_IDLE`` (a source just added is due at once)."""
        least = self.settings.poll_interval_ms / 1000
        if self.store.next_due is None:
            return MAX_IDLE
        until = (self.store.next_due - datetime.now(UTC)).total_seconds()
        return max(least, min(MAX_IDLE, until))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _drain(self) -> None:
        if not self.in_flight:
            return
        pending = dict(self.in_flight)
        _, still = await asyncio.wait(pending, timeout=self.settings.graceful_timeout)
        for task in still:
            task.cancel()
        for task in still:
            with contextlib.suppress(BaseException):
                await task
            with contextlib.suppress(Exception):  # else the lease expires on its own
                await self.store.release(pending[task], self.name)
        if still:
            log.info("feeder %s gave back %d unfinished sources", self.name, len(still))

    async def _flush_stats(self) -> None:
        counts = self.poller.stats.take()
        ops = self.store.counter.total
        counts["mongo_ops"] = ops - self._reported_ops
        self._reported_ops = ops
        key = Streams(self.settings.stream_prefix).stats
        pipe = self.redis.pipeline(transaction=False)
        for name, n in counts.items():
            if n:
                pipe.hincrby(key, f"{name}:{SERVICE}", n)
        await pipe.execute()

    async def _heartbeat(self) -> None:
        """Flush the poll counters every few seconds (the heartbeat file is health_loop's)."""
        while True:
            with contextlib.suppress(Exception):
                await self._flush_stats()
            await asyncio.sleep(5)


def run(settings: Settings | None = None) -> None:
    """Entry point of ``python -m services.feeder``."""
    settings = settings or get_settings()
    # credentials masked in every line, the service named (newsflow.runtime.logs)
    configure_logging(settings, service=SERVICE)  # httpx's request lines off there too

    async def main() -> None:
        feeder = Feeder(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, feeder.stop)
        await feeder.run()

    asyncio.run(main())


__all__ = ["Feeder", "run"]
