"""Similar-events benchmark: quality on the labeled set, cost at 1k / 10k / 100k articles,
and the nearest-neighbour engines compared. Everything runs on 127.0.0.0/8.

1. **quality**: the 250 labeled corpus articles (``tests/data/similar_*``) and one
   syndicated copy of each (:func:`tests.support.variants.default_variant_specs`, applied
   to the text: trims and added lines; a copy is placed in its original's story, as the
   stories stage does) are stored in SecantusDB. Non-English articles get the stand-in
   translator's English (:func:`tests.support.llm_server.translate`'s paragraph rendering),
   as the pipeline with the stand-in would store them; symbols and keywords come from the
   analyzer's :func:`~newsflow.stages.analysis.analyze_text`. Each article is then ranked
   against all the others (the set ignores time) by the old keyword+symbol scorer, the
   lexical scorer through the real store (:class:`~newsflow.adapters.similar_events.
   SimilarEvents`), the semantic one (stand-in ``/embeddings`` over HTTP, faiss HNSW) and
   their fusion; precision at 6 at both levels. No constant was tuned on this set.
2. **scale**: synthetic articles are inserted directly (term frequencies and postings built
   as indexing would build them) with a Zipf-like term distribution: 200 symbols of which a
   few are on a large share of articles, a 60,000-word vocabulary with Zipf exponent 1.05;
   at each size the same queries are ranked (lookup + scoring, nothing written) and their
   time, MongoDB commands (a pymongo ``CommandListener``) and SecantusDB CPU (``psutil``) per
   query are reported, with ratios against the 1k run.
3. **engines**: exact search (numpy, faiss ``IndexFlatIP``) against faiss ``IndexHNSWFlat``
   on clustered random 256-d unit vectors at the same sizes: build time, query time,
   recall at 10, memory.

    .venv/bin/python bench/similar.py [--sizes 1000,10000,100000] [--queries 200]
        [--skip-quality] [--skip-scale] [--skip-engines] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from pymongo import monitoring

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.adapters.embeddings import EmbeddingsClient
from newsflow.adapters.similar import STATS_ID
from newsflow.adapters.similar_events import SimilarEvents
from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import free_port, start_mongo
from newsflow.domain.article import Article
from newsflow.settings import Settings
from newsflow.stages.analysis import analyze_text, rank_similar
from newsflow.stages.similar_events import event_terms
from tests.support.corpus_server import Corpus
from tests.support.llm_server import LLMServer, gloss
from tests.support.similar_eval import SimilarEval
from tests.support.variants import default_variant_specs, paragraphs_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: The stand-in embedder's cosine floor: on the development half, the lowest floor that
#: shows about one unrelated article per article (0.5: 3.9, 0.6: 2.5, 0.7: 0.8).
STANDIN_MIN_SIMILARITY = 0.7


class Commands(monitoring.CommandListener):
    """Counts the commands a client sends, by name."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def reads(self) -> int:
        return sum(n for name, n in self.counts.items() if name in ("find", "getMore", "aggregate"))

    def total(self) -> int:
        return sum(n for name, n in self.counts.items() if name not in ("endSessions",))


def is_dev(query: str) -> bool:
    """The development half of the labeled queries (sha256 of the id even): the only half
    any choice was made on (MIN_SCORE); the other half ("test") is reported apart."""
    return int(hashlib.sha256(query.encode()).hexdigest(), 16) % 2 == 0


def english(title: str, text: str, lang: str) -> tuple[str, str]:
    """What the pipeline with the stand-in translator stores as the English title and text."""
    if lang == "en":
        return title, text
    paragraphs = [gloss(p) for p in paragraphs_of(text)]
    if paragraphs:
        paragraphs[0] = f"[translated from {lang}] {paragraphs[0]}"
    return gloss(title), "\n\n".join(paragraphs)


