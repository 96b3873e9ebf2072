"""What the list views cost as the collection grows: newest first, filters, bullish, important
and hot, at 10,000 and 100,000 analyzed articles, on a real SecantusDB.

For each size the store is filled with analyzed article documents arriving at the same rate,
60 an hour (so 10,000 articles are a week of news and 100,000 ten weeks: the collection grows,
the window of the last 72 hours holds the same 4,320), with symbols, directions and votes drawn
from a seeded generator. Each query asks for one page of
50 through :meth:`ArticleStore.page`, as the reader does; each is timed 7 times (the queries taking turns) after
a warm-up and the median reported, with its ratio to the plain newest-first page of the same size in the
same run (the baseline: the newest-first page as one sorted query, which is what the list
was before it read windows of receive time; the list as the reader asks for it now is the row
after). The hot view's cost should stay flat from 10k to 100k: it reads a
bounded window (``NEWSFLOW_HOT_WINDOW_HOURS``, at most ``NEWSFLOW_HOT_MAX_CANDIDATES``), while
the other pages depend on how the engine serves a sort with a limit.

    .venv/bin/python bench/views.py [--sizes 10000,100000] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.adapters.store import LIST_WINDOWS, ArticleFilter, ArticleStore
from newsflow.cli.embedded import free_port, start_mongo
from tests.support.articles import analyzed
from tests.support.e2e import db_settings

SYMBOLS = ["BTC", "ETH", "SOL", "AAPL", "NVDA", "TSLA", "MSFT", "XRP", "DOGE", "AMZN"]
DIRECTIONS = ["bullish", "bearish", "neutral", None]
#: Articles received an hour: the same for every size (history grows, the rate does not).
PER_HOUR = 60
BASELINE = "newest first, one sorted query (baseline)"
BY_SHORT_ID = "one article by its short id (get)"


@dataclass(frozen=True)
class Query:
    where: ArticleFilter
    #: The newest-first list's windows of receive time (False: one sorted query, as before).
    windows: bool = True
    #: Time the page after the first (its cursor taken from the first page).
    second: bool = False


QUERIES: dict[str, Query] = {
    BASELINE: Query(ArticleFilter(), windows=False),
    "newest first, windows (what the reader asks)": Query(ArticleFilter()),
    "newest first, page 2: one sorted query": Query(ArticleFilter(), windows=False, second=True),
    "newest first, page 2: windows": Query(ArticleFilter(), second=True),
    "by publication time: one sorted query": Query(ArticleFilter(sort="published"), windows=False),
    "by publication time: windows": Query(ArticleFilter(sort="published")),
    "symbol=BTC: one sorted query": Query(ArticleFilter(symbol="BTC"), windows=False),
    "symbol=BTC": Query(ArticleFilter(symbol="BTC")),
    "view=bullish: one sorted query": Query(ArticleFilter(view="bullish"), windows=False),
    "view=bullish": Query(ArticleFilter(view="bullish")),
    "view=important: one sorted query": Query(ArticleFilter(view="important"), windows=False),
    "view=important": Query(ArticleFilter(view="important")),
    "sort=impact (one sorted query: a ranked order)": Query(ArticleFilter(sort="impact")),
    "view=hot": Query(ArticleFilter(view="hot")),
    "view=hot&symbol=BTC": Query(ArticleFilter(view="hot", symbol="BTC")),
}


def documents(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    docs = []
    for i in range(n):
        created = now - timedelta(hours=i / PER_HOUR)
        important = rng.choice([0] * 30 + [1, 2, 5])
        docs.append(
            analyzed(
                f"https://bench{i % 50}.example/story/{i}",
                title=f"Story {i}",
                symbols=[rng.choice(SYMBOLS)],
                direction=rng.choice(DIRECTIONS),
                created=created,
                published=created - timedelta(minutes=rng.randint(0, 600)),
                votes={"up": rng.randint(0, 5), "down": rng.randint(0, 2), "important": important},
                submissions=rng.choice([1, 1, 1, 2]),
            )
        )
    return docs


async def fill(store: ArticleStore, n: int) -> float:
    started = time.perf_counter()
    docs = documents(n)
    for i in range(0, n, 1000):
        await store.import_documents(docs[i : i + 1000])
    return time.perf_counter() - started


async def measure(store: ArticleStore, runs: int, size: int) -> dict[str, tuple[float, int]]:
    """Median ms of each query; the queries take turns, so a drift of the machine's load
    touches all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in QUERIES}
    found: dict[str, int] = {}
    cursors: dict[str, str | None] = {}
    for name, q in QUERIES.items():  # warm-up; the cursors of the second pages
        store.list_windows = LIST_WINDOWS if q.windows else ()
        cursors[name] = (await store.page(q.where, limit=50)).next_cursor if q.second else None
        found[name] = len((await store.page(q.where, limit=50, cursor=cursors[name])).items)
    for _ in range(runs):
        for name, q in QUERIES.items():
            store.list_windows = LIST_WINDOWS if q.windows else ()
            started = time.perf_counter()
            await store.page(q.where, limit=50, cursor=cursors[name])
            times[name].append(time.perf_counter() - started)
    store.list_windows = LIST_WINDOWS
    # An article by its short id, as the reader's article page and `newsflow show` ask.
    shorts = [a.short_id for a in (await store.page(ArticleFilter(), limit=runs)).items]
    times[BY_SHORT_ID] = []
    for short in shorts:
        started = time.perf_counter()
        await store.get(short)
        times[BY_SHORT_ID].append(time.perf_counter() - started)
    found[BY_SHORT_ID] = 1
    results = {name: (statistics.median(t) * 1000, found[name]) for name, t in times.items()}
    for name, (ms, n) in results.items():
        print(f"  {size:,} articles, {name}: {ms:.1f} ms ({n} items)", flush=True)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    server = start_mongo(None, free_port())
    table: dict[int, dict[str, tuple[float, int]]] = {}
    try:
        for size in sizes:
            settings = db_settings(server.port, f"bench_views_{size}")
            store = ArticleStore.connect(settings)
            await store.drop()
            took = await fill(store, size)
            started = time.perf_counter()
            await store.ensure_indexes()  # after the bulk insert: faster than index by index
            print(
                f"{size:,} articles stored in {took:.1f} s, indexed in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            table[size] = await measure(store, args.runs, size)
            await store.drop()
            store.close()
    finally:
        server.stop()
    header = " | ".join(f"{s:,} articles: ms (ratio)" for s in sizes)
    print(f"\n| query (page of 50) | {header} |")
    print("|---|" + "---|" * len(sizes))
    for name in [*QUERIES, BY_SHORT_ID]:
        cells = []
        for size in sizes:
            ms, _ = table[size][name]
            base = table[size][BASELINE][0]
            cells.append(f"{ms:.1f} ({ms / base:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        growth = table[big]["view=hot"][0] / table[small]["view=hot"][0]
        print(f"\nhot view, {big:,} / {small:,} articles: {growth:.2f}x the time")


if __name__ == "__main__":
    asyncio.run(main())
