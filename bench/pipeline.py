"""Benchmark of the whole pipeline against raw trafilatura, on the pages of ``../shared/corpus``.

One run does, in order:

1. raw ``trafilatura.extract`` (default settings) on every selected page, in this one process,
   on the bytes the server sends: the baseline, in pages/s (again after step 3, since the
   load of a shared machine drifts; the ratio uses both);
2. a local HTTP server for the corpus pages (read from the shared folder, never copied), a real
   redis-server and SecantusDB on free ports with their data in a temporary folder, the four
   real workers as child processes (``python -m services.<name>``), and optionally the stand-in
   chat-completions server so that translation and impact analysis make real HTTP calls;
3. every page URL submitted with :func:`newsflow.adapters.intake.submit` (what ``newsflow publish``
   does), then a wait until every article is ``analyzed`` or ``failed``.

A few warm-up articles go through first, one at a time, and are not counted.

It reports pipeline articles/s end to end and its ratio to raw trafilatura pages/s (the figure
that matters), CPU time per article against trafilatura's per page (which, unlike wall-clock
figures, holds on a machine busy with other work), p50/p95 latency of each stage from the
timestamps stored on the articles, the peak memory of each worker (RSS of its whole process
tree, sampled every 0.2 s, and PSS), and the outcome counts with failure reasons grouped. It
ends with a Markdown table for the README.

It exits with status 1 when an article is still in flight after ``--timeout`` seconds or a
worker dies, so a broken pipeline cannot report a figure.

    .venv/bin/python bench/pipeline.py [--limit N] [--with-llm] [--extractors N]
        [--workers-per-stage N] [--timeout S] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the test support servers live in tests/support
    sys.path.insert(0, str(REPO))

from newsflow.adapters.intake import submit
from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server, ServerError, free_port, start_mongo, start_redis
from newsflow.domain.pipeline import TERMINAL, Streams
from newsflow.settings import Settings
from tests.support.corpus_server import DEFAULT_CORPUS, Corpus, CorpusServer
from tests.support.llm_server import LLMServer
from tests.support.workers import STAGES, WorkerProcesses

SETS = ("scrapinghub", "zh_cwced")
#: Stage latencies: (label, timestamp where it starts, timestamp where it ends).
STAGE_SPANS = (
    ("wait in urls stream", "submitted_at", "queued_at"),
    ("fetch", "queued_at", "fetched_at"),
    ("extract", "fetched_at", "extracted_at"),
    ("translate", "extracted_at", "translated_at"),
    ("analyze", "translated_at", "analyzed_at"),
    ("end to end (analyzed)", "submitted_at", "analyzed_at"),
)
SAMPLE_EVERY = 0.2
PSS_EVERY = 5
#: How often the store is asked how many articles are done (seconds): the end time comes
#: from the timestamps on the articles, so this only costs the store some work.
POLL_EVERY = 1.0
LLM_KEY = "bench-key"


@dataclass(frozen=True)
class PageRef:
    """One corpus page: its set (``scrapinghub``, ``zh_cwced``) and id."""

    set_name: str
    page_id: str


def select_pages(corpus: Corpus, limit: int | None) -> list[PageRef]:
    """Pages of both sets, interleaved in proportion, so a ``--limit`` run has both languages."""
    by_set = {name: corpus.ids(name) for name in SETS}
    total = sum(len(ids) for ids in by_set.values())
    wanted = total if limit is None else min(limit, total)
    chosen: list[tuple[float, PageRef]] = []
    taken = 0
    for n, (name, ids) in enumerate(by_set.items()):
        last = n == len(by_set) - 1
        count = wanted - taken if last else round(wanted * len(ids) / total)
        count = min(count, len(ids))
        taken += count
        # Position i of count spread over [0, 1): merging by it interleaves the sets evenly.
        chosen += [((i + 0.5) / count, PageRef(name, ids[i])) for i in range(count)]
    return [ref for _, ref in sorted(chosen, key=lambda item: item[0])]


def warmup_pages(pages: Sequence[PageRef], count: int) -> list[PageRef]:
    """``count`` pages taken from each set in turn, for the untimed warm-up."""
    by_set = {name: [p for p in pages if p.set_name == name] for name in SETS}
    chosen: list[PageRef] = []
    for i in range(count):
        for name in SETS:
            if len(chosen) < count and i < len(by_set[name]):
                chosen.append(by_set[name][i])
    return chosen


# --- the baseline --------------------------------------------------------------------------


@dataclass
class RawResult:
    pages: int
    seconds: float
    #: CPU time of this process during the loop: comparable across machine load.
    cpu_seconds: float
    empty: int

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def measure_raw_trafilatura(corpus: Corpus, pages: Sequence[PageRef]) -> RawResult:
    """``trafilatura.extract`` with default settings on the served bytes, one process."""
    import trafilatura

    bodies = [corpus.page(p.set_name, p.page_id) or b"" for p in pages]
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # "discarding data" chatter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trafilatura.extract(bodies[0])  # untimed: module loading, as the workers warm up
        empty = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        for body in bodies:
            if not trafilatura.extract(body):
                empty += 1
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return RawResult(len(bodies), seconds, cpu, empty)


def baseline(corpus: Corpus, pages: Sequence[PageRef], when: str) -> RawResult:
    print(f"raw trafilatura.extract on {len(pages)} pages ({when} the pipeline)...", flush=True)
    raw = measure_raw_trafilatura(corpus, pages)
    print(f"  {raw.pages_per_s:.2f} pages/s ({raw.seconds:.1f} s)", flush=True)
    return raw


# --- memory ----------------------------------------------------------------------------------


@dataclass
class TreeStats:
    """Peak RSS of a process and its descendants, and the CPU seconds they used."""

    peak_rss: int = 0
    #: Peak PSS (shared pages divided among their sharers): RSS sums count the forkserver
    #: children's shared pages once per child. Sampled every ``PSS_EVERY`` samples.
    peak_pss: int = 0
    processes_seen: int = 0
    #: Last CPU seconds seen per pid: children that exit keep what they had at the last sample.
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    #: CPU seconds per pid when the timed run began (start-up and warm-up are not counted).
    cpu_at_mark: dict[int, float] = field(default_factory=dict)

    @property
    def cpu_seconds(self) -> float:
        return sum(cpu - self.cpu_at_mark.get(pid, 0.0) for pid, cpu in self.cpu_by_pid.items())

    def cpu_of(self, pid: int) -> float:
        """CPU seconds of one process of the tree during the timed run."""
        return self.cpu_by_pid.get(pid, 0.0) - self.cpu_at_mark.get(pid, 0.0)


class MemorySampler:
    """Samples each watched process tree every ``SAMPLE_EVERY`` seconds in a thread."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.stats = {name: TreeStats() for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._procs: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()  # mark() runs in the main thread
        self._samples = 0

    def _process(self, pid: int) -> psutil.Process:
        # One psutil.Process per worker for the whole run (children are looked up afresh).
        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)
        return proc

    def sample(self) -> None:
        with self._lock:
            self._sample()

    def _sample(self) -> None:
        with_pss = self._samples % PSS_EVERY == 0
        self._samples += 1
        for name, pid in self.roots.items():
            stats = self.stats[name]
            try:
                root = self._process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue  # exited: the worker watchdog reports it
            rss = pss = 0
            for proc in tree:
                with contextlib.suppress(psutil.Error):
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    stats.cpu_by_pid[proc.pid] = times.user + times.system
                    if with_pss:
                        pss += getattr(proc.memory_full_info(), "pss", 0)
            stats.peak_rss = max(stats.peak_rss, rss)
            stats.peak_pss = max(stats.peak_pss, pss)
            stats.processes_seen = max(stats.processes_seen, len(tree))

    def mark(self) -> None:
        """Start counting CPU from now: the timed run begins."""
        with self._lock:
            self._sample()
            for stats in self.stats.values():
                stats.cpu_at_mark = dict(stats.cpu_by_pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self.sample()


# --- the pipeline run ------------------------------------------------------------------------


class PipelineBroken(RuntimeError):
    pass


@dataclass
class PipelineRun:
    submitted: int
    started_at: datetime
    #: Submission time of each article id (wall clock, UTC).
    submitted_at: dict[str, datetime]
    docs: list[dict[str, Any]]
    finished: bool
    seconds: float


def _terminal_time(doc: dict[str, Any]) -> datetime | None:
    times = doc.get("times") or {}
    return times.get("analyzed_at") if doc.get("status") == "analyzed" else times.get("failed_at")


async def terminal_count(store: ArticleStore) -> int:
    """Articles analyzed or failed, in the whole database."""
    return sum(n for status, n in (await store.status_counts()).items() if status in TERMINAL)


async def push_and_wait(
    redis: Redis, store: ArticleStore, settings: Settings, urls: list[str],
    workers: WorkerProcesses, timeout: float, *, quiet: bool = False,
) -> PipelineRun:  # fmt: skip
    """Submit every URL, then wait until every article is analyzed or failed (or timeout)."""
    streams = Streams(settings.stream_prefix)
    # Counting by status alone: SecantusDB answers it in ~0.08 s, but a count with
    # `_id: {$in: ids}` took ~0.4 s and, polled often, competed with the workers.
    done_before = await terminal_count(store)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    submitted_at: dict[str, datetime] = {}
    for url in urls:
        # One call per URL, to know when each entry entered the stream.
        (result,) = await submit(
            [url], redis=redis, store=store, streams=streams, submitted_by="bench"
        )
        if result.outcome != "queued" or result.article_id is None:
            raise PipelineBroken(f"{url} was not queued: {result.outcome} ({result.detail})")
        submitted_at[result.article_id] = datetime.now(UTC)
    ids = list(submitted_at)
    if not quiet:
        print(f"  submitted {len(ids)} URLs in {time.monotonic() - t0:.1f} s", flush=True)
    deadline = t0 + timeout
    last_print = 0.0
    finished = False
    while True:
        done = await terminal_count(store) - done_before
        finished = done >= len(ids)
        elapsed = time.monotonic() - t0
        if (finished and not quiet) or elapsed - last_print >= 5:
            print(f"  {done}/{len(ids)} analyzed or failed after {elapsed:.0f} s", flush=True)
            last_print = elapsed
        if finished:
            break
        if dead := workers_dead(workers):
            raise PipelineBroken(f"worker(s) exited during the run: {', '.join(dead)}")
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(POLL_EVERY)
    docs = [a.document() for a in (await store.find(ids)).values()]
    # The count above is of the whole (fresh) database: confirm on the articles themselves.
    finished = finished and len(docs) == len(ids) and all(_terminal_time(d) for d in docs)
    ends = [t for d in docs if (t := _terminal_time(d)) is not None]
    seconds = (max(ends) - started).total_seconds() if finished and ends else 0.0
    return PipelineRun(len(ids), started, submitted_at, docs, finished, seconds)


async def run_pipeline(
    settings: Settings, warmup: list[str], urls: list[str], workers: WorkerProcesses,
    timeout: float, sampler: MemorySampler,
) -> PipelineRun:  # fmt: skip
    """An untimed warm-up batch (child processes start, models load), then the timed run."""
    redis = Redis.from_url(settings.redis_url)
    store = ArticleStore.connect(settings)
    try:
        if warmup:
            # One at a time: the extractor starts its process pool on its first page, blocking
            # its event loop for seconds; an XREADGROUP reply that times out meanwhile strands
            # its entries in the pending list until the reclaimer takes them (claim_idle_ms).
            print(f"warm-up: {len(warmup)} articles, one at a time (not counted)...", flush=True)
            for url in warmup:
                run = await push_and_wait(
                    redis, store, settings, [url], workers, timeout, quiet=True
                )
                if not run.finished:
                    return run
        sampler.mark()
        print(f"pipeline: {len(urls)} articles...", flush=True)
        return await push_and_wait(redis, store, settings, urls, workers, timeout)
    finally:
        store.close()
        await redis.aclose()


def workers_dead(workers: WorkerProcesses) -> list[str]:
    return [
        f"{name}-{i} (exit {proc.returncode})"
        for name, replicas in workers.procs.items()
        for i, proc in enumerate(replicas)
        if proc.poll() is not None
    ]


# --- figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def stage_latencies(run: PipelineRun) -> dict[str, list[float]]:
    """Seconds spent in each stage by each article that went through it."""
    spans: dict[str, list[float]] = {label: [] for label, _, _ in STAGE_SPANS}
    for doc in run.docs:
        times = {**(doc.get("times") or {}), "submitted_at": run.submitted_at.get(doc["_id"])}
        for label, begin, end in STAGE_SPANS:
            if times.get(begin) is not None and times.get(end) is not None:
                spans[label].append((times[end] - times[begin]).total_seconds())
    return spans


_NUMBER = re.compile(r"\d+(\.\d+)?")


def problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(stage, reason) of what went wrong with an article: its failure, and a translation or
    impact analysis that failed on an article that was still analyzed."""
    found = []
    if doc.get("status") == "failed":
        failure = doc.get("failure") or {}
        found.append((str(failure.get("stage", "?")), str(failure.get("reason") or "no reason")))
    translation = doc.get("translation") or {}
    if translation.get("status") == "failed":
        found.append(("translation (analyzed anyway)", str(translation.get("error"))))
    impact = (doc.get("analysis") or {}).get("impact") or {}
    if impact.get("status") == "failed":
        found.append(("impact (analyzed anyway)", str(impact.get("reason"))))
    return found


def failure_groups(docs: Sequence[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """(stage: reason with numbers as N, count, one full example), most frequent first."""
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for doc in docs:
        for stage, reason in problems(doc):
            # Group "teaser (3 paragraphs...)" with "teaser (5 paragraphs...)".
            key = f"{stage}: {_NUMBER.sub('N', reason)[:160]}"
            counts[key] += 1
            example.setdefault(key, reason)
    return [(key, n, example[key]) for key, n in counts.most_common()]


def sub_counts(docs: Sequence[dict[str, Any]], path: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for doc in docs:
        value: Any = doc
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            counts[str(value)] += 1
    return counts


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores, {mem:.1f} GiB, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {load_average():.1f} at start"
    )


def render(
    args: argparse.Namespace, pages: Sequence[PageRef], raws: Sequence[RawResult],
    run: PipelineRun,
    memory: dict[str, TreeStats], roots: dict[str, int], machine_line: str,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The report text (with the Markdown table at the end) and the same figures as a dict."""
    raw = RawResult(
        sum(r.pages for r in raws), sum(r.seconds for r in raws),
        sum(r.cpu_seconds for r in raws), sum(r.empty for r in raws),
    )  # fmt: skip
    each = ", ".join(f"{r.pages_per_s:.2f}" for r in raws)
    # The load average says how much else ran: on a shared machine the figures are lower.
    machine_line = f"{machine_line}, {load_average():.1f} at end"
    status = Counter(str(d.get("status")) for d in run.docs)
    per_s = run.submitted / run.seconds if run.seconds else 0.0
    analyzed_per_s = status["analyzed"] / run.seconds if run.seconds else 0.0
    ratio = per_s / raw.pages_per_s if raw.pages_per_s else 0.0
    spans = stage_latencies(run)
    pipeline_cpu = sum(stats.cpu_seconds for stats in memory.values())
    cpu_per_article = pipeline_cpu / run.submitted if run.submitted else 0.0
    raw_cpu_per_page = raw.cpu_seconds / raw.pages if raw.pages else 0.0
    per_set = Counter(p.set_name for p in pages)
    llm = f"stand-in LLM, {args.llm_latency:g} s per call" if args.with_llm else "no provider"
    lines = [
        "",
        f"machine: {machine_line}",
        f"pages: {len(pages)} ({', '.join(f'{n} {s}' for s, n in per_set.items())})",
        f"outcome: {status['analyzed']} analyzed, {status['failed']} failed",
        f"translation: {dict(sub_counts(run.docs, 'translation.status'))}",
        f"impact: {dict(sub_counts(run.docs, 'analysis.impact.status'))}",
        f"languages: {dict(sub_counts(run.docs, 'extraction.language').most_common(6))}",
    ]
    groups = failure_groups(run.docs)
    if groups:
        lines.append("failures, grouped:")
        for key, n, sample in groups:
            lines.append(f"  {n:4d}  {key}")
            if sample != key.split(": ", 1)[1]:
                lines.append(f"        e.g. {sample[:200]}")
    lines += [
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| Pages (corpus) | {len(pages)}: "
        + ", ".join(f"{n} {s}" for s, n in per_set.items())
        + " |",
        (
            f"| Setup | {args.workers_per_stage} worker(s) per stage, "
            f"{args.extractors or os.cpu_count()} extraction processes per extractor, {llm}, "
            f"{args.warmup} warm-up articles first (not counted) |"
        ),
        f"| Machine | {machine_line} |",
        (
            f"| Pipeline, end to end | **{per_s:.2f} articles/s** ({run.submitted} in "
            f"{run.seconds:.1f} s; {status['analyzed']} analyzed, {status['failed']} failed: "
            f"{analyzed_per_s:.2f} analyzed/s) |"
        ),
        (
            f"| Raw `trafilatura.extract`, 1 process | {raw.pages_per_s:.2f} pages/s "
            f"({len(pages)} pages before and after the pipeline: {each} pages/s) |"
        ),
        f"| **Ratio pipeline / raw trafilatura** | **{ratio:.2f}** |",
        (
            f"| CPU per article | pipeline {cpu_per_article * 1000:.0f} ms (all processes, "
            f"Redis and SecantusDB included); raw trafilatura {raw_cpu_per_page * 1000:.0f} ms |"
        ),
        "",
        "| Stage latency | p50 | p95 | articles |",
        "|---|---|---|---|",
    ]
    for label, values in spans.items():
        if values:
            lines.append(
                f"| {label} | {percentile(values, 50):.2f} s | {percentile(values, 95):.2f} s "
                f"| {len(values)} |"
            )
    lines += [
        "",
        "| Process | Peak RSS (sum over its tree) | Peak PSS | CPU s: tree (main) | processes |",
        "|---|---|---|---|---|",
    ]
    for name, stats in memory.items():
        lines.append(
            f"| {name} | {stats.peak_rss / 2**20:.0f} MB | {stats.peak_pss / 2**20:.0f} MB "
            f"| {stats.cpu_seconds:.1f} ({stats.cpu_of(roots[name]):.1f}) "
            f"| {stats.processes_seen} |"
        )
    figures = {
        "machine": machine_line,
        "pages": len(pages),
        "pages_by_set": dict(per_set),
        "workers_per_stage": args.workers_per_stage,
        "extract_processes": args.extractors or os.cpu_count(),
        "llm": llm,
        "status": dict(status),
        "pipeline_seconds": run.seconds,
        "pipeline_articles_per_s": per_s,
        "pipeline_analyzed_per_s": analyzed_per_s,
        "raw_trafilatura_pages_per_s": raw.pages_per_s,
        "raw_trafilatura_pages_per_s_each": [r.pages_per_s for r in raws],
        "raw_trafilatura_empty": raws[0].empty,
        "pipeline_cpu_s_per_article": cpu_per_article,
        "raw_trafilatura_cpu_s_per_page": raw_cpu_per_page,
        "ratio": ratio,
        "latency_s": {
            label: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)}
            for label, v in spans.items()
            if v
        },
        "peak_rss_mb": {name: s.peak_rss / 2**20 for name, s in memory.items()},
        "peak_pss_mb": {name: s.peak_pss / 2**20 for name, s in memory.items()},
        "cpu_s": {name: s.cpu_seconds for name, s in memory.items()},
        "cpu_s_main_process": {name: s.cpu_of(roots[name]) for name, s in memory.items()},
        "failures": [{"group": k, "count": n, "example": e} for k, n, e in groups],
        "failed_articles": [
            {"id": d["_id"][:10], "url": d.get("url"), "stage": stage, "reason": reason}
            for d in run.docs for stage, reason in problems(d)
        ],
    }
    return "\n".join(lines), figures