def corpus_items(ev: SimilarEval, corpus: Corpus) -> list[dict[str, Any]]:
    items = []
    for a in ev.articles.values():
        text = corpus.truth(a.set, a.id)
        items.append({"id": a.id, "story": a.id, "lang": a.lang, "title": a.title, "text": text})
    for spec in default_variant_specs(corpus):
        source = ev.articles[spec.source_id]
        paragraphs = paragraphs_of(corpus.truth(spec.source_set, spec.source_id))
        if spec.trim_first:
            paragraphs = paragraphs[1:]
        if spec.trim_last:
            paragraphs = paragraphs[:-1]
        if spec.add_line:
            paragraphs.append(spec.add_line)
        items.append({"id": spec.variant_id, "story": spec.source_id, "lang": source.lang,
                      "title": source.title, "text": "\n\n".join(paragraphs)})  # fmt: skip
    for item in items:
        title, text = english(item["title"], item["text"], item["lang"])
        found = analyze_text(
            title=title, text=text, language=item["lang"],
            original_title=item["title"] if title != item["title"] else None,
            original_text=item["text"] if text != item["text"] else None,
        )  # fmt: skip
        item.update(en_title=title, en_text=text, symbols=found.symbols, keywords=found.keywords)
    return items


def as_document(item: dict[str, Any], n: int) -> dict[str, Any]:
    created = T0 + timedelta(seconds=n)
    doc: dict[str, Any] = {
        "_id": item["id"], "url": f"https://example.test/{n}", "status": "analyzed",
        "created_at": created,
        "extraction": {"status": "ok", "title": item["title"], "text": item["text"],
                       "language": item["lang"], "published": T0},
        "analysis": {"status": "ok", "symbols": item["symbols"], "keywords": item["keywords"]},
        "story": {"id": item["story"], "first": item["story"] == item["id"]},
    }  # fmt: skip
    if item["lang"] != "en":
        doc["translation"] = {"status": "translated", "title": item["en_title"],
                              "text": item["en_text"]}  # fmt: skip
    return doc


