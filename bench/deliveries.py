"""What claiming an alert delivery costs as the deliveries collection grows, on SecantusDB.

    .venv/bin/python bench/deliveries.py [--sizes 3000,30000] [--runs 10]

For each size, the deliveries collection of a fresh database is filled with that many
delivered records, then a new delivery is claimed ``--runs`` times two ways, taking turns:
through :meth:`AlertStore.claim` (two plain filters on ``_id``), and with the one filter it
used before 2026-11-28 (``_id`` and an ``$or`` of the claimable states), the baseline.
:meth:`AlertStore.give_up` of an article is timed too. Medians in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.adapters.alerts import AlertStore, Claim
from newsflow.cli.embedded import free_port, start_mongo
from tests.support.e2e import db_settings


async def one_or_filter(store: AlertStore, key: str) -> None:
    """The claim as it was: one filter with ``$or`` (an upsert of a new record here)."""
    ts = datetime.now(UTC)
    await store._deliveries.find_one_and_update(
        {"_id": key, "$or": [{"state": "retrying"},
                             {"state": "sending", "lease_until": {"$lt": ts}}]},
        {"$set": {"state": "sending", "owner": "o", "updated_at": ts, "lease_until": ts},
         "$setOnInsert": {"rule_id": "r", "article_id": "a", "created_at": ts, "attempts": 0}},
        upsert=True,
    )  # fmt: skip


async def run(sizes: list[int], runs: int) -> None:
    server = start_mongo(None, free_port())
    rows = []
    try:
        for size in sizes:
            settings = db_settings(server.port, f"bench_deliveries_{size}")
            client: Any = AsyncIOMotorClient(settings.mongo_url, tz_aware=True)
            store = AlertStore(client, settings)
            await client.drop_database(settings.mongo_db)
            await store.ensure_indexes()
            ts = datetime.now(UTC)
            for lo in range(0, size, 5000):
                await store._deliveries.insert_many(
                    [{"_id": f"r:{i:064x}", "rule_id": "r", "article_id": f"{i:064x}",
                      "state": "delivered", "lease_until": None, "attempts": 1,
                      "created_at": ts, "updated_at": ts}
                     for i in range(lo, min(size, lo + 5000))]
                )  # fmt: skip
            before, now, give_up = [], [], []
            for i in range(runs):
                started = time.perf_counter()
                await one_or_filter(store, f"old:{i}")
                before.append(time.perf_counter() - started)
                started = time.perf_counter()
                claimed = await store.claim(
                    f"new:{i}", rule_id="r", article_id="a", owner="o", lease_seconds=30
                )
                now.append(time.perf_counter() - started)
                assert claimed is Claim.CLAIMED
                started = time.perf_counter()
                await store.give_up(f"{i:064x}", "bench")
                give_up.append(time.perf_counter() - started)
            row = (size, *(statistics.median(t) * 1000 for t in (before, now, give_up)))
            print(f"{size:,} deliveries: before {row[1]:.1f} ms, now {row[2]:.1f} ms", flush=True)
            rows.append(row)
            await client.drop_database(settings.mongo_db)
            client.close()
    finally:
        server.stop()
    print("\n| deliveries | claim, one `$or` filter (before) | claim, now | ratio | give_up |")
    print("|---|---|---|---|---|")
    for size, b, n, g in rows:
        print(f"| {size:,} | {b:.1f} ms | {n:.1f} ms | {n / b:.3f} | {g:.1f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="3000,30000")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run([int(s) for s in args.sizes.split(",")], args.runs))


if __name__ == "__main__":
    main()
