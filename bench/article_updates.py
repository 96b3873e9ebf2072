"""What the stage writes of an article cost SecantusDB, by the form of the articles' indexes.

    .venv/bin/python bench/article_updates.py [--articles 150] [--rounds 4]

Starts a SecantusDB and two databases: ``whole`` with the store's indexes
(:meth:`ArticleStore.ensure_indexes`), ``partial`` with five of them partial instead (the
indexes of fields most articles lack: the impact analysis's direction and confidence,
important votes, deferred LLM work; each filter implied by the queries it would serve). Then,
in rounds that alternate between the two so that a drift of the machine touches both alike,
it runs each article's life through :class:`ArticleStore` as the workers do: ``accept``, then
``save_stage`` of the fetcher (with a page of corpus size), the extractor (a corpus-sized
text, its search terms), the translator and the analyzer (symbols, keywords), and prints
SecantusDB's CPU per article (``psutil``) for each, and the ratio. No LLM: the impact analysis
is skipped, so the partial indexes hold nothing, as for most articles of a deployment
without one. The store keeps the whole ones (README, "Partial indexes, measured").
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
from pathlib import Path
from typing import Any

import psutil
from pymongo import ASCENDING, DESCENDING

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import free_port, start_mongo
from newsflow.domain.contracts import (
    AnalysisResult,
    ExtractionResult,
    FetchResult,
    TranslationResult,
)
from newsflow.domain.pipeline import ANALYZER, EXTRACTOR, FETCHER, TRANSLATOR
from newsflow.domain.urls import canonical_url
from tests.support.e2e import db_settings

#: The five indexes in their partial form: (keys, filter, name of the whole index).
PARTIAL: list[tuple[list[tuple[str, int]], dict[str, Any], str]] = [
    ([("analysis.impact.impact.direction", ASCENDING), ("created_at", DESCENDING)],
     {"analysis.impact.impact.direction": {"$gte": ""}},
     "analysis.impact.impact.direction_1_created_at_-1"),
    ([("votes.important", DESCENDING), ("created_at", DESCENDING)],
     {"votes.important": {"$gte": 1}}, "votes.important_-1_created_at_-1"),
    ([("analysis.impact.impact.confidence", DESCENDING), ("event_at", DESCENDING)],
     {"analysis.impact.impact.confidence": {"$gte": 0}},
     "analysis.impact.impact.confidence_-1_event_at_-1"),
    ([("translation.status", ASCENDING)], {"translation.status": "deferred"},
     "translation.status_1"),
    ([("analysis.impact.status", ASCENDING)], {"analysis.impact.status": "deferred"},
     "analysis.impact.status_1"),
]  # fmt: skip
WORDS = [f"word{i}" for i in range(5000)]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


async def life(store: ArticleStore, n: int, tag: str, rng: random.Random) -> None:
    """One article through the four stage writes."""
    url = canonical_url(f"https://bench.example/{tag}/{n}")
    intake = await store.accept(
        canonical=url, submitted_url=url, submitted_by="bench", refresh=False, entry_id=f"{n}"
    )
    aid = intake.article_id
    page = f"<html><body><p>{text(rng, 3000)}</p></body></html>"
    await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok", http_status=200), page=page)
    body = text(rng, 700)
    extracted = ExtractionResult(
        status="ok", title=text(rng, 10), text=body, language="en", word_count=700
    )
    await store.save_stage(aid, 1, EXTRACTOR, extracted)
    await store.save_stage(aid, 1, TRANSLATOR, TranslationResult(status="not_needed"))
    analysis = AnalysisResult(
        status="ok", word_count=700, symbols=["BTC", "NVDA"], keywords=body.split()[:10]
    )
    await store.save_stage(aid, 1, ANALYZER, analysis)


async def run(articles: int, rounds: int) -> None:
    server = start_mongo(None, free_port())
    proc = psutil.Process(server.proc.pid)
    stores: dict[str, ArticleStore] = {}
    try:
        for name in ("whole", "partial"):
            settings = db_settings(server.port, f"bench_updates_{name}")
            store = ArticleStore.connect(settings)
            await store.drop()
            await store.ensure_indexes()
            if name == "partial":
                for keys, only, whole in PARTIAL:
                    await store._articles.drop_index(whole)
                    await store._articles.create_index(
                        keys, name=f"{whole}_partial", partialFilterExpression=only
                    )
            stores[name] = store
        for name, store in stores.items():  # warm-up
            await life(store, -1, f"warm-{name}", random.Random(0))
        cpu: dict[str, list[float]] = {name: [] for name in stores}
        for r in range(rounds):
            order = list(stores) if r % 2 == 0 else list(reversed(stores))
            for name in order:
                rng = random.Random(r)  # the same texts for both
                before = sum(proc.cpu_times()[:2])
                for n in range(articles):
                    await life(stores[name], r * articles + n, name, rng)
                cpu[name].append((sum(proc.cpu_times()[:2]) - before) * 1000 / articles)
                print(f"round {r + 1}, {name}: {cpu[name][-1]:.1f} ms per article", flush=True)
        indexes = {name: len(await s._articles.index_information()) for name, s in stores.items()}
        med = {name: statistics.median(v) for name, v in cpu.items()}
        print("\n| articles' indexes | SecantusDB CPU per article (4 stage writes + intake) |")
        print("|---|---|")
        for name in stores:
            print(f"| {name}: {indexes[name]} | {med[name]:.1f} ms (median of {rounds}) |")
        print(f"\npartial / whole: {med['partial'] / med['whole']:.2f}")
        for store in stores.values():
            await store.drop()
            store.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.articles, args.rounds))


if __name__ == "__main__":
    main()