# --- orchestration ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Pipeline throughput, stage latency and worker memory vs raw trafilatura."
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="../shared/corpus")
    parser.add_argument("--limit", type=int, default=None, help="pages to use (default: all)")
    parser.add_argument(
        "--with-llm",
        action="store_true",
        help="run the stand-in chat-completions server: translation and impact",
    )
    parser.add_argument(
        "--llm-latency",
        type=float,
        default=0.0,
        help="seconds each stand-in LLM answer takes (with --with-llm)",
    )
    parser.add_argument(
        "--extractors",
        type=int,
        default=0,
        help="extraction child processes per extractor (0: one per core)",
    )
    parser.add_argument("--workers-per-stage", type=int, default=1, help="replicas of each worker")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="messages in flight per worker (NEWSFLOW_CONCURRENCY)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=4,
        help="articles pushed through first and not counted (start-up costs)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=240.0,
        help="seconds to wait for every article to be analyzed or failed",
    )
    parser.add_argument(
        "--mongo-in-memory",
        action="store_true",
        help="SecantusDB with ':memory:' storage instead of a data folder",
    )
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the temporary folder (worker logs, Redis and SecantusDB data)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.workers_per_stage < 1:
        parser.error("--workers-per-stage must be at least 1")
    if args.warmup is None:
        args.warmup = 4 * args.workers_per_stage
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.extractors < 0:
        parser.error("--extractors must be 0 (one per core) or more")
    if not (args.corpus / "scrapinghub").is_dir() or not (args.corpus / "zh_cwced").is_dir():
        parser.error(f"{args.corpus} has no scrapinghub/ and zh_cwced/ folders (--corpus)")
    return args


