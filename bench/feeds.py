"""Benchmark of the feeder: many sources served locally, most answering 304, polled for minutes.

One run:

1. ``--hosts`` feed servers on 127.0.0.2, 127.0.0.3, ... (one port; every 127/8 address is
   this machine), ``--sources`` feeds spread over them, each empty at first; the corpus
   pages of ../shared/corpus on another local server;
2. a real redis-server and SecantusDB on free ports (data in a temporary folder), the four
   stage workers and ``--replicas`` feeders as processes (``python -m services.<name>``),
   every source added as `newsflow sources add --no-check` would;
3. for ``--minutes``, a publisher adds a new item (a corpus page) to a random one of the
   ``--active`` share of the sources every ``--every`` seconds, noting when it appeared;
4. then it waits (up to ``--settle`` s) for those articles to be analyzed.

It reports polls (200 / 304 / failed), the feeder's CPU time per poll and MongoDB commands
per poll (counted by pymongo command monitoring in the feeder, leases of idle loops
included), requests per host against the spacing, and the time from an item appearing in a
feed to its article being analyzed (p50/p95). Baseline in the same run: the CPU time of a
bare httpx loop doing the same conditional GETs (no database, no parsing), per request.

    .venv/bin/python bench/feeds.py [--sources 1000] [--minutes 3] [--hosts 50] [--replicas 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import psutil
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import itertools

from newsflow.adapters.sources import SourceStore
from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import free_port, start_mongo, start_redis
from newsflow.domain.pipeline import TERMINAL, Streams
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.feeds import FeedServer, Item, Route, render
from tests.support.workers import WorkerProcesses


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Feeds:
    """The sources' feeds: item lists that the publisher appends to, rendered per request."""

    def __init__(self, hosts: int, sources: int, port: int) -> None:
        self.servers = [FeedServer(f"127.0.0.{2 + h}", port) for h in range(hosts)]
        self.items: list[list[Item]] = [[] for _ in range(sources)]
        self.lock = threading.Lock()
        for n in range(sources):
            server = self.servers[n % hosts]
            server.routes[f"/s{n}.xml"] = Route(
                make=self._maker(n), content_type="application/rss+xml"
            )

    def _maker(self, n: int) -> Any:
        def make() -> bytes:
            with self.lock:
                items = list(self.items[n])
            return render("rss20", f"Source {n}", items[-20:])[0]

        return make

    def url(self, n: int) -> str:
        server = self.servers[n % len(self.servers)]
        return server.url(f"/s{n}.xml")

    def __enter__(self) -> Self:
        for s in self.servers:
            s.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.servers:
            s.__exit__()


BASELINE = r"""
import sys, time, httpx
urls = sys.argv[1:]
with httpx.Client() as c:
    tags = {u: c.get(u).headers.get("etag") for u in urls}
    start = time.process_time()
    n = 0
    for _ in range(3):
        for u in urls:
            c.get(u, headers={"If-None-Match": tags[u]})
            n += 1
    print((time.process_time() - start) / n)
"""


