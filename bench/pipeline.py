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
        [--workers-per-stage N] [--timeout S] [--write-concern KIND] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parent.parent
#: Put on the workers' PYTHONPATH: its sitecustomize counts their MongoDB commands.
INSTRUMENT = REPO / "bench" / "instrument"
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
#: How often the streams are checked for a pipeline that may be done (seconds): the end time
#: comes from the timestamps on the articles, so this only decides when the run looks.
POLL_EVERY = 1.0
#: How often the store is asked for the done count while the streams are busy (seconds).
COUNT_EVERY = 10.0
#: Articles whose status one progress count asks for (see :class:`Finished`).
CHECK_AT_ONCE = 500
#: Articles per window of the soak's memory table (``--repeat``).
WINDOW = 1000
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
    #: Peak RSS of the main process alone (the extractor's pool children left out).
    peak_rss_main: int = 0
    #: Peak RSS of the tree in each window of ``WINDOW`` finished articles (the soak).
    peak_by_window: dict[int, int] = field(default_factory=dict)

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
        #: Which window of ``WINDOW`` finished articles the run is in (set by the poller).
        self.window = 0
        #: Set by :meth:`hold`: the figures are final, later samples are ignored.
        self._held = False

    def _process(self, pid: int) -> psutil.Process:
        # One psutil.Process per worker for the whole run (children are looked up afresh).
        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)
        return proc

    def sample(self) -> None:
        with self._lock:
            self._sample()

    def hold(self) -> None:
        """Take a last sample and keep the figures as they are: what the benchmark itself
        asks of the servers afterwards (every article's times, one ``$in`` that SecantusDB
        decodes into one list) is not the pipeline's."""
        with self._lock:
            self._sample()
            self._held = True

    def _sample(self) -> None:
        if self._held:
            return
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
                    if proc is root:
                        stats.peak_rss_main = max(stats.peak_rss_main, rss)
                    times = proc.cpu_times()
                    stats.cpu_by_pid[proc.pid] = times.user + times.system
                    if with_pss:
                        pss += getattr(proc.memory_full_info(), "pss", 0)
            stats.peak_rss = max(stats.peak_rss, rss)
            stats.peak_pss = max(stats.peak_pss, pss)
            stats.peak_by_window[self.window] = max(stats.peak_by_window.get(self.window, 0), rss)
            stats.processes_seen = max(stats.processes_seen, len(tree))

    def mark(self) -> None:
        """Start counting CPU from now: the timed run begins (peaks are of the timed run)."""
        with self._lock:
            self._sample()
            for stats in self.stats.values():
                stats.cpu_at_mark = dict(stats.cpu_by_pid)
                stats.peak_by_window.clear()

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


# --- database round trips -------------------------------------------------------------------