def bench_settings(
    args: argparse.Namespace, redis: Server, mongo: Server, corpus_port: int,
    llm: LLMServer | None,
) -> Settings:  # fmt: skip
    overrides: dict[str, Any] = {
        "redis_url": f"redis://127.0.0.1:{redis.port}/0",
        "mongo_url": f"mongodb://127.0.0.1:{mongo.port}",
        "mongo_db": "newsflow_bench",
        # Only the corpus server is reachable: nothing leaves 127.0.0.0/8.
        "fetch_allowed_networks": ["127.0.0.0/8"],
        "fetch_allowed_ports": [corpus_port],
        "extract_processes": args.extractors,
        "translate_provider": "none",
        "impact_provider": "none",
    }
    if args.concurrency:
        overrides["concurrency"] = args.concurrency
    if llm is not None:
        for purpose in ("translate", "impact"):
            overrides[f"{purpose}_provider"] = "openai"
            overrides[f"{purpose}_base_url"] = llm.url
            overrides[f"{purpose}_model"] = "stand-in"
            overrides[f"{purpose}_api_key"] = LLM_KEY
    return Settings(**overrides)


def stuck_report(run: PipelineRun, timeout: float) -> str:
    """Which articles are neither analyzed nor failed, and where they stopped."""
    stuck = [d for d in run.docs if d.get("status") not in TERMINAL]
    missing = run.submitted - len(run.docs)
    lines = [
        (
            f"error: after {timeout:g} s, {len(stuck) + missing} of {run.submitted} articles are "
            f"neither analyzed nor failed ({missing} never reached the store); "
            "no figure is reported."
        )
    ]
    for doc in stuck[:20]:
        times = {k: v.strftime("%H:%M:%S.%f")[:-3] for k, v in (doc.get("times") or {}).items()}
        lines.append(f"  {doc['_id'][:10]} {doc.get('status')} {doc.get('url')} {times}")
    return "\n".join(lines)


