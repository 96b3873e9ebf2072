"""What one article's similar-events indexing costs SecantusDB, by the size of the term
documents it updates (why ``POSTINGS`` is small: see the README, "Similar events").

    .venv/bin/python bench/term_updates.py [--rounds 40] [--churn 3000]

Starts a SecantusDB (journaled writes, as the workers use), fills 49 term documents with 0,
20, 50 or 200 postings each, then times the indexing bulk write of the pipeline (one upsert per
term: ``$inc`` of ``df`` and a ``$push`` capped at the same size) and, for comparison, the
same upserts with ``$inc`` alone; prints SecantusDB's CPU per bulk write (``psutil``).
``--churn N``: then N such bulk writes over 3,000 terms (what N articles' indexing does) and
SecantusDB's RSS every 500 (does the churn of term documents hold memory?).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import UpdateOne

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsflow.cli.embedded import free_port, start_mongo

TERMS = 49


def posting(seed: str) -> list[Any]:
    return [hashlib.sha256(seed.encode()).hexdigest(), datetime.now(UTC)]


async def run(rounds: int, churn: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_mongo(Path(tmp) / "db", port)
        try:
            proc = psutil.Process(server.proc.pid)
            client: Any = AsyncIOMotorClient(f"mongodb://127.0.0.1:{port}", w=1, journal=True)
            db = client.term_updates
            print("postings per term | upserts ($inc + capped $push) | upserts ($inc only)")
            for size in (0, 20, 50, 200):
                coll = db[f"terms{size}"]
                await coll.insert_many(
                    [{"_id": f"w{j}", "df": size, "e": [posting(f"{j}.{k}") for k in range(size)]}
                     for j in range(TERMS)]
                )  # fmt: skip
                cap = max(size, 1)
                figures = []
                for push in (True, False):
                    cpu0 = sum(proc.cpu_times()[:2])
                    for i in range(rounds):
                        update: dict[str, Any] = {"$inc": {"df": 1}}
                        if push:
                            update["$push"] = {"e": {"$each": [posting(str(i))], "$slice": -cap}}
                        await coll.bulk_write(
                            [UpdateOne({"_id": f"w{j}"}, update, upsert=True)
                             for j in range(TERMS)], ordered=False,
                        )  # fmt: skip
                    figures.append((sum(proc.cpu_times()[:2]) - cpu0) * 1000 / rounds)
                print(f"{size:>17} | {figures[0]:>26.1f} ms | {figures[1]:>15.1f} ms")
            if churn:
                coll = db.churn
                for i in range(churn + 1):
                    posting_i = {"$each": [posting(f"churn.{i}")], "$slice": -50}
                    await coll.bulk_write(
                        [UpdateOne({"_id": f"w{(i * 7 + j) % 3000}"},
                                   {"$inc": {"df": 1}, "$push": {"e": posting_i}}, upsert=True)
                         for j in range(TERMS)], ordered=False,
                    )  # fmt: skip
                    if i % 500 == 0:
                        rss = proc.memory_info().rss / 2**20
                        print(f"churn: {i} bulk writes, SecantusDB RSS {rss:.0f} MB", flush=True)
            client.close()
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--churn", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.churn))


if __name__ == "__main__":
    main()