async def quality(settings: Settings) -> dict[str, Any]:
    ev = SimilarEval.load()
    corpus = Corpus()
    started_at = time.monotonic()
    items = corpus_items(ev, corpus)
    print(f"quality: {len(items)} items analyzed in {time.monotonic() - started_at:.0f} s",
          flush=True)  # fmt: skip
    docs = {item["id"]: as_document(item, n) for n, item in enumerate(items)}
    articles = {aid: Article.from_document(d) for aid, d in docs.items()}
    queries = ev.queries()
    originals = set(ev.articles)
    results: dict[str, dict[str, list[str]]] = {}
    # the old MVP scorer: weighted Jaccard of symbols and keywords, against everything
    for pool_name, pool in (("old (no copies)", [a for a in articles.values() if a.id in originals]),
                            ("old", list(articles.values()))):  # fmt: skip
        ranked = {}
        for q in ev.articles:
            me = articles[q]
            found = rank_similar((a for a in pool if a.id != q), symbols=me.symbols,
                                 keywords=me.keywords)  # fmt: skip
            ranked[q] = [s.id for s in found]
        results[pool_name] = ranked
    llm = LLMServer(api_key="bench-key").start()
    store = ArticleStore.connect(settings.model_copy(update={"mongo_db": "similar_quality"}))
    try:
        await store.drop()
        await store.ensure_indexes()
        await store.import_documents(list(docs.values()))
        embedder = EmbeddingsClient(llm.url, "stand-in-embed", "bench-key")
        # the stand-in's floor, chosen on the development half (README, "Similar events")
        standin = settings.model_copy(update={"embed_min_similarity": STANDIN_MIN_SIMILARITY})
        finder = SimilarEvents(store.similar, standin, embedder=embedder)
        assert finder.vectors is not None
        await finder.vectors.load()
        for aid in docs:  # index every item (and store its vector)
            a = articles[aid]
            await finder.find(a, symbols=a.symbols, keywords=a.keywords)
        lexical: dict[str, list[str]] = {}
        semantic: dict[str, list[str]] = {}
        fused: dict[str, list[str]] = {}
        evidence: dict[str, list[str]] = {}
        for q in ev.articles:  # every labeled article: the queries, and those with no match
            a = articles[q]
            terms = event_terms(title=a.headline, text=a.text, symbols=a.symbols,
                                keywords=a.keywords)  # fmt: skip
            ranked, _ = await finder.rank(a, terms)
            fused[q] = [s.candidate.id for s in ranked]
            lexical[q] = [s.candidate.id for s in finder.last_lexical]
            semantic[q] = [s.candidate.id for s in finder.last_semantic or []]
            evidence[q] = [f"{s.candidate.id[:10]} {s.score:.2f} {s.method}: "
                           f"{', '.join(s.shared[:5])}" for s in ranked[:3]]  # fmt: skip
        results["lexical"] = lexical
        results["semantic (stand-in embedder)"] = semantic
        results["lexical + semantic (RRF)"] = fused
        await embedder.aclose()
    finally:
        store.close()
        llm.stop()
    figures: dict[str, Any] = {"queries_topic": len(queries),
                               "queries_event": len(ev.queries(level="event"))}  # fmt: skip
    for name, ranked in results.items():
        for level in ("topic", "event"):
            only = ev.queries(level=level)
            clean = {q: [i for i in ranked.get(q, []) if i != q] for q in only}
            figures[f"{name} p@6 {level}"] = round(ev.precision_at_k(clean, 6, level=level), 3)
            for half in ("dev", "test"):
                sel = [q for q in only if (half == "dev") == is_dev(q)]
                figures[f"{name} p@6 {level} {half}"] = round(
                    ev.precision_at_k(clean, 6, level=level, only=sel), 3
                )
        copies = sum(1 for q, ids in ranked.items() for i in ids[:6] if i.split("~")[0] == q)
        figures[f"{name} own copies listed"] = copies
        # what a reader is shown that is not related (a copy of the query counts as wrong):
        # per labeled article, and over the 152 articles related to no other
        wrong = {q: sum(1 for i in ids[:6] if not _related(ev, q, i)) for q, ids in ranked.items()}
        lonely = [q for q in ev.articles if not ev.related_to(q)]
        figures[f"{name} unrelated items shown per article"] = round(
            sum(wrong.values()) / len(ev.articles), 2
        )
        figures[f"{name} unrelated items shown per article with no related one"] = round(
            sum(wrong[q] for q in lonely) / len(lonely), 2
        )
    figures["examples"] = dict(list(evidence.items())[:5])
    return figures


def _related(ev: SimilarEval, query: str, item: str) -> bool:
    story = ev.story_of(item)
    return story != query and ev.related(query, story)


# --- scale ---------------------------------------------------------------------------------


class Synthetic:
    """Articles with a Zipf-like term distribution (a few very common symbols, many rare
    words)."""

    def __init__(self, seed: int = 7, vocabulary: int = 60_000, symbols: int = 200) -> None:
        self.rng = np.random.default_rng(seed)
        ranks = np.arange(1, vocabulary + 1)
        self.word_p = 1.0 / ranks**1.05
        self.word_p /= self.word_p.sum()
        sranks = np.arange(1, symbols + 1)
        self.symbol_p = 1.0 / sranks**1.3
        self.symbol_p /= self.symbol_p.sum()
        self.vocabulary = vocabulary
        self.symbols = symbols

    def terms(self) -> list[str]:
        n_sym = int(self.rng.integers(0, 4))
        syms = self.rng.choice(self.symbols, size=n_sym, replace=False, p=self.symbol_p)
        words = set()
        while len(words) < 44:
            words.update(int(w) for w in self.rng.choice(self.vocabulary, size=50, p=self.word_p))
        return [f"$S{s}" for s in syms] + [f"w{w}" for w in sorted(words)[:44]]


