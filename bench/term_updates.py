"""What one article's similar-events indexing costs SecantusDB, by the size of the term
documents it updates (why ``POSTINGS`` is small: see the README, "Similar events").

    .venv/bin/python bench/term_updates.py [--rounds 40] [--churn 3000]

Starts a SecantusDB, fills 49 term documents with 0, 20, 50 or 200 postings each, then times
the indexing bulk write of the pipeline (one upsert per term: ``$inc`` of ``df`` and a
``$push`` capped at the same size) in the forms it has had: postings as ``[id, time]`` pairs,
journaled (until 2026-11-28); postings as ids, journaled; postings as ids, acknowledged but not
journaled (the analyzer now: its journaled article write follows); and, for comparison, the
upserts with ``$inc`` alone. Prints SecantusDB's CPU per bulk write (``psutil``).
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
from pymongo import UpdateOne, WriteConcern

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsflow.cli.embedded import free_port, start_mongo

TERMS = 49


def pair(seed: str) -> list[Any]:
    """A posting as stored until 2026-11-28: ``[id, event time]``."""
    return [hashlib.sha256(seed.encode()).hexdigest(), datetime.now(UTC)]


def posting(seed: str) -> str:
    """A posting as stored now: the article's id."""
    return hashlib.sha256(seed.encode()).hexdigest()


#: (column, posting form, journaled, with the capped $push)
FORMS = (
    ("pairs, journaled (before)", pair, True, True),
    ("ids, journaled", posting, True, True),
    ("ids, w:1 (the analyzer now)", posting, False, True),
    ("$inc only, journaled", posting, True, False),
)


async def run(rounds: int, churn: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_mongo(Path(tmp) / "db", port)
        try:
            proc = psutil.Process(server.proc.pid)
            client: Any = AsyncIOMotorClient(f"mongodb://127.0.0.1:{port}", w=1, journal=True)
            db = client.term_updates
            print("SecantusDB CPU per bulk write of 49 upserts ($inc + capped $push)")
            print("postings per term | " + " | ".join(f[0] for f in FORMS))
            for size in (0, 20, 50, 200):
                cap = max(size, 1)
                figures = []
                for n, (_, form, journaled, push) in enumerate(FORMS):
                    coll = db.get_collection(
                        f"terms{size}_{n}", write_concern=WriteConcern(w=1, j=journaled or None)
                    )
                    await coll.insert_many(
                        [{"_id": f"w{j}", "df": size, "e": [form(f"{j}.{k}") for k in range(size)]}
                         for j in range(TERMS)]
                    )  # fmt: skip
                    cpu0 = sum(proc.cpu_times()[:2])
                    for i in range(rounds):
                        update: dict[str, Any] = {"$inc": {"df": 1}}
                        if push:
                            update["$push"] = {"e": {"$each": [form(str(i))], "$slice": -cap}}
                        await coll.bulk_write(
                            [UpdateOne({"_id": f"w{j}"}, update, upsert=True)
                             for j in range(TERMS)], ordered=False,
                        )  # fmt: skip
                    figures.append((sum(proc.cpu_times()[:2]) - cpu0) * 1000 / rounds)
                print(f"{size:>17} | " + " | ".join(
                    f"{v:>{len(f[0]) - 3}.1f} ms" for v, f in zip(figures, FORMS, strict=True)
                ))  # fmt: skip
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
