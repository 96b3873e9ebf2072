"""What search costs as the collection grows: 1,000, 10,000 and 100,000 articles, on a real
SecantusDB (the embedded default; no ``$text`` there: a multikey index on ``terms``).

The store is filled with synthetic analyzed articles (inserted directly, with their search
terms, as ``import_documents`` writes them), arriving at 60 an hour, so 100,000 articles are
ten weeks of news and the last week always holds about 10,000. Half are English, half Chinese
with an English translation. Words are drawn with fixed shares, whatever the size:

- ``rare``: a word in 10 articles in all (a name in the news once);
- ``common``: a word in one article of ten;
- ``chinese``: a Chinese word (two bigrams) in one Chinese article of twenty;
- ``two words``: the common word and a word in one article of three (both must match);
- ``no match``: a word no article holds.

Each query asks for one page of 50 through :meth:`ArticleStore.search`, as the reader does;
each is timed ``--runs`` times (queries taking turns) after a warm-up, and the median is
reported with its ratio to the newest-first list page of the same size in the same run (the
baseline, :meth:`ArticleStore.page`).

    .venv/bin/python bench/search.py [--sizes 1000,10000,100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import free_port, start_mongo
from tests.support.articles import analyzed
from tests.support.e2e import db_settings

PER_HOUR = 60
FILLER = [
    "market",
    "shares",
    "investors",
    "trading",
    "session",
    "prices",
    "report",
    "earnings",
    "outlook",
    "growth",
    "policy",
    "central",
    "bank",
    "economy",
    "quarter",
    "demand",
    "supply",
    "energy",
    "oil",
    "gold",
    "dollar",
]
ZH_FILLER = [
    "市场",
    "投资者",
    "股价",
    "交易",
    "报告",
    "经济",
    "增长",
    "政策",
    "央行",
    "需求",
    "供应",
    "能源",
    "黄金",
    "美元",
]
QUERIES: dict[str, str] = {
    "rare": "zyxgadget",
    "common": "inflation",
    "chinese": "区块链",
    "two words": "inflation tariffs",
    "no match": "qqqnothing",
}


def documents(n: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rare = set(rng.sample(range(n), 10))
    docs = []
    for i in range(n):
        created = now - timedelta(hours=i / PER_HOUR)
        words = rng.sample(FILLER, 12)
        if i % 10 == 0:
            words.append("inflation")
        if i % 3 == 0:
            words.append("tariffs")
        if i in rare:
            words.append("zyxgadget")
        english = " ".join(words).capitalize() + "."
        if i % 2:
            doc = analyzed(
                f"https://bench{i % 40}.example/en/{i}",
                title=f"Story {i} " + words[0],
                created=created,
                published=created - timedelta(minutes=30),
            )
            doc["extraction"]["text"] = english
        else:
            zh = "".join(rng.sample(ZH_FILLER, 8)) + ("区块链" if i % 40 == 0 else "") + "。"
            doc = analyzed(
                f"https://bench{i % 40}.example/zh/{i}",
                title=f"Story {i}",
                original_title=f"新闻{i}",
                language="zh",
                category="zh_news",
                created=created,
                published=created - timedelta(minutes=30),
            )
            doc["extraction"]["text"] = zh
            doc["translation"]["text"] = english
        docs.append(doc)
    return docs


async def fill(store: ArticleStore, n: int) -> float:
    started = time.perf_counter()
    docs = documents(n)
    for i in range(0, n, 1000):
        await store.import_documents(docs[i : i + 1000])
    return time.perf_counter() - started


async def measure(store: ArticleStore, runs: int, size: int) -> dict[str, tuple[float, int]]:
    async def baseline() -> int:
        return len((await store.page(limit=50)).items)

    async def search(q: str) -> int:
        return len((await store.search(q, limit=50)).items)

    calls = {"newest first (baseline)": baseline} | {
        name: (lambda q=q: search(q)) for name, q in QUERIES.items()
    }
    found = {name: await call() for name, call in calls.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            times[name].append(time.perf_counter() - started)
    results = {name: (statistics.median(t) * 1000, found[name]) for name, t in times.items()}
    for name, (ms, n) in results.items():
        print(f"  {size:,} articles, {name}: {ms:.1f} ms ({n} items)", flush=True)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    server = start_mongo(None, free_port())
    table: dict[int, dict[str, tuple[float, int]]] = {}
    try:
        for size in sizes:
            settings = db_settings(server.port, f"bench_search_{size}")
            store = ArticleStore.connect(settings)
            await store.drop()
            took = await fill(store, size)
            started = time.perf_counter()
            await store.ensure_indexes()
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
    names = ["newest first (baseline)", *QUERIES]
    header = " | ".join(f"{s:,}: ms (ratio, items)" for s in sizes)
    print(f"\n| query (page of 50) | {header} |")
    print("|---|" + "---|" * len(sizes))
    for name in names:
        cells = []
        for size in sizes:
            ms, n = table[size][name]
            base = table[size]["newest first (baseline)"][0]
            cells.append(f"{ms:.1f} ({ms / base:.2f}, {n})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        for name in QUERIES:
            growth = table[big][name][0] / table[small][name][0]
            print(f"{name}: {big:,} / {small:,} articles: {growth:.2f}x the time")


if __name__ == "__main__":
    asyncio.run(main())