async def insert_synthetic(
    store: ArticleStore, gen: Synthetic, start: int, stop: int, dfs: Counter[str],
    totals: list[int],
) -> None:  # fmt: skip
    """Articles ``start`` .. ``stop - 1``, with their frequencies and postings as indexing
    makes them (built here, written in bulk)."""
    from pymongo import UpdateOne

    from newsflow.stages.similar_events import POSTINGS

    articles = store.similar._articles
    terms_coll = store.similar._terms
    for lo in range(start, stop, 2_000):
        hi = min(lo + 2_000, stop)
        docs = []
        pushes: dict[str, list[str]] = {}
        for n in range(lo, hi):
            terms = gen.terms()
            aid = f"syn{n:07d}"
            when = T0 + timedelta(minutes=n)
            docs.append({
                "_id": aid, "url": f"https://synthetic.test/{n}", "status": "analyzed",
                "created_at": when,
                "extraction": {"status": "ok", "title": f"synthetic {n}", "published": when},
                "analysis": {"status": "ok", "symbols": [t[1:] for t in terms if t[0] == "$"],
                             "keywords": [t for t in terms if t[0] != "$"][:10], "similar": []},
                "similar_index": {"terms": terms, "n": len(terms), "at": when},
            })  # fmt: skip
            for t in terms:
                pushes.setdefault(t, []).append(aid)
                dfs[t] += 1
            totals[0] += 1
            totals[1] += len(terms)
        await articles.insert_many(docs, ordered=False)
        await terms_coll.bulk_write(
            [UpdateOne({"_id": t}, {"$set": {"df": dfs[t]},
                                    "$push": {"e": {"$each": e, "$slice": -POSTINGS}}},
                       upsert=True) for t, e in pushes.items()]
            + [UpdateOne({"_id": STATS_ID}, {"$set": {"n": totals[0], "terms": totals[1]}},
                         upsert=True)], ordered=False)  # fmt: skip


async def scale(settings: Settings, mongo_pid: int, sizes: list[int], n_queries: int,
                old: bool) -> list[dict[str, Any]]:  # fmt: skip
    listener = Commands()
    from motor.motor_asyncio import AsyncIOMotorClient

    client: Any = AsyncIOMotorClient(settings.mongo_url, tz_aware=True, event_listeners=[listener])
    local = settings.model_copy(update={"mongo_db": "similar_scale"})
    store = ArticleStore(client, local)
    server = psutil.Process(mongo_pid)
    gen = Synthetic()
    qgen = Synthetic(seed=99)
    # Queries: half new articles from the distribution, half sharing 12 words of a stored one
    # (an event that has an earlier article), fixed before the first size.
    query_terms = [qgen.terms() for _ in range(n_queries)]
    finder = SimilarEvents(store.similar, local)
    dfs: Counter[str] = Counter()
    totals = [0, 0]
    rows: list[dict[str, Any]] = []
    try:
        await client.drop_database("similar_scale")
        await store.ensure_indexes()
        if old:
            await store._articles.create_index("analysis.symbols")
            await store._articles.create_index("analysis.keywords")
        stored = 0
        for size in sizes:
            t0 = time.monotonic()
            await insert_synthetic(store, gen, stored, size, dfs, totals)
            stored = size
            inserted = time.monotonic() - t0
            base = await store.similar._articles.find_one({"_id": "syn0000500"})
            related = (base or {}).get("similar_index", {}).get("terms", [])[:12]
            times: list[float] = []
            listener.counts.clear()
            cpu0 = sum(server.cpu_times()[:2])
            for n, terms in enumerate(query_terms):
                if n % 2 and related:
                    terms = list(dict.fromkeys(related + terms))[:48]
                article = Article.from_document(
                    {"_id": f"query{n:05d}", "created_at": T0 + timedelta(days=3650)}
                )
                q0 = time.perf_counter()
                await finder.rank(article, terms)
                times.append(time.perf_counter() - q0)
            cpu = sum(server.cpu_times()[:2]) - cpu0
            row: dict[str, Any] = {
                "stored": stored, "median_ms": statistics.median(times) * 1000,
                "p95_ms": sorted(times)[int(0.95 * (len(times) - 1))] * 1000,
                "reads_per_query": listener.reads() / len(times),
                "commands_per_query": listener.total() / len(times),
                "server_cpu_ms_per_query": cpu * 1000 / len(times),
                "insert_s": round(inserted, 1),
            }  # fmt: skip
            if old:
                listener.counts.clear()
                cpu0 = sum(server.cpu_times()[:2])
                old_times = []
                for n, terms in enumerate(query_terms[:20]):
                    q0 = time.perf_counter()
                    await store.similar_candidates(
                        article_id=f"query{n:05d}", symbols=[t[1:] for t in terms if t[0] == "$"],
                        keywords=[t for t in terms if t[0] != "$"][:10],
                        before=T0 + timedelta(days=3650), limit=300,
                    )  # fmt: skip
                    old_times.append(time.perf_counter() - q0)
                row["old_median_ms"] = statistics.median(old_times) * 1000
                row["old_server_cpu_ms_per_query"] = (
                    (sum(server.cpu_times()[:2]) - cpu0) * 1000 / len(old_times)
                )
            rows.append(row)
            print(f"scale: {json.dumps(row)}", flush=True)
    finally:
        client.close()
    first = rows[0]
    for row in rows:
        for key in ("median_ms", "reads_per_query", "server_cpu_ms_per_query", "old_median_ms"):
            if key in row and first.get(key):
                row[f"{key}_ratio"] = round(row[key] / first[key], 2)
    return rows


