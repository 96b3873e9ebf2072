"""Schemathesis against the reader's OpenAPI document: no generated request gives a 5xx.

The document is the app's own ``/openapi.json``; requests (well-formed and deliberately
malformed) go to a real uvicorn on 127.0.0.1 backed by the session's Redis and SecantusDB,
with a few stored articles so that listing and reading return real documents. Bounded:
a handful of examples per operation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server
from newsflow.settings import Settings
from services.reader.main import create_app
from services.reader.server import ReaderThread
from tests.integration.test_reader_api import article

pytestmark = pytest.mark.integration

# Adding a source fetches its URL to find the feed: generated URLs must not make this test
# reach off the machine, so that one call is left out (tests/integration/test_sources_api.py
# covers it against local servers).
schema = schemathesis.openapi.from_dict(
    create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
).exclude(method="POST", path="/api/sources")
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


async def fresh_database(settings: Settings, docs: list[dict[str, Any]]) -> None:
    """Empty the test database, then store ``docs`` (none: leave it empty)."""
    store = ArticleStore.connect(settings)
    try:
        await store.drop()
        await store.import_documents(docs)
    finally:
        store.close()


@pytest.fixture(scope="module")
def reader(redis_server: Server, mongo_server: Server) -> Iterator[ReaderThread]:
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
        mongo_url=f"mongodb://127.0.0.1:{mongo_server.port}",
        mongo_db="reader_schema",
        stream_prefix="reader-schema",
        _env_file=None,  # type: ignore[call-arg]
    )
    docs = [article(f"https://s{i}.example/a", aid=f"{i:x}" * 64) for i in range(1, 4)]
    docs[0]["analysis"]["similar"] = [
        {"id": docs[1]["_id"], "title": "t", "score": 0.5, "shared": ["x"], "published": None}
    ]
    docs.append(article("https://s9.example/q", aid="a" + "0" * 63, status="queued"))
    asyncio.run(fresh_database(settings, docs))
    with ReaderThread(settings) as server:
        yield server
    asyncio.run(fresh_database(settings, []))


@schema.parametrize()
@hypothesis_settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_no_request_gives_a_server_error(case: schemathesis.Case, reader: ReaderThread) -> None:
    case.call_and_validate(base_url=reader.url, checks=CHECKS, timeout=10)
