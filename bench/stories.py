"""Stories benchmark: syndicated copies through the real pipeline, and the story lookup's cost.

One run does, on this machine only (every server listens on 127.0.0.0/8):

1. builds one syndicated copy of each of the 250 corpus pages with
   :func:`tests.support.variants.default_variant_specs` (another site's chrome and title
   suffix; some with the first or last paragraph trimmed, a line added, or re-encoded as GBK
   or UTF-16), and serves the originals on 127.0.0.1 and the copies on 127.0.0.2 (another
   "site"); starts a real redis-server, SecantusDB, the stand-in chat-completions server (which
   records every request) and the four workers as processes, translation and impact analysis
   pointed at the stand-in;
2. **originals**: publishes the 250 pages and waits until each is analyzed or failed; counts
   the LLM requests against the units of LLM work the articles needed (per article: one per
   translation chunk plus the title when it was translated, one impact analysis);
3. **refresh**: publishes the 250 pages again with ``refresh`` and counts the requests (the
   answers are cached by content: none expected, except for work whose answer was rejected);
4. **copies**: publishes the 250 copies, waits, counts the requests, and scores the stories:
   merge recall (a copy in its original's story), false merges among the 250 distinct pages
   (an original in another original's story), reuse of translation and analysis;
5. **lookup**: in a separate database, stores fingerprints directly (the 250 originals' real
   ones, then random ones) up to 1k, 10k and 100k, and times the story lookup (the indexed
   band ``$in`` and the decision) of each copy's fingerprint at each size, in interleaved
   rounds.

Thresholds are the settings' defaults, chosen from first principles before this set was run
(see the README); nothing here is tuned on its result.

    .venv/bin/python bench/stories.py [--sizes 1000,10000,100000] [--skip-lookup]
        [--skip-pipeline] [--timeout S] [--json FILE] [--keep-data]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from bson import Binary
from motor.motor_asyncio import AsyncIOMotorClient
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the test support servers live in tests/support
    sys.path.insert(0, str(REPO))

from bench.pipeline import log_tails, machine, started, workers_dead
from newsflow.adapters.intake import submit
from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import ServerError, free_port, start_mongo, start_redis
from newsflow.domain.pipeline import TERMINAL, Streams
from newsflow.settings import ModelPrice, Settings
from newsflow.stages.stories import (
    METHOD,
    NUM_PERM,
    Fingerprint,
    band_hashes,
    best_match,
    fingerprint,
)
from tests.support.corpus_server import DEFAULT_CORPUS, Corpus
from tests.support.llm_server import LLMServer
from tests.support.pages_server import PageServer, second_loopback
from tests.support.similar_eval import SimilarEval
from tests.support.variants import (
    VariantSpec,
    build_variant,
    default_variant_specs,
    paragraphs_of,
)
from tests.support.workers import WorkerProcesses

SETS = ("scrapinghub", "zh_cwced")
LLM_KEY = "bench-key"
#: Made-up prices for the stand-in's model names, to show the cost column working.
PRICES = {
    "stand-in-mt": ModelPrice(input=0.30, output=2.50),
    "stand-in-analyst": ModelPrice(input=3.00, output=15.00),
}


# --- pages ---------------------------------------------------------------------------------


# --- the pipeline --------------------------------------------------------------------------


class PipelineBroken(RuntimeError):
    pass


@dataclass
class Phase:
    name: str
    ids: list[str]
    requests: int
    seconds: float
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)


async def wait_for(
    db: Any, ids: list[str], generation: dict[str, int], workers: WorkerProcesses,
    timeout: float,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Wait until every article is analyzed or failed in at least ``generation[id]``."""
    deadline = time.monotonic() + timeout
    last = 0.0
    while True:
        docs = {d["_id"]: d async for d in db.articles.find({"_id": {"$in": ids}})}
        done = [
            i for i in ids
            if i in docs and docs[i].get("status") in TERMINAL
            and int(docs[i].get("generation", 1)) >= generation.get(i, 1)
        ]  # fmt: skip
        now = time.monotonic()
        if len(done) == len(ids):
            return docs
        if now - last > 10:
            print(f"    {len(done)}/{len(ids)} analyzed or failed", flush=True)
            last = now
        if dead := workers_dead(workers):
            raise PipelineBroken(f"worker(s) exited: {', '.join(dead)}")
        if now > deadline:
            stuck = [i for i in ids if i not in done][:10]
            raise PipelineBroken(
                f"{len(ids) - len(done)} articles neither analyzed nor failed after "
                f"{timeout:g} s, e.g. "
                + ", ".join(f"{i[:10]}={(docs.get(i) or {}).get('status')}" for i in stuck)
            )
        await asyncio.sleep(2.0)


