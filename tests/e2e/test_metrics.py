"""End to end: every worker's metrics port and the reader's /metrics, after articles went through.

The four workers run as processes (``python -m services.<name>``), each with its own
``NEWSFLOW_METRICS_PORT``; the reader runs in a thread. Corpus pages (English and a GBK
Chinese page, translated and analyzed by the chat-completions stand-in), a 404, a refused port
and a malformed entry go through; then each endpoint is scraped and parsed with
prometheus_client's parser, and the series the README documents must be there with sane values.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import free_port
from newsflow.domain.pipeline import CONSUMERS, Streams
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from services.reader.server import ReaderThread
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.e2e import IMPACT_MODEL, TRANSLATE_MODEL, all_settled, worker_settings
from tests.support.llm_server import LLMServer
from tests.support.workers import STAGES, WorkerProcesses

#: Every service: the four stages, the notifier and the feeder (which consumes no stream).
SERVICES = (*STAGES, "notifier", "feeder")

pytestmark = pytest.mark.integration

CORPUS = Corpus()
GBK_PAGE = "05e98007-d810-4036-b154-2ef2fe68c2af"

#: ``{(name, frozenset(labels)): value}`` of one scrape.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics endpoint, parsed by prometheus_client's parser."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (fails if there is none)."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert found, f"no sample {name}{labels}"
    return sum(found)


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="metrics-key") as server:
        yield server


@pytest.fixture(scope="module")
def metrics_settings(
    redis_server: Any, mongo_server: Any, corpus_server: CorpusServer, llm: LLMServer
) -> Settings:
    return worker_settings(
        redis_server, mongo_server, db="metrics_e2e", prefix="{metrics-e2e}",
        fetch_ports=[corpus_server.port], llm=llm, api_key="metrics-key",
        fetch_retries=0, metrics_interval=0.5, metrics_articles_interval=1,
        log_format="json",
    )  # fmt: skip


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {name: free_port() for name in SERVICES}


@pytest.fixture(scope="module")
def workers(
    metrics_settings: Settings, ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(metrics_settings, tmp_path_factory.mktemp("metrics-workers"))
    for name in SERVICES:
        procs.extra_env = {"NEWSFLOW_METRICS_PORT": str(ports[name])}
        procs.start(name)
    procs.extra_env = {}
    procs.wait_ready()
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def reader(metrics_settings: Settings) -> Iterator[ReaderThread]:
    with ReaderThread(metrics_settings) as thread:
        yield thread


@pytest.fixture
async def metrics_store(metrics_settings: Settings) -> AsyncIterator[ArticleStore]:
    store = ArticleStore.connect(metrics_settings)
    yield store
    store.close()


async def test_every_endpoint_shows_the_series_after_a_run(
    workers: WorkerProcesses,
    reader: ReaderThread,
    ports: dict[str, int],
    corpus_server: CorpusServer,
    metrics_settings: Settings,
    metrics_store: ArticleStore,
) -> None:
    english = [corpus_server.url("scrapinghub", pid) for pid in CORPUS.ids("scrapinghub")[:4]]
    chinese = corpus_server.url("zh_cwced", GBK_PAGE)
    missing = f"http://127.0.0.1:{corpus_server.port}/zh_cwced/no-such-page.html"
    refused = "http://127.0.0.1:9/refused-port"  # port 9 is not in fetch_allowed_ports
    urls = [*english, chinese, missing, refused]
    published = httpx.post(f"{reader.url}/api/articles", json={"urls": urls}, timeout=30)
    assert published.status_code == 200, published.text
    streams = Streams(metrics_settings.stream_prefix)
    redis = Redis.from_url(metrics_settings.redis_url)
    try:
        # A malformed entry: dead-lettered at once by the fetcher.
        await redis.xadd(streams.urls, {"url": "not a url at all"})
        settled = await all_settled(metrics_store, [article_id(canonical_url(u)) for u in urls])
        statuses = {aid: a.status.value for aid, a in settled.items()}

        async def dead_lettered() -> bool:
            return int(await redis.xlen(streams.dead)) >= 1

        deadline = time.monotonic() + 30
        while not await dead_lettered():
            assert time.monotonic() < deadline, "the malformed entry was not dead-lettered"
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()
    analyzed = sum(s == "analyzed" for s in statuses.values())
    failed = sum(s == "failed" for s in statuses.values())
    assert analyzed >= 2 and failed >= 2, statuses
    await asyncio.sleep(2)  # two refreshes of the gauges (metrics_interval=0.5 s)

    scraped = {name: scrape(f"http://127.0.0.1:{ports[name]}/metrics") for name in SERVICES}

    # --- every stage worker: per-stage message counts, handling time, its group's queue -----
    for service in CONSUMERS:
        name = service.name
        m = scraped[name]
        assert service.consumes is not None
        stream = streams[service.consumes]
        processed = value(m, "newsflow_messages_processed_total", stage=name)
        assert processed >= analyzed, (name, processed)
        assert (
            value(m, "newsflow_message_handling_seconds_count", stage=name, result="ok")
            == processed
        )
        assert value(m, "newsflow_message_handling_seconds_sum", stage=name) > 0
        for series in ("newsflow_messages_failed_total", "newsflow_messages_retried_total"):
            value(m, series, stage=name)  # the series is exported (value() fails without it)
        # FastStream's middleware: every message received by this service, and its duration
        received = value(m, "faststream_received_messages_total", app_name=name)
        assert received >= processed
        assert (
            value(m, "faststream_received_processed_messages_duration_seconds_count", app_name=name)
            >= processed
        )
        assert value(m, "newsflow_consumer_group_pending", stream=stream, group=name) == 0
        assert value(m, "newsflow_consumer_group_lag", stream=stream, group=name) == 0
        assert value(m, "newsflow_consumer_group_consumers", stream=stream, group=name) >= 1
        # exported (acknowledged entries are trimmed, so any length is right here)
        value(m, "newsflow_stream_length", stream=stream)
        assert value(m, "newsflow_dependency_up", dependency="redis") == 1
        assert value(m, "newsflow_dependency_up", dependency="mongo") == 1
        # the shared article count, read by every process
        assert value(m, "newsflow_articles", status="analyzed") >= analyzed
        assert value(m, "newsflow_articles_counted_timestamp_seconds") > time.time() - 600
        assert value(m, "process_cpu_seconds_total") > 0

    # --- a service that consumes no stream (the feeder) is healthy and scraped too ------------
    for name in set(SERVICES) - {s.name for s in CONSUMERS}:
        assert value(scraped[name], "newsflow_dependency_up", dependency="mongo") == 1
        assert value(scraped[name], "process_cpu_seconds_total") > 0
    # no source was added in this run: the feeder exports its counter and has polled nothing
    assert value(scraped["feeder"], "newsflow_feeder_events_total", event="polls") == 0

    fetcher = scraped["fetcher"]
    assert value(fetcher, "newsflow_fetch_results_total", result="ok") >= len(english) + 1
    assert value(fetcher, "newsflow_fetch_results_total", result="http_4xx") == 1
    assert value(fetcher, "newsflow_fetch_results_total", result="refused") == 1
    assert value(fetcher, "newsflow_stage_outcomes_total", stage="fetcher", outcome="failed") == 2
    assert (
        value(fetcher, "newsflow_messages_dead_lettered_total", stage="fetcher", reason="malformed")
        == 1
    )
    assert value(fetcher, "newsflow_dead_letter_entries") >= 1
    fetch_labels = {
        dict(ls)["result"] for (n, ls) in fetcher if n == "newsflow_fetch_results_total"
    }
    assert fetch_labels <= {
        "ok",
        "refused",
        "http_4xx",
        "http_5xx",
        "redirects",
        "timeout",
        "dns",
        "network",
    }  # a fixed set: never a URL or a reason text

    # --- LLM calls, by purpose, provider and model -------------------------------------------
    for stage, purpose, model in (
        ("translator", "translate", TRANSLATE_MODEL),
        ("analyzer", "impact", IMPACT_MODEL),
    ):
        m = scraped[stage]
        calls = value(m, "newsflow_llm_requests_total", purpose=purpose, model=model, status="ok")
        assert calls >= 1, stage
        assert value(m, "newsflow_llm_requests_total", purpose=purpose, status="rate_limited") == 0
        assert value(m, "newsflow_llm_tokens_total", purpose=purpose, kind="prompt") > 0
        assert value(m, "newsflow_llm_tokens_total", purpose=purpose, kind="completion") > 0
        assert value(m, "newsflow_llm_request_seconds_count", purpose=purpose) == calls
        provider = {dict(ls)["provider"] for (n, ls) in m if n == "newsflow_llm_requests_total"}
        assert provider == {
            f"127.0.0.1:{metrics_settings.translate_base_url.split(':')[2].split('/')[0]}"
        }

    # --- the reader: requests by route template, every group's queue -------------------------
    assert httpx.get(f"{reader.url}/api/articles/{'0' * 10}", timeout=10).status_code == 404
    m = scrape(f"{reader.url}/metrics")
    assert (
        value(m, "newsflow_http_requests_total", method="POST", route="/api/articles", status="200")
        == 1
    )
    assert (
        value(
            m,
            "newsflow_http_requests_total",
            method="GET",
            route="/api/articles/{ident}",
            status="404",
        )
        == 1
    )
    routes = {dict(ls)["route"] for (n, ls) in m if n == "newsflow_http_requests_total"}
    assert not any("0000000000" in r for r in routes), routes  # templates, never ids
    # every request of the route is timed (the process's earlier tests may have sent some:
    # the browser tests search through GET /api/articles on a reader in this process)
    assert value(m, "newsflow_http_request_seconds_count", route="/api/articles") == value(
        m, "newsflow_http_requests_total", route="/api/articles"
    )
    for service in CONSUMERS:
        assert service.consumes is not None
        stream = streams[service.consumes]
        assert value(m, "newsflow_consumer_group_lag", stream=stream, group=service.name) == 0
    assert value(m, "newsflow_articles", status="failed") >= 2

    # --- the worker's health on the same port ------------------------------------------------
    health = httpx.get(f"http://127.0.0.1:{ports['fetcher']}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() | {"age": 0} == {"ok": True, "redis": True, "mongo": True, "age": 0}

    # --- structured logs: JSON lines with the service and the article bound ------------------
    lines = [
        json.loads(line) for line in workers.log("fetcher").splitlines() if line.startswith("{")
    ]
    assert lines and all({"timestamp", "level", "logger", "message"} <= set(r) for r in lines)
    assert {r.get("service") for r in lines} == {"fetcher"}
    bound = [r for r in lines if r.get("article_id")]
    assert bound and all(r["stage"] == "fetcher" and r.get("entry_id") for r in bound)