def log_tails(workers: WorkerProcesses, problems: int = 30, last: int = 5) -> str:
    """Warnings and errors of each worker's log, and its last lines."""
    out = []
    for name, replicas in workers.procs.items():
        for i in range(len(replicas)):
            lines = workers.log(name, i).splitlines()
            bad = [ln for ln in lines if re.search(r"WARNING|ERROR|CRITICAL|Traceback|Error", ln)]
            out.append(f"--- {name}-{i}: {len(bad)} warning/error lines (first {problems}), "
                       f"then the last {last} lines")  # fmt: skip
            out += bad[:problems] + (["..."] if bad else []) + lines[-last:]
    return "\n".join(out)


@contextlib.contextmanager
def started(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = Corpus(args.corpus)
    pages = select_pages(corpus, args.limit)
    machine_line = machine()
    print(f"machine: {machine_line}", flush=True)
    # The baseline runs before and after the pipeline: on a shared machine the load drifts,
    # and measuring on both sides keeps the ratio from depending on which side was luckier.
    raw_before = baseline(corpus, pages, "before")

    folder: contextlib.AbstractContextManager[str] = (
        contextlib.nullcontext(tempfile.mkdtemp(prefix="newsflow-bench-")) if args.keep_data
        else tempfile.TemporaryDirectory(prefix="newsflow-bench-")
    )  # fmt: skip
    with folder as tmp, contextlib.ExitStack() as stack:
        data = Path(tmp)
        if args.keep_data:
            print(f"data and worker logs kept in {data}", flush=True)
        server = stack.enter_context(CorpusServer(corpus))
        llm = stack.enter_context(LLMServer(api_key=LLM_KEY, latency=args.llm_latency)) \
            if args.with_llm else None  # fmt: skip
        redis = stack.enter_context(started(start_redis(data / "redis", free_port())))
        mongo_dir = None if args.mongo_in_memory else data / "mongo"
        mongo = stack.enter_context(started(start_mongo(mongo_dir, free_port())))
        settings = bench_settings(args, redis, mongo, server.port, llm)
        # Unbuffered, so that the logs shown on a failure are complete.
        workers = WorkerProcesses(settings, data / "workers", extra_env={"PYTHONUNBUFFERED": "1"})
        stack.callback(workers.stop_all)
        print(f"starting {args.workers_per_stage} worker(s) per stage...", flush=True)
        workers.start_all(args.workers_per_stage)
        try:
            workers.wait_ready(timeout=120)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        roots = {
            f"{name}-{i}" if args.workers_per_stage > 1 else name: proc.pid
            for name in STAGES
            for i, proc in enumerate(workers.procs[name])
        }
        roots |= {"redis-server": redis.proc.pid, "SecantusDB": mongo.proc.pid}
        sampler = MemorySampler(roots)
        sampler.start()
        stack.callback(sampler.stop)
        urls = [server.url(p.set_name, p.page_id) for p in pages]
        # The same pages under another URL (the server ignores the query): other articles.
        warmup = [f"{server.url(p.set_name, p.page_id)}?warmup={i}"
                  for i, p in enumerate(warmup_pages(pages, args.warmup))]  # fmt: skip
        try:
            run = asyncio.run(run_pipeline(settings, warmup, urls, workers, args.timeout, sampler))
        except PipelineBroken as exc:
            print(f"error: {exc}\n{log_tails(workers)}", file=sys.stderr)
            return 1
        sampler.stop()
        if not run.finished:
            print(stuck_report(run, args.timeout) + "\n" + log_tails(workers), file=sys.stderr)
            return 1
    raw = [raw_before, baseline(corpus, pages, "after")]
    text, figures = render(args, pages, raw, run, sampler.stats, roots, machine_line)
    print(text, flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    # The workers are our children: never leave them behind on Ctrl-C (ExitStack stops them).
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except (ServerError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