class CommandCounts:
    """MongoDB commands per process, as ``bench/instrument/sitecustomize.py`` writes them
    (``<folder>/<pid>.json``), read at the start and at the end of the timed run."""

    def __init__(self, folder: Path, server_folder: Path | None = None) -> None:
        self.folder = folder
        self.server_folder = server_folder
        self.at_mark: dict[int, Counter[str]] = {}
        self.at_end: dict[int, Counter[str]] = {}
        self.server_at_mark: dict[str, tuple[int, float]] = {}
        self.server_at_end: dict[str, tuple[int, float]] = {}

    def read(self) -> dict[int, Counter[str]]:
        found: dict[int, Counter[str]] = {}
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text(encoding="utf-8"))
                found[int(path.stem)] = Counter(data.get("by_collection") or {})
        return found

    def read_server(self) -> dict[str, tuple[int, float]]:
        """SecantusDB's commands and their CPU seconds, by ``collection.command``."""
        if self.server_folder is None:
            return {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((self.server_folder / "server.json").read_text(encoding="utf-8"))
            return {k: (int(v["count"]), float(v["cpu_s"])) for k, v in data.items()}
        return {}

    def mark(self) -> None:
        self.at_mark = self.read()
        self.server_at_mark = self.read_server()

    def end(self) -> None:
        time.sleep(1.2)  # the processes write their counts every half second
        self.at_end = self.read()
        self.server_at_end = self.read_server()

    def server_during(self) -> dict[str, tuple[int, float]]:
        """SecantusDB's commands in the timed run: (count, CPU seconds) by command."""
        out = {}
        for key, (count, cpu) in self.server_at_end.items():
            count0, cpu0 = self.server_at_mark.get(key, (0, 0.0))
            if count > count0:
                out[key] = (count - count0, cpu - cpu0)
        return out

    def during(self, pids: Sequence[int]) -> Counter[str]:
        """Commands (``collection.command``) the processes ``pids`` sent in the timed run."""
        total: Counter[str] = Counter()
        for pid in pids:
            total.update(self.at_end.get(pid, Counter()))
            total.subtract(self.at_mark.get(pid, Counter()))
        return +total


class _OwnCommands:
    """The benchmark's own MongoDB commands (submissions, polls), counted apart."""

    def __init__(self) -> None:
        from pymongo import monitoring

        class Listener(monitoring.CommandListener):
            def __init__(self, counts: Counter[str]) -> None:
                self.counts = counts

            def started(self, event: monitoring.CommandStartedEvent) -> None:
                target = event.command.get(event.command_name)
                coll = target if isinstance(target, str) else "-"
                self.counts[f"{coll}.{event.command_name}"] += 1

            def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
                pass

            def failed(self, event: monitoring.CommandFailedEvent) -> None:
                pass

        self.counts: Counter[str] = Counter()
        self.at_mark: Counter[str] = Counter()
        monitoring.register(Listener(self.counts))

    def mark(self) -> None:
        self.at_mark = Counter(self.counts)

    def during(self) -> Counter[str]:
        return +(self.counts - self.at_mark)


#: Registered once, before the benchmark's first client (pymongo's listeners are global).
OWN_COMMANDS = _OwnCommands()


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


def server_table(result: TreeResult, articles: int, top: int = 12) -> list[str]:
    """SecantusDB's CPU per article by command (the thread running each command)."""
    rows = sorted(result.server_commands.items(), key=lambda kv: -kv[1][1])
    total = sum(cpu for _, cpu in result.server_commands.values())
    if not rows or not articles or not total:
        return []
    lines = [
        "",
        f"SecantusDB CPU by command ({total * 1000 / articles:.1f} ms per article in its "
        "command threads, the rest of its process time being the server's own):",
        "",
        "| collection.command | per article | CPU ms per article | ms each | share |",
        "|---|---|---|---|---|",
    ]
    for key, (count, cpu) in rows[:top]:
        lines.append(
            f"| {key} | {count / articles:.2f} | {cpu * 1000 / articles:.1f} "
            f"| {cpu * 1000 / count:.2f} | {100 * cpu / total:.0f} % |"
        )
    return lines


def window_rates(run: PipelineRun) -> list[tuple[int, int, float]]:
    """(first, last, articles/s) of each ``WINDOW`` of finished articles, in the order they
    finished: from the articles' own terminal times (the first window starts at the first
    submission)."""
    ends = sorted(t for d in run.docs if (t := _terminal_time(d)) is not None)
    rates = []
    start = run.started_at
    for lo in range(0, len(ends), WINDOW):
        chunk = ends[lo : lo + WINDOW]
        seconds = (chunk[-1] - start).total_seconds()
        if len(chunk) == WINDOW and seconds > 0:
            rates.append((lo + 1, lo + len(chunk), len(chunk) / seconds))
        start = chunk[-1]
    return rates


def throughput_windows(run: PipelineRun) -> list[str]:
    """The soak's throughput table: articles/s per ``WINDOW`` finished articles."""
    rates = window_rates(run)
    if len(rates) < 2:
        return []
    first = rates[0][2]
    lines = [
        "",
        f"Throughput per {WINDOW} finished articles (the soak; the first window includes "
        "the submission of every URL, made one at a time):",
        "",
        "| articles | articles/s | / first window |",
        "|---|---|---|",
    ]
    for lo, hi, rate in rates:
        lines.append(f"| {lo}-{hi} | {rate:.2f} | {rate / first:.2f} |")
    return lines


def _terminal_time(doc: dict[str, Any]) -> datetime | None:
    times = doc.get("times") or {}
    return times.get("analyzed_at") if doc.get("status") == "analyzed" else times.get("failed_at")


class Finished:
    """How many of the submitted articles are analyzed or failed, counted without a scan.

    Articles finish about in the order they were submitted, so each count asks the store
    for the status of the oldest :data:`CHECK_AT_ONCE` not yet seen finished (one ``$in`` on
    ``_id``): its cost follows that number, not the collection. (Counting by status is an
    aggregation over every article, which on SecantusDB decodes each one: at 10,000
    articles it cost the server more than the pipeline's own work per article, and grew
    with every article of a soak.) An article finishing far ahead of the others is counted
    when its turn comes: the count is a lower bound, exact once the run is done.
    """

    def __init__(self, ids: list[str]) -> None:
        self.pending = list(ids)
        self.done = 0

    async def count(self, store: ArticleStore) -> int:
        while self.pending:
            chunk = self.pending[:CHECK_AT_ONCE]
            statuses = await store.statuses(chunk)
            finished = {aid for aid, status in statuses.items() if status in TERMINAL}
            self.pending = [aid for aid in self.pending if aid not in finished]
            self.done += len(finished)
            if len(finished) < len(chunk):
                break
        return self.done


async def streams_idle(redis: Redis, streams: Streams) -> bool:
    """True when every stage's group has read its whole stream and has nothing pending.

    Two Redis calls per stream: the run asks the store how many articles are done
    (:class:`Finished`; SecantusDB's CPU counts as the pipeline's) only when this says the
    pipeline may be done, and every ``COUNT_EVERY`` seconds for the progress line.
    """
    for group, stream in streams.inputs().items():
        info = await redis.xinfo_stream(stream)
        last = info.get("last-generated-id")
        for g in await redis.xinfo_groups(stream):
            if _text(g.get("name")) == group and (
                int(g.get("pending") or 0) or _text(g.get("last-delivered-id")) != _text(last)
            ):
                return False
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def push_and_wait(
    redis: Redis, store: ArticleStore, settings: Settings, urls: list[str],
    workers: WorkerProcesses, timeout: float, *, quiet: bool = False,
    sampler: MemorySampler | None = None, on_window: Callable[[int], None] | None = None,
) -> PipelineRun:  # fmt: skip
    """Submit every URL, then wait until every article is analyzed or failed (or timeout).

    ``on_window(k)`` is called when the k-th ``WINDOW`` of articles is done (the soak's
    memory snapshots); the sampler's window follows it.
    """
    streams = Streams(settings.stream_prefix)
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
    counter = Finished(ids)
    if not quiet:
        print(f"  submitted {len(ids)} URLs in {time.monotonic() - t0:.1f} s", flush=True)
    deadline = t0 + timeout
    last_print = last_count = 0.0
    finished = False
    window = 0
    while True:
        elapsed = time.monotonic() - t0
        count_now = elapsed - last_count >= COUNT_EVERY or await streams_idle(redis, streams)
        if count_now:
            last_count = elapsed
            done = await counter.count(store)
            finished = done >= len(ids)
            while done >= (window + 1) * WINDOW and (window + 1) * WINDOW < len(ids):
                window += 1
                if sampler is not None:
                    sampler.window = window
                if on_window is not None:
                    on_window(window)
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
    if sampler is not None:
        sampler.hold()
    docs = [a.document() for a in (await store.find(ids)).values()]
    # The count above is a lower bound that may lag: confirm on the articles themselves.
    finished = finished and len(docs) == len(ids) and all(_terminal_time(d) for d in docs)
    ends = [t for d in docs if (t := _terminal_time(d)) is not None]
    seconds = (max(ends) - started).total_seconds() if finished and ends else 0.0
    return PipelineRun(len(ids), started, submitted_at, docs, finished, seconds)


async def run_pipeline(
    settings: Settings, warmup: list[str], urls: list[str], workers: WorkerProcesses,
    timeout: float, sampler: MemorySampler, counts: CommandCounts,
    on_window: Callable[[int], None] | None = None,
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
        await asyncio.sleep(1.0)  # let the last warm-up writes of every worker be counted
        sampler.mark()
        counts.mark()
        OWN_COMMANDS.mark()
        print(f"pipeline: {len(urls)} articles...", flush=True)
        run = await push_and_wait(redis, store, settings, urls, workers, timeout,
                                  sampler=sampler, on_window=on_window)  # fmt: skip
        counts.end()
        return run
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


@dataclass
class TreeResult:
    """One pipeline run: of this work tree, or of the ``--compare`` revision."""

    label: str
    run: PipelineRun
    memory: dict[str, TreeStats]
    roots: dict[str, int]
    #: MongoDB commands of each worker in the timed run (``collection.command``).
    commands: dict[str, Counter[str]]
    #: The benchmark's own commands in the timed run (submissions and polls).
    own_commands: Counter[str]
    #: The raw trafilatura runs just before and just after this pipeline run.
    raws: list[RawResult]
    #: Fetcher memory: the biggest allocation growths between the first and last snapshot.
    tracemalloc: list[str] = field(default_factory=list)
    #: Top entries of the py-spy profiles (``--profile``).
    profile: list[str] = field(default_factory=list)
    #: SecantusDB's commands in the timed run: (count, CPU seconds of the thread running
    #: them) by ``collection.command`` (``bench/instrument``).
    server_commands: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def raw(self) -> RawResult:
        return RawResult(
            sum(r.pages for r in self.raws), sum(r.seconds for r in self.raws),
            sum(r.cpu_seconds for r in self.raws), sum(r.empty for r in self.raws),
        )  # fmt: skip

    @property
    def articles_per_s(self) -> float:
        return self.run.submitted / self.run.seconds if self.run.seconds else 0.0

    @property
    def ratio(self) -> float:
        raw = self.raw.pages_per_s
        return self.articles_per_s / raw if raw else 0.0

    @property
    def cpu_per_article(self) -> float:
        """CPU seconds per article, every process of the pipeline included."""
        total = sum(stats.cpu_seconds for stats in self.memory.values())
        return total / self.run.submitted if self.run.submitted else 0.0

    def cpu_ms(self, name: str) -> float:
        return 1000 * self.memory[name].cpu_seconds / max(self.run.submitted, 1)

    def trips(self, name: str) -> float:
        """MongoDB round trips per article of one worker (the benchmark: ``bench``)."""
        counts = self.own_commands if name == "bench" else self.commands.get(name, Counter())
        return sum(counts.values()) / max(self.run.submitted, 1)

    @property
    def total_trips(self) -> float:
        return sum(self.trips(name) for name in self.commands)


def _by_command(counts: Counter[str], articles: int) -> str:
    """``articles.find 1.00, articles_pages.insert 1.00`` per article, most first."""
    return ", ".join(f"{key} {n / max(articles, 1):.2f}" for key, n in counts.most_common())


def render(
    args: argparse.Namespace, pages: Sequence[PageRef], result: TreeResult, machine_line: str,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The report text of one run (with its Markdown tables) and the same figures as a dict."""
    run, memory, roots, raws = result.run, result.memory, result.roots, result.raws
    raw = result.raw
    each = ", ".join(f"{r.pages_per_s:.2f}" for r in raws)
    concern = args.write_concern or Settings().mongo_write_concern
    status = Counter(str(d.get("status")) for d in run.docs)
    per_s = result.articles_per_s
    analyzed_per_s = status["analyzed"] / run.seconds if run.seconds else 0.0
    ratio = result.ratio
    spans = stage_latencies(run)
    cpu_per_article = result.cpu_per_article
    raw_cpu_per_page = raw.cpu_seconds / raw.pages if raw.pages else 0.0
    per_set = Counter(p.set_name for p in pages)
    llm = f"stand-in LLM, {args.llm_latency:g} s per call" if args.with_llm else "no provider"
    articles = run.submitted
    lines = [
        "",
        f"=== {result.label} ===",
        f"machine: {machine_line}",
        f"pages: {len(pages)} ({', '.join(f'{n} {s}' for s, n in per_set.items())})"
        + (f", each submitted {args.repeat} times (other URLs)" if args.repeat > 1 else ""),
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
        f"| Code | {result.label} |",
        f"| Articles | {articles}: "
        + ", ".join(f"{n * args.repeat} {s}" for s, n in per_set.items())
        + (
            f" ({len(pages)} corpus pages, each under {args.repeat} URLs)"
            if args.repeat > 1
            else ""
        )
        + " |",
        (
            f"| Setup | {args.workers_per_stage} worker(s) per stage, "
            f"{args.extractors or os.cpu_count()} extraction processes per extractor, {llm}, "
            f"{args.warmup} warm-up articles first (not counted), MongoDB write concern "
            f"{concern} |"
        ),
        f"| Machine | {machine_line} |",
        (
            f"| Pipeline, end to end | **{per_s:.2f} articles/s** ({articles} in "
            f"{run.seconds:.1f} s; {status['analyzed']} analyzed, {status['failed']} failed: "
            f"{analyzed_per_s:.2f} analyzed/s) |"
        ),
        (
            f"| Raw `trafilatura.extract`, 1 process | {raw.pages_per_s:.2f} pages/s "
            f"({len(pages)} pages just before and just after this pipeline run: {each} pages/s) |"
        ),
        f"| **Ratio pipeline / raw trafilatura** | **{ratio:.2f}** |",
        (
            f"| CPU per article | **{cpu_per_article * 1000:.0f} ms** (all processes, "
            f"Redis and SecantusDB included); raw trafilatura {raw_cpu_per_page * 1000:.0f} ms |"
        ),
        (
            f"| MongoDB round trips per article | {result.total_trips:.2f} (the workers'; "
            f"the benchmark's own submissions and polls: {result.trips('bench'):.2f}) |"
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
        (
            "| Process | CPU ms per article | CPU s: tree (main) | Peak RSS: tree (main) "
            "| Peak PSS | processes |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for name, stats in memory.items():
        lines.append(
            f"| {name} | {result.cpu_ms(name):.1f} | {stats.cpu_seconds:.1f} "
            f"({stats.cpu_of(roots[name]):.1f}) | {stats.peak_rss / 2**20:.0f} MB "
            f"({stats.peak_rss_main / 2**20:.0f} MB) | {stats.peak_pss / 2**20:.0f} MB "
            f"| {stats.processes_seen} |"
        )
    lines += [
        "",
        "| MongoDB round trips per article | total | by collection and command |",
        "|---|---|---|",
    ]
    for name, counts in result.commands.items():
        lines.append(f"| {name} | {result.trips(name):.2f} | {_by_command(counts, articles)} |")
    lines.append(
        f"| (benchmark: submit, polls) | {result.trips('bench'):.2f} "
        f"| {_by_command(result.own_commands, articles)} |"
    )
    lines += server_table(result, articles)
    lines += throughput_windows(run)
    windows = sorted({w for stats in memory.values() for w in stats.peak_by_window})
    if len(windows) > 1:
        lines += [
            "",
            f"Peak RSS of each worker's tree per {WINDOW} finished articles (the soak):",
            "",
            "| Process | "
            + " | ".join(f"{w * WINDOW + 1}-{min((w + 1) * WINDOW, articles)}" for w in windows)
            + " | last - first |",
            "|---|" + "---|" * (len(windows) + 1),
        ]
        for name, stats in memory.items():
            peaks = [stats.peak_by_window.get(w, 0) / 2**20 for w in windows]
            lines.append(
                f"| {name} | "
                + " | ".join(f"{v:.0f} MB" for v in peaks)
                + f" | {peaks[-1] - peaks[0]:+.0f} MB |"
            )
    if result.tracemalloc:
        title = (
            "fetcher memory diagnosis (--tracemalloc: biggest growths from the first "
            "snapshot to the last; --malloc-stats: the heap)"
        )
        lines += ["", title, *result.tracemalloc]
    if result.profile:
        lines += ["", *result.profile]
    figures = {
        "write_concern": concern,
        "code": result.label,
        "machine": machine_line,
        "pages": len(pages),
        "repeat": args.repeat,
        "articles": articles,
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
        "cpu_ms_per_article": {name: result.cpu_ms(name) for name in memory},
        "db_round_trips_per_article": {name: result.trips(name) for name in result.commands}
        | {"bench": result.trips("bench")},
        "db_commands": {name: dict(c) for name, c in result.commands.items()}
        | {"bench": dict(result.own_commands)},
        "server_commands": {
            k: {"count": n, "cpu_s": cpu} for k, (n, cpu) in result.server_commands.items()
        },
        "peak_rss_mb": {name: s.peak_rss / 2**20 for name, s in memory.items()},
        "peak_rss_main_mb": {name: s.peak_rss_main / 2**20 for name, s in memory.items()},
        "peak_pss_mb": {name: s.peak_pss / 2**20 for name, s in memory.items()},
        "peak_rss_mb_per_window": {
            name: {str(w): v / 2**20 for w, v in sorted(s.peak_by_window.items())}
            for name, s in memory.items()
        },
        "cpu_s": {name: s.cpu_seconds for name, s in memory.items()},
        "cpu_s_main_process": {name: s.cpu_of(roots[name]) for name, s in memory.items()},
        "failures": [{"group": k, "count": n, "example": e} for k, n, e in groups],
        "failed_articles": [
            {"id": d["_id"][:10], "url": d.get("url"), "stage": stage, "reason": reason}
            for d in run.docs
            for stage, reason in problems(d)
        ],
    }
    return "\n".join(lines), figures


def render_comparison(before: TreeResult, after: TreeResult) -> str:
    """Both runs side by side, with after / before."""

    def row(label: str, a: float, b: float, fmt: str) -> str:
        ratio = f"{b / a:.2f}" if a else "-"
        return f"| {label} | {a:{fmt}} | {b:{fmt}} | {ratio} |"

    lines = [
        "",
        f"=== {before.label} against {after.label}, same run ===",
        "",
        f"| Measure | before: {before.label} | after: {after.label} | after / before |",
        "|---|---|---|---|",
        row("articles/s end to end", before.articles_per_s, after.articles_per_s, ".2f"),
        row(
            "raw trafilatura pages/s (around that run)",
            before.raw.pages_per_s,
            after.raw.pages_per_s,
            ".2f",
        ),
        row("**ratio pipeline / raw trafilatura**", before.ratio, after.ratio, ".2f"),
        row(
            "**CPU ms per article, all processes**",
            1000 * before.cpu_per_article,
            1000 * after.cpu_per_article,
            ".0f",
        ),
        row(
            "raw trafilatura CPU ms per page (around that run)",
            1000 * before.raw.cpu_seconds / max(before.raw.pages, 1),
            1000 * after.raw.cpu_seconds / max(after.raw.pages, 1),
            ".0f",
        ),
    ]
    for name in after.memory:
        if name in before.memory:
            lines.append(
                row(f"CPU ms per article: {name}", before.cpu_ms(name), after.cpu_ms(name), ".1f")
            )
    lines.append(
        row(
            "MongoDB round trips per article, all workers",
            before.total_trips,
            after.total_trips,
            ".2f",
        )
    )
    for name in after.commands:
        lines.append(
            row(f"round trips per article: {name}", before.trips(name), after.trips(name), ".2f")
        )
    for name in after.memory:
        if name in before.memory:
            lines.append(
                row(
                    f"peak RSS MB: {name} (tree)",
                    before.memory[name].peak_rss / 2**20,
                    after.memory[name].peak_rss / 2**20,
                    ".0f",
                )
            )
    return "\n".join(lines)


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
        default=None,
        help="seconds to wait for every article to be analyzed or failed "
        "(default: 240, or 1 s per article when that is more)",
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
    parser.add_argument(
        "--write-concern",
        choices=["journaled", "majority", "fast"],
        default=None,
        help="NEWSFLOW_MONGO_WRITE_CONCERN of the workers (default: the setting's, journaled)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--compare",
        metavar="REF",
        default=None,
        help="first run the workers of this git revision (exported with git archive), then "
        "this tree's, in the same run, and print both side by side (e.g. --compare main)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="submit each page under N URLs (?r=1..N: other articles), for a soak: "
        "--repeat 12 is 3,000 articles; memory is then shown per 1,000",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the fetcher's allocations (slow) and print the biggest growths between "
        "its snapshots at each 1,000 articles (with --repeat)",
    )
    parser.add_argument(
        "--malloc-stats",
        action="store_true",
        help="ask the fetcher for glibc's heap figures (in use, free but kept) at each 1,000 "
        "articles (with --repeat): tells fragmentation from live objects",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="NAMES",
        help="record these processes with py-spy during the run (needs py-spy), e.g. "
        "SecantusDB,extractor (a worker's children included), and print where each spends "
        "its CPU",
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.workers_per_stage < 1:
        parser.error("--workers-per-stage must be at least 1")
    if args.timeout is None:
        args.timeout = max(240.0, 1.0 * (args.limit or 250) * args.repeat)
    if args.warmup is None:
        args.warmup = 4 * args.workers_per_stage
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.extractors < 0:
        parser.error("--extractors must be 0 (one per core) or more")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
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
    if args.write_concern:
        overrides["mongo_write_concern"] = args.write_concern
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


def export_revision(ref: str, into: Path) -> Path:
    """The files of git revision ``ref`` in ``into`` (``git archive``), for ``--compare``."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    print(f"{ref} ({commit}) exported to {into}", flush=True)
    return into


class Profile:
    """py-spy recording a process tree (only threads holding the GIL: its CPU) while open."""

    def __init__(self, pid: int, out: Path) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            raise SystemExit("--profile-db needs py-spy (pip install py-spy)")
        self.out = out
        self.proc = subprocess.Popen(
            [spy, "record", "--gil", "--nonblocking", "--subprocesses", "-r", "50", "-f", "raw",
             "-o", str(out), "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self, top: int = 25) -> list[str]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        if not self.out.exists():
            return ["  (py-spy wrote nothing)"]
        inclusive: Counter[str] = Counter()
        total = 0
        for line in self.out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not stack or not n.isdigit():
                continue
            total += int(n)
            for frame in set(stack.split(";")):
                inclusive[re.sub(r"\(/\S*?site-packages/", "(", frame)] += int(n)
        return [
            f"  {100 * n / max(total, 1):5.1f}%  {frame[:140]}"
            for frame, n in inclusive.most_common(top)
        ]


class FetcherSnapshots:
    """tracemalloc snapshots of the fetcher, taken on SIGUSR2 (``bench/instrument``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pid: int | None = None

    def take(self, _window: int = 0) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGUSR2)

    def heap(self) -> list[str]:
        """glibc's heap figures of each snapshot (``--malloc-stats``)."""
        time.sleep(1.0)
        rows = []
        for path in sorted(self.folder.glob("*.malloc.json"), key=lambda p: p.stat().st_mtime):
            data = json.loads(path.read_text(encoding="utf-8"))
            rows.append(
                f"  | {path.stem.split('.')[0]} | {data['rss'] / 2**20:.0f} MB | "
                f"{data['uordblks'] / 2**20:.0f} MB | {data['fordblks'] / 2**20:.0f} MB | "
                f"{data['hblkhd'] / 2**20:.0f} MB | {data['arena'] / 2**20:.0f} MB |"
            )
        title = "fetcher heap (glibc mallinfo2) at each snapshot: start, every 1,000 articles, end"
        header = (
            "  | snapshot | RSS | malloc: in use | free, kept by malloc | mmapped "
            "| arenas (all threads) |"
        )
        return ["", title, header, "  |---|---|---|---|---|---|", *rows]

    def growth(self, top: int = 15) -> list[str]:
        import tracemalloc

        time.sleep(3.0)  # the last snapshot is written by the fetcher's main thread
        snaps = sorted(self.folder.glob("*.snapshot"), key=lambda p: p.stat().st_mtime)
        if len(snaps) < 2:
            return [f"  ({len(snaps)} snapshot(s): need two)"]
        first = tracemalloc.Snapshot.load(str(snaps[0]))
        last = tracemalloc.Snapshot.load(str(snaps[-1]))
        traced = [
            sum(s.size for s in snap.statistics("filename")) / 2**20 for snap in (first, last)
        ]
        lines = [
            f"  {len(snaps)} snapshots; traced {traced[0]:.1f} MB first, {traced[1]:.1f} MB last"
        ]
        for stat in last.compare_to(first, "traceback")[:top]:
            frames = [
                f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback[-4:]
            ]
            lines.append(
                f"  {stat.size_diff / 2**10:+9.0f} KiB {stat.count_diff:+7d} blocks  "
                f"{' < '.join(reversed(frames))}"
            )
        return lines


def run_tree(
    args: argparse.Namespace, corpus: Corpus, pages: Sequence[PageRef], label: str,
    repo: Path, data: Path, raw_before: RawResult,
) -> TreeResult | None:  # fmt: skip
    """Servers, the workers of ``repo``, the warm-up and the timed run; None when broken."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(CorpusServer(corpus))
        llm = stack.enter_context(LLMServer(api_key=LLM_KEY, latency=args.llm_latency)) \
            if args.with_llm else None  # fmt: skip
        redis = stack.enter_context(started(start_redis(data / "redis", free_port())))
        mongo_dir = None if args.mongo_in_memory else data / "mongo"
        # SecantusDB with the instrumentation folder's sitecustomize: CPU by command
        server_dir = data / "server-commands"
        server_dir.mkdir(parents=True)
        server_env = {"PYTHONPATH": str(INSTRUMENT),
                      "NEWSFLOW_BENCH_SERVER_COMMANDS": str(server_dir)}  # fmt: skip
        mongo = stack.enter_context(started(start_mongo(mongo_dir, free_port(), env=server_env)))
        settings = bench_settings(args, redis, mongo, server.port, llm)
        counts_dir = data / "db-counts"
        counts_dir.mkdir(parents=True)
        # Unbuffered, so that the logs shown on a failure are complete; the instrumentation
        # folder's sitecustomize counts each worker's MongoDB commands.
        extra_env = {"PYTHONUNBUFFERED": "1", "NEWSFLOW_BENCH_DB_COUNTS": str(counts_dir)}
        workers = WorkerProcesses(
            settings, data / "workers", extra_env=extra_env, repo=repo,
            python_path=[INSTRUMENT],
        )  # fmt: skip
        stack.callback(workers.stop_all)
        snapshots = FetcherSnapshots(data / "tracemalloc")
        print(f"{label}: starting {args.workers_per_stage} worker(s) per stage...", flush=True)
        for name in STAGES:
            for _ in range(args.workers_per_stage):
                if name == "fetcher" and (args.tracemalloc or args.malloc_stats):
                    snapshots.folder.mkdir(parents=True, exist_ok=True)
                    diagnose = (["NEWSFLOW_BENCH_TRACEMALLOC"] if args.tracemalloc else []) + (
                        ["NEWSFLOW_BENCH_MALLOC"] if args.malloc_stats else []
                    )
                    workers.extra_env = {
                        **extra_env,
                        **dict.fromkeys(diagnose, str(snapshots.folder)),
                    }
                    snapshots.pid = workers.start(name).pid
                    workers.extra_env = extra_env
                else:
                    workers.start(name)
        try:
            workers.wait_ready(timeout=120)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
        roots = {
            f"{name}-{i}" if args.workers_per_stage > 1 else name: proc.pid
            for name in STAGES
            for i, proc in enumerate(workers.procs[name])
        }
        roots |= {"redis-server": redis.proc.pid, "SecantusDB": mongo.proc.pid}
        sampler = MemorySampler(roots)
        sampler.start()
        stack.callback(sampler.stop)
        counts = CommandCounts(counts_dir, server_dir)
        urls = [
            server.url(p.set_name, p.page_id) + (f"?r={r}" if args.repeat > 1 else "")
            for r in range(1, args.repeat + 1)
            for p in pages
        ]
        # The same pages under another URL (the server ignores the query): other articles.
        warmup = [f"{server.url(p.set_name, p.page_id)}?warmup={i}"
                  for i, p in enumerate(warmup_pages(pages, args.warmup))]  # fmt: skip
        profiles: dict[str, Profile] = {}

        def on_window(window: int) -> None:
            snapshots.take(window)

        async def timed() -> PipelineRun:
            return await run_pipeline(settings, warmup, urls, workers, args.timeout, sampler,
                                      counts, on_window=on_window)  # fmt: skip

        for name in filter(None, args.profile.split(",")):
            if name not in roots:
                print(f"error: --profile {name}: not one of {', '.join(roots)}", file=sys.stderr)
                return None
            # From the warm-up on (a few seconds against the run's tens).
            profiles[name] = Profile(roots[name], data / f"{name}.pyspy")
        try:
            if args.tracemalloc or args.malloc_stats:
                snapshots.take()  # before the warm-up: the baseline snapshot
            run = asyncio.run(timed())
        except PipelineBroken as exc:
            print(f"error: {exc}\n{log_tails(workers)}", file=sys.stderr)
            return None
        finally:
            profile_lines = [
                line for name, prof in profiles.items()
                for line in [f"{name}, py-spy (threads holding the GIL), share of samples:",
                             *prof.stop()]
            ]  # fmt: skip
        sampler.stop()
        if args.tracemalloc or args.malloc_stats:
            snapshots.take()
        if not run.finished:
            print(stuck_report(run, args.timeout) + "\n" + log_tails(workers), file=sys.stderr)
            return None
        commands = {name: counts.during([pid]) for name, pid in roots.items()
                    if name not in ("redis-server", "SecantusDB")}  # fmt: skip
        return TreeResult(
            label,
            run,
            sampler.stats,
            roots,
            commands,
            OWN_COMMANDS.during(),
            [raw_before],
            tracemalloc=(snapshots.growth() if args.tracemalloc else [])
            + (snapshots.heap() if args.malloc_stats else []),
            profile=profile_lines,
            server_commands=counts.server_during(),
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (kill, a CI timeout) as Ctrl-C: the workers and servers run in sessions of their
    # own, so only the benchmark's own clean-up stops them.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    corpus = Corpus(args.corpus)
    pages = select_pages(corpus, args.limit)
    machine_line = machine()
    print(f"machine: {machine_line}", flush=True)
    # The baseline runs before and after each pipeline run: on a shared machine the load
    # drifts, and measuring on both sides keeps the ratio from depending on which side was
    # luckier. Each run's ratio uses the raw runs just around it.
    raw = baseline(corpus, pages, "before")

    folder: contextlib.AbstractContextManager[str] = (
        contextlib.nullcontext(tempfile.mkdtemp(prefix="newsflow-bench-")) if args.keep_data
        else tempfile.TemporaryDirectory(prefix="newsflow-bench-")
    )  # fmt: skip
    results: list[TreeResult] = []
    with folder as tmp:
        data = Path(tmp)
        if args.keep_data:
            print(f"data and worker logs kept in {data}", flush=True)
        trees = [("this tree", REPO)]
        if args.compare:
            ref = export_revision(args.compare, data / "revision")
            trees.insert(0, (f"{args.compare} ({ref_name(args.compare)})", ref))
        for n, (label, repo) in enumerate(trees):
            result = run_tree(args, corpus, pages, label, repo, data / f"run{n}", raw)
            if result is None:
                return 1
            raw = baseline(corpus, pages, "after")
            result.raws.append(raw)
            results.append(result)
    machine_line = f"{machine_line}, {load_average():.1f} at end"
    report: list[dict[str, Any]] = []
    for result in results:
        text, figures = render(args, pages, result, machine_line)
        print(text, flush=True)
        report.append(figures)
    if len(results) == 2:
        print(render_comparison(*results), flush=True)
    if args.json:
        out: Any = report if len(report) > 1 else report[0]
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


def ref_name(ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


if __name__ == "__main__":
    # The workers are our children: never leave them behind on Ctrl-C (ExitStack stops them).
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except (ServerError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