async def publish_phase(
    name: str, urls: list[str], *, refresh: bool, settings: Settings, llm: LLMServer,
    workers: WorkerProcesses, timeout: float,
) -> Phase:  # fmt: skip
    redis = Redis.from_url(settings.redis_url)
    store = ArticleStore.connect(settings)
    client: AsyncIOMotorClient[Any] = AsyncIOMotorClient(settings.mongo_url, tz_aware=True)
    db = client[settings.mongo_db]
    try:
        before_requests = len(llm.requests)
        ids: list[str] = []
        generation: dict[str, int] = {}
        if refresh:  # a refresh bumps each article's generation: wait for the next one
            async for doc in db.articles.find({}, {"generation": 1, "url": 1}):
                generation[doc["_id"]] = int(doc.get("generation", 1)) + 1
        started_at = time.monotonic()
        results = await submit(
            urls, redis=redis, store=store, streams=Streams(settings.stream_prefix),
            refresh=refresh, submitted_by=f"bench:{name}",
        )  # fmt: skip
        for result in results:
            if result.article_id is None or result.outcome not in ("queued", "refreshed"):
                raise PipelineBroken(f"{result.url}: {result.outcome} ({result.detail})")
            ids.append(result.article_id)
        print(f"  {name}: {len(ids)} URLs published", flush=True)
        docs = await wait_for(db, ids, generation, workers, timeout)
        seconds = time.monotonic() - started_at
        await asyncio.sleep(1.0)  # a request still in flight would show up in the count
        return Phase(name, ids, len(llm.requests) - before_requests, seconds, docs)
    finally:
        client.close()
        store.close()
        await redis.aclose()


def llm_units(doc: dict[str, Any]) -> tuple[int, int]:
    """Units of LLM work an article needed: (translation chunks + title, impact analyses)."""
    translation = doc.get("translation") or {}
    units = 0
    if translation.get("status") in ("translated", "failed") and not translation.get("reused"):
        units = int(translation.get("chunks") or 0) + (
            1 if (doc.get("extraction") or {}).get("title") else 0
        )
    impact = ((doc.get("analysis") or {}).get("impact")) or {}
    analyses = 1 if impact.get("status") in ("ok", "failed") and not impact.get("reused") else 0
    return units, analyses


def calls_of(doc: dict[str, Any]) -> int:
    """LLM requests the article's stored results say they made."""
    translation = (doc.get("translation") or {}).get("usage") or {}
    impact = (((doc.get("analysis") or {}).get("impact")) or {}).get("usage") or {}
    return int(translation.get("calls") or 0) + int(impact.get("calls") or 0)


# --- lookup at scale -------------------------------------------------------------------------


def random_print(rng: np.random.Generator) -> dict[str, Any]:
    values = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64).astype("<u4")
    return {
        "method": METHOD, "mode": "words", "size": int(rng.integers(50, 2000)),
        "signature": Binary(values.tobytes()), "bands": list(band_hashes(values)),
        "source": "synthetic.example", "story_id": None,
    }  # fmt: skip