# --- engines -------------------------------------------------------------------------------


def engines(sizes: list[int], dims: int = 256, n_queries: int = 200) -> list[dict[str, Any]]:
    """One query at a time (as the analyzer asks), one thread (the machine is shared)."""
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(5)
    rows = []
    for size in sizes:
        centers = rng.standard_normal((max(size // 20, 10), dims)).astype(np.float32)
        noise = rng.standard_normal((size, dims)).astype(np.float32)
        data = centers[rng.integers(0, len(centers), size)] + 0.6 * noise
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        picked = data[rng.integers(0, size, n_queries)]
        queries = picked + 0.1 * rng.standard_normal((n_queries, dims)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        t0 = time.perf_counter()
        exact = [np.argsort(-(data @ q))[:10] for q in queries]
        numpy_ms = (time.perf_counter() - t0) * 1000 / n_queries
        flat = faiss.IndexFlatIP(dims)
        flat.add(data)
        t0 = time.perf_counter()
        for q in queries:
            flat.search(q[None, :], 10)
        flat_ms = (time.perf_counter() - t0) * 1000 / n_queries
        t0 = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.add(data)
        build = time.perf_counter() - t0
        row: dict[str, Any] = {
            "vectors": size,
            "numpy_exact_ms": round(numpy_ms, 3),
            "faiss_flat_ms": round(flat_ms, 3),
            "hnsw_build_s": round(build, 2),
            "vectors_mb": round(size * dims * 4 / 1e6, 1),
        }
        for ef in (64, 128, 256):
            hnsw.hnsw.efSearch = ef
            t0 = time.perf_counter()
            found = [hnsw.search(q[None, :], 10)[1][0] for q in queries]
            row[f"hnsw_ef{ef}_ms"] = round((time.perf_counter() - t0) * 1000 / n_queries, 3)
            row[f"hnsw_ef{ef}_recall_at_10"] = round(
                float(
                    np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
                ),
                3,
            )
        rows.append(row)
        print(f"engines: {json.dumps(row)}", flush=True)
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--old", action="store_true", help="also time the old candidate query")
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="similar-bench-") as tmp:
        port = free_port()
        mongo = start_mongo(Path(tmp) / "mongo", port)
        try:
            settings = Settings(mongo_url=f"mongodb://127.0.0.1:{port}")
            if not args.skip_quality:
                figures["quality"] = await quality(settings)
                print(json.dumps(figures["quality"], indent=1), flush=True)
            if not args.skip_scale:
                figures["scale"] = await scale(settings, mongo.proc.pid, sizes, args.queries,
                                               args.old)  # fmt: skip
        finally:
            mongo.stop()
    if not args.skip_engines:
        figures["engines"] = engines(sizes)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    figures = asyncio.run(run(args))
    text = json.dumps(figures, indent=1, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