def baseline_cpu_ms(urls: list[str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", BASELINE, *urls],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return float(out.stdout.strip()) * 1000


async def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = Corpus(args.corpus)
    pages = [("scrapinghub", p) for p in corpus.ids("scrapinghub")] + [
        ("zh_cwced", p) for p in corpus.ids("zh_cwced")
    ]
    random.Random(7).shuffle(pages)
    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    redis_srv = start_redis(tmp / "redis", free_port(), aof=False)
    mongo_srv = start_mongo(tmp / "mongo", free_port())
    feed_port = free_port()
    procs: WorkerProcesses | None = None
    try:
        with (
            CorpusServer(corpus) as corpus_server,
            Feeds(args.hosts, args.sources, feed_port) as feeds,
        ):
            settings = Settings(
                redis_url=f"redis://127.0.0.1:{redis_srv.port}/0",
                mongo_url=f"mongodb://127.0.0.1:{mongo_srv.port}",
                mongo_db="bench_feeds",
                stream_prefix="bench-feeds",
                fetch_allowed_networks=["127.0.0.0/8"],
                fetch_allowed_ports=[corpus_server.port, feed_port],
                extract_processes=1,
                poll_interval_ms=500,
                feed_default_interval=args.interval,
                feed_min_interval=args.min_interval,
                feed_max_interval=args.max_interval,
                feed_host_interval=args.host_interval,
                _env_file=None,  # type: ignore[call-arg]
            )
            sources = SourceStore.connect(settings)
            await sources.ensure_indexes()
            for n in range(args.sources):
                await sources.add(feeds.url(n), added_by="bench")
            procs = WorkerProcesses(settings, tmp / "logs")
            procs.start_all()
            for _ in range(args.replicas):
                procs.start("feeder")
            procs.wait_ready(120)
            feeders = [psutil.Process(p.pid) for p in procs.procs["feeder"]]
            redis = Redis.from_url(settings.redis_url)
            stats_key = Streams(settings.stream_prefix).stats

            async def snapshot() -> tuple[dict[str, int], float]:
                stats = {k.decode(): int(v) for k, v in (await redis.hgetall(stats_key)).items()}
                cpu = sum(p.cpu_times().user + p.cpu_times().system for p in feeders)
                return stats, cpu

            # The first round (every source polled once, all due at start: 200s without
            # validators) and the start-up of the processes are left out: the window measures
            # steady polling. Counters reach Redis every 5 s, on both ends of the window alike.
            first_round = time.time()
            # (Checked every 5 s: on SecantusDB a count scans the collection.)
            while (
                await sources.sources.count_documents({"polls": 0})
                and time.time() < first_round + 900
            ):
                await asyncio.sleep(5)
            first_round = time.time() - first_round
            await asyncio.sleep(args.warmup)
            stats0, cpu0 = await snapshot()
            active = random.Random(11).sample(
                range(args.sources), max(1, int(args.sources * args.active))
            )
            appeared: dict[str, float] = {}
            started = time.time()
            deadline = started + args.minutes * 60
            page_iter = iter(pages)
            while time.time() < deadline:
                await asyncio.sleep(args.every)
                try:
                    set_name, page = next(page_iter)
                except StopIteration:
                    break
                url = corpus_server.url(set_name, page)
                n = random.choice(active)
                with feeds.lock:
                    feeds.items[n].insert(0, Item(url, f"Item of {n}", datetime.now(UTC)))
                appeared[url] = time.time()
            elapsed = time.time() - started
            stats1, cpu1 = await snapshot()
            stats = {k: v - stats0.get(k, 0) for k, v in stats1.items()}
            # Let the last items through (they wait for their source's next poll).
            store = ArticleStore.connect(settings)
            done: dict[str, float] = {}
            settle_end = time.time() + args.settle
            while time.time() < settle_end and len(done) < len(appeared):
                for url, t0 in appeared.items():
                    if url in done:
                        continue
                    article = await store.article(article_id(canonical_url(url)))
                    if article is not None and article.status in TERMINAL:
                        at = article.times.get("analyzed_at") or article.times.get("failed_at")
                        done[url] = at.timestamp() - t0 if at else float("nan")
                await asyncio.sleep(1)
            statuses = await store.status_counts()
            analyzed = statuses.get("analyzed", 0)
            per_host = [len(s.requests) for s in feeds.servers]
            gaps: list[float] = []
            busiest = 0
            for server in feeds.servers:
                times = sorted(r.at for r in server.requests)
                gaps += [b - a for a, b in itertools.pairwise(times)]
                # Most requests one host saw within any one second.
                j = 0
                for i, t in enumerate(times):
                    while times[j] < t - 1.0:
                        j += 1
                    busiest = max(busiest, i - j + 1)
            never_twice = sum(
                1
                for s in await sources.all()
                if s["polls"] > max(2, elapsed / args.min_interval + 2)
            )
            base = baseline_cpu_ms([feeds.url(n) for n in range(min(200, args.sources))])
            await redis.aclose()
            store.close()
            sources.close()
            polls = stats.get("polls:feeder", 0)
            result = {
                "sources": args.sources,
                "hosts": args.hosts,
                "replicas": args.replicas,
                "first_round_s": round(first_round, 1),
                "minutes": round(elapsed / 60, 2),
                "polls": polls,
                "polls_per_s": round(polls / elapsed, 1),
                "not_modified": stats.get("not_modified:feeder", 0),
                "failed": stats.get("failed:feeder", 0),
                "published": stats.get("published:feeder", 0),
                "requests": stats.get("requests:feeder", 0),
                "deferred_host_busy": stats.get("deferred:feeder", 0),
                "mongo_ops": stats.get("mongo_ops:feeder", 0),
                "mongo_ops_per_poll": round(stats.get("mongo_ops:feeder", 0) / max(1, polls), 2),
                "idle_lease_queries": stats.get("idle_leases:feeder", 0),
                "mongo_ops_per_poll_without_idle_leases": round(
                    (stats.get("mongo_ops:feeder", 0) - stats.get("idle_leases:feeder", 0))
                    / max(1, polls),
                    2,
                ),
                "feeder_cpu_s": round(cpu1 - cpu0, 2),
                "feeder_cpu_ms_per_poll": round((cpu1 - cpu0) * 1000 / max(1, polls), 2),
                "baseline_httpx_cpu_ms_per_conditional_get": round(base, 2),
                "items_appeared": len(appeared),
                "items_settled": len(done),
                "articles": statuses,
                "analyzed_total": analyzed,
                "latency_p50_s": round(percentile(list(done.values()), 0.5), 1),
                "latency_p95_s": round(percentile(list(done.values()), 0.95), 1),
                "host_requests_min_max": [min(per_host), max(per_host)],
                "host_gap_p5_s": round(percentile(gaps, 0.05), 3) if gaps else None,
                "host_most_requests_in_1s": busiest,
                "sources_polled_too_often": never_twice,
                "settings": {
                    "default_interval": args.interval,
                    "min_interval": args.min_interval,
                    "max_interval": args.max_interval,
                    "host_interval": args.host_interval,
                },
                "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
                f"load {os.getloadavg()[0]:.1f}",
            }
            result["ratio_cpu_per_poll_to_bare_get"] = round(
                result["feeder_cpu_ms_per_poll"] / max(0.001, base), 2
            )
            return result
    finally:
        if procs is not None:
            procs.stop_all()
        mongo_srv.stop()
        redis_srv.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50, help="distinct hosts (127.0.0.2...)")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--replicas", type=int, default=1, help="feeder processes")
    parser.add_argument("--active", type=float, default=0.05, help="share of sources that publish")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between new items")
    parser.add_argument("--interval", type=float, default=60.0, help="first polling interval, s")
    parser.add_argument("--min-interval", type=float, default=20.0)
    parser.add_argument("--max-interval", type=float, default=300.0)
    parser.add_argument("--host-interval", type=float, default=0.2, help="spacing per host, s")
    parser.add_argument(
        "--warmup",
        type=float,
        default=6.0,
        help="wait after the first round (every source polled once), s",
    )
    parser.add_argument("--settle", type=float, default=180.0, help="wait for the last items, s")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