async def lookup_scaling(
    settings: Settings, originals: list[Fingerprint], queries: list[Fingerprint],
    sizes: list[int], rounds: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """Median and p95 time of one story lookup at each stored-fingerprint count."""
    lookup = settings.model_copy(update={"mongo_db": "newsflow_lookup"})
    store = ArticleStore.connect(lookup)
    index = store.stories
    rng = np.random.default_rng(11)
    rows: list[dict[str, Any]] = []
    try:
        await store.drop()
        await index.ensure_indexes()
        epoch = datetime(2020, 1, 1, tzinfo=UTC)
        docs = [
            {"_id": f"orig{i:06d}", "seen_at": epoch, "method": p.method, "mode": p.mode,
             "size": p.size, "signature": Binary(p.signature), "bands": list(p.bands),
             "source": "corpus", "story_id": None}
            for i, p in enumerate(originals)
        ]  # fmt: skip
        await index.add_prints(docs)
        stored = len(docs)
        for size in sizes:
            started_at = time.monotonic()
            while stored < size:
                batch = []
                for _ in range(min(2000, size - stored)):
                    doc = random_print(rng)
                    doc["_id"] = f"synt{stored:07d}"
                    doc["seen_at"] = epoch + timedelta(seconds=stored)
                    batch.append(doc)
                    stored += 1
                await index.add_prints(batch)
            inserted = time.monotonic() - started_at
            later = datetime.now(UTC)
            times: list[float] = []
            found = 0
            for _ in range(rounds):
                for n, query in enumerate(queries):
                    t0 = time.perf_counter()
                    candidates = await index.candidates(f"query{n:06d}", query, later)
                    match = best_match(
                        query, candidates, merge_threshold=settings.story_merge_threshold
                    )
                    times.append(time.perf_counter() - t0)
                    found += match is not None
            times.sort()
            row = {
                "stored": stored,
                "median_ms": statistics.median(times) * 1000,
                "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
                "lookups": len(times),
                "matched_share": found / len(times),
                "insert_s": inserted,
            }
            rows.append(row)
            print(
                f"  lookup at {stored:>7,} fingerprints: median {row['median_ms']:.2f} ms, "
                f"p95 {row['p95_ms']:.2f} ms ({len(times)} lookups; inserted in {inserted:.0f} s)",
                flush=True,
            )
    finally:
        # No drop: SecantusDB takes minutes to drop 100k documents, and the whole server and
        # its folder go away with the run.
        store.close()
    return rows


# --- figures -------------------------------------------------------------------------------


def story_figures(
    specs: list[VariantSpec], original_ids: dict[str, str], copy_ids: dict[str, str],
    originals: dict[str, dict[str, Any]], copies: dict[str, dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """Merge recall, false merges, reuse, per kind of copy."""
    story = {
        aid: ((doc.get("story") or {}).get("id")) for aid, doc in {**originals, **copies}.items()
    }
    merged_by_kind: Counter[str] = Counter()
    total_by_kind: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    reused_translation = reused_impact = merged = 0
    for spec in specs:
        kind = spec.describe()
        total_by_kind[kind] += 1
        orig, copy = original_ids[spec.source_id], copy_ids[spec.variant_id]
        doc = copies[copy]
        ok = story.get(copy) is not None and story.get(copy) == story.get(orig)
        if ok:
            merged += 1
            merged_by_kind[kind] += 1
            if (doc.get("translation") or {}).get("reused"):
                reused_translation += 1
            if (((doc.get("analysis") or {}).get("impact")) or {}).get("reused"):
                reused_impact += 1
        else:
            link = doc.get("story") or {}
            misses.append({
                "copy": spec.variant_id, "set": spec.source_set, "kind": kind,
                "status": doc.get("status"),
                "extraction": (doc.get("extraction") or {}).get("status"),
                "story": link.get("note") or ("own story" if link.get("first") else link.get("id")),
                "original_status": originals[orig].get("status"),
                "words": [(originals[orig].get("extraction") or {}).get("word_count"),
                          (doc.get("extraction") or {}).get("word_count")],
            })  # fmt: skip
    false_merges = [
        {"article": aid[:10], "url": doc.get("url"), "joined": (doc.get("story") or {}).get("id", "")[:10],
         "similarity": (doc.get("story") or {}).get("similarity")}
        for aid, doc in originals.items()
        if (doc.get("story") or {}).get("first") is False
    ]  # fmt: skip
    return {
        "copies": len(specs),
        "merged": merged,
        "recall": merged / len(specs) if specs else 0.0,
        "by_kind": {k: [merged_by_kind[k], n] for k, n in sorted(total_by_kind.items())},
        "misses": misses,
        "false_merges": false_merges,
        "reused_translation": reused_translation,
        "reused_impact": reused_impact,
    }


def related_pairs_merged(
    eval_set: SimilarEval, ids: dict[str, str], docs: dict[str, dict[str, Any]]
) -> tuple[int, int]:
    """How many labeled related pairs (same event or topic, different texts) share a story."""
    pairs = eval_set.related_pairs(level="topic")
    same = 0
    for pair in pairs:
        a, b = tuple(pair)
        if a in ids and b in ids:
            sa = (docs[ids[a]].get("story") or {}).get("id")
            sb = (docs[ids[b]].get("story") or {}).get("id")
            same += sa is not None and sa == sb
    return same, len(pairs)


def render(figures: dict[str, Any]) -> str:
    lines = ["", "## Stories benchmark", "", f"Machine: {figures['machine']}", ""]
    if "pipeline" in figures:
        p = figures["pipeline"]
        s = p["stories"]
        lines += [
            "| measured | value |",
            "|---|---|",
            f"| copies merged into their original's story (recall) | **{s['merged']}/{s['copies']} = {s['recall']:.3f}** |",
            f"| false merges among the {p['originals']} distinct corpus pages | **{len(s['false_merges'])}** |",
            f"| labeled related pairs (same event/topic, other text) in one story | {p['related_merged'][0]} of {p['related_merged'][1]} |",
            f"| copies that reused the translation / the impact analysis | {s['reused_translation']} / {s['reused_impact']} |",
        ]
        for phase in p["phases"]:
            lines.append(
                f"| LLM requests, {phase['name']} ({phase['articles']} articles, {phase['seconds']:.0f} s) "
                f"| {phase['requests']} (units of LLM work needed: {phase['units']}; "
                f"requests / unit: {phase['per_unit']}) |"
            )
        lines += ["", "Merge recall by kind of copy:", "", "| kind of copy | merged |", "|---|---|"]
        for kind, (m, n) in s["by_kind"].items():
            lines.append(f"| {kind} | {m}/{n} |")
        if s["misses"]:
            lines += ["", "Copies not merged:", ""]
            for miss in s["misses"]:
                lines.append(
                    f"- `{miss['copy']}` ({miss['set']}, {miss['kind']}): copy {miss['status']}/"
                    f"{miss['extraction']}, {miss['story']}; words original/copy {miss['words']}"
                )
        if s["false_merges"]:
            lines += ["", "False merges:", ""] + [f"- {m}" for m in s["false_merges"]]
        if p.get("copy_requests"):
            lines += ["", "Copies that made LLM requests:", ""] + [
                f"- {c}" for c in p["copy_requests"]
            ]
    if "lookup" in figures:
        rows = figures["lookup"]
        base = rows[0]["median_ms"]
        lines += [
            "",
            "| stored fingerprints | lookup median | p95 | median / first size |",
            "|---|---|---|---|",
        ]
        for row in rows:
            lines.append(
                f"| {row['stored']:,} | {row['median_ms']:.2f} ms | {row['p95_ms']:.2f} ms | "
                f"{row['median_ms'] / base:.2f} |"
            )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="stored fingerprint counts for the lookup timing")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="lookup rounds per size")
    parser.add_argument("--skip-lookup", action="store_true")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--extractors", type=int, default=2, help="extraction processes")
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = Corpus(args.corpus)
    specs = default_variant_specs(corpus)
    figures: dict[str, Any] = {"machine": machine()}
    print(f"machine: {figures['machine']}", flush=True)
    print(f"building {len(specs)} syndicated copies...", flush=True)
    original_paths = {f"/o/{s}/{i}.html": corpus.page(s, i) for s in SETS for i in corpus.ids(s)}
    copy_pages = {f"/c/{spec.variant_id}.html": build_variant(spec, corpus) for spec in specs}
    folder: contextlib.AbstractContextManager[str] = (
        contextlib.nullcontext(tempfile.mkdtemp(prefix="newsflow-stories-")) if args.keep_data
        else tempfile.TemporaryDirectory(prefix="newsflow-stories-")
    )  # fmt: skip
    with folder as tmp, contextlib.ExitStack() as stack:
        data = Path(tmp)
        originals_server = stack.enter_context(
            PageServer({k: v for k, v in original_paths.items() if v is not None})
        )
        copies_server = stack.enter_context(PageServer(copy_pages, second_loopback()))
        llm = stack.enter_context(LLMServer(api_key=LLM_KEY))
        redis = stack.enter_context(started(start_redis(data / "redis", free_port())))
        mongo = stack.enter_context(started(start_mongo(data / "mongo", free_port())))
        settings = Settings(
            redis_url=f"redis://127.0.0.1:{redis.port}/0",
            mongo_url=f"mongodb://127.0.0.1:{mongo.port}",
            mongo_db="newsflow_stories",
            fetch_allowed_networks=["127.0.0.0/8"],
            fetch_allowed_ports=[originals_server.port, copies_server.port],
            extract_processes=args.extractors,
            translate_provider="openai",
            translate_base_url=llm.url,
            translate_model="stand-in-mt",
            translate_api_key=LLM_KEY,
            impact_provider="openai",
            impact_base_url=llm.url,
            impact_model="stand-in-analyst",
            impact_api_key=LLM_KEY,
            llm_prices=PRICES,
            _env_file=None,  # type: ignore[call-arg]
        )
        if not args.skip_pipeline:
            workers = WorkerProcesses(
                settings, data / "workers", extra_env={"PYTHONUNBUFFERED": "1"}
            )
            stack.callback(workers.stop_all)
            workers.start_all(1)
            workers.wait_ready(timeout=120)
            pages = [(s, i) for s in SETS for i in corpus.ids(s)]
            original_urls = [originals_server.url(f"/o/{s}/{i}.html") for s, i in pages]
            copy_urls = [copies_server.url(f"/c/{spec.variant_id}.html") for spec in specs]
            phases: list[Phase] = []
            try:
                for name, urls, refresh in (
                    ("originals", original_urls, False),
                    ("refresh of the originals", original_urls, True),
                    ("copies", copy_urls, False),
                ):
                    print(f"{name}...", flush=True)
                    phases.append(asyncio.run(publish_phase(
                        name, urls, refresh=refresh, settings=settings, llm=llm,
                        workers=workers, timeout=args.timeout,
                    )))  # fmt: skip
            except PipelineBroken as exc:
                print(f"error: {exc}\n{log_tails(workers)}", file=sys.stderr)
                return 1
            first, _refresh, copies = phases
            original_ids = {
                page_id: aid for (_, page_id), aid in zip(pages, first.ids, strict=True)
            }
            copy_ids = {spec.variant_id: aid for spec, aid in zip(specs, copies.ids, strict=True)}
            stories = story_figures(specs, original_ids, copy_ids, phases[1].docs, copies.docs)
            rows = []
            for phase in phases:
                units = [llm_units(d) for d in phase.docs.values()]
                needed = sum(u + a for u, a in units)
                rows.append({
                    "name": phase.name, "articles": len(phase.ids), "seconds": phase.seconds,
                    "requests": phase.requests, "units": needed,
                    "per_unit": f"{phase.requests / needed:.3f}" if needed else "n/a (none needed)",
                    "statuses": Counter(d.get("status") for d in phase.docs.values()),
                })  # fmt: skip
            copy_requests = [
                f"`{spec.variant_id}`: {calls_of(copies.docs[copy_ids[spec.variant_id]])} requests "
                f"({spec.describe()})"
                for spec in specs if calls_of(copies.docs[copy_ids[spec.variant_id]])
            ]  # fmt: skip
            figures["pipeline"] = {
                "originals": len(pages),
                "phases": rows,
                "stories": stories,
                "related_merged": related_pairs_merged(
                    SimilarEval.load(), original_ids, phases[1].docs
                ),
                "copy_requests": copy_requests,
            }
            workers.stop_all()
            # The pipeline's figures now, in case the long lookup part is interrupted.
            print(render(figures), flush=True)
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        if not args.skip_lookup:
            print("lookup at scale...", flush=True)
            originals_fp = [
                fp for s in SETS for i in corpus.ids(s)
                if (fp := fingerprint(corpus.truth(s, i), "zh" if s == "zh_cwced" else None))
            ]  # fmt: skip
            rng = random.Random(5)
            queries = []
            for spec in specs:  # each copy's article text, as variants.py builds it
                paragraphs = paragraphs_of(corpus.truth(spec.source_set, spec.source_id))
                paragraphs = paragraphs[(1 if spec.trim_first else 0) :]
                paragraphs = paragraphs[:-1] if spec.trim_last else paragraphs
                paragraphs += [spec.add_line] if spec.add_line else []
                language = "zh" if spec.source_set == "zh_cwced" else None
                if fp := fingerprint("\n".join(paragraphs), language):
                    queries.append(fp)
            rng.shuffle(queries)
            figures["lookup"] = asyncio.run(
                lookup_scaling(settings, originals_fp, queries, args.sizes, args.rounds)
            )
    text = render(figures)
    print(text, flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    if "pipeline" in figures:
        s = figures["pipeline"]["stories"]
        return 0 if s["recall"] >= 0.95 and not s["false_merges"] else 2
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C: servers stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except (ServerError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
