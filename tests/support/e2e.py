"""What the end-to-end tests share: the workers' settings against the test servers and
waiting for articles to settle (the ``newsflow`` command: ``tests.support.workers``).

    settings = worker_settings(redis_server, mongo_server, db="e2e", prefix="e2e",
                              fetch_ports=[corpus.port], llm=llm, api_key="e2e-key")
    assert run_newsflow(settings, "publish", url).returncode == 0  # tests.support.workers
    article = await settled(store, aid)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

from newsflow.adapters.store import ArticleStore
from newsflow.domain.article import Article
from newsflow.domain.pipeline import TERMINAL
from newsflow.settings import Settings
from tests.support.llm_server import LLMServer

#: The models the stand-in LLM server is asked for (its answers do not depend on them).
TRANSLATE_MODEL = "stand-in-translator"
IMPACT_MODEL = "stand-in-analyst"


def db_settings(mongo_port: int, db: str) -> Settings:
    """Settings for one database on a local SecantusDB (or MongoDB) and nothing else: what a
    benchmark of the store needs."""
    return Settings(
        mongo_url=f"mongodb://127.0.0.1:{mongo_port}",
        mongo_db=db,
        _env_file=None,
    )


def worker_settings(
    redis_server: Any, mongo_server: Any, *, db: str, prefix: str, fetch_ports: Iterable[int],
    llm: LLMServer | None = None, api_key: str = "e2e-key", **overrides: Any,
) -> Settings:  # fmt: skip
    """Settings for workers against the test Redis and SecantusDB: their own database and
    stream prefix, fetching only from 127.0.0.0/8 on ``fetch_ports``, quick polls and one
    extraction process; with ``llm``, translation and impact through the stand-in server
    (OpenAI protocol, ``api_key``). ``overrides``: any other setting."""
    values: dict[str, Any] = {
        "redis_url": f"redis://127.0.0.1:{redis_server.port}/0",
        "mongo_url": f"mongodb://127.0.0.1:{mongo_server.port}",
        "mongo_db": db,
        "stream_prefix": prefix,
        "fetch_allowed_networks": ["127.0.0.0/8"],
        "fetch_allowed_ports": list(fetch_ports),
        "poll_interval_ms": 100,
        "claim_idle_ms": 20_000,
        "handler_timeout": 15,
        "extract_processes": 1,
    }
    if llm is not None:
        key = SecretStr(api_key)
        values |= {
            "translate_provider": "openai",
            "translate_base_url": llm.url,
            "translate_model": TRANSLATE_MODEL,
            "translate_api_key": key,
            "impact_provider": "openai",
            "impact_base_url": llm.url,
            "impact_model": IMPACT_MODEL,
            "impact_api_key": key,
        }
    return Settings(**(values | overrides), _env_file=None)


async def settled(
    store: ArticleStore, aid: str, *, generation: int = 1, timeout: float = 90
) -> Article:
    """The article once it is analyzed or failed in ``generation`` or a later one; every
    stored field must read as its model (each stage wrote what its model says)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    article: Article | None = None
    while loop.time() < deadline:
        article = await store.article(aid)
        if article is not None and article.status in TERMINAL and article.generation >= generation:
            assert not article.unreadable, article.unreadable
            return article
        await asyncio.sleep(0.2)
    raise AssertionError(f"article {aid[:10]} did not settle: {article and article.status}")


async def all_settled(
    store: ArticleStore, ids: list[str], timeout: float = 120
) -> dict[str, Article]:
    """Every one of the articles once all are analyzed or failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: dict[str, Article] = {}
    while loop.time() < deadline:
        found = await store.find(ids)
        if len(found) == len(ids) and all(a.status in TERMINAL for a in found.values()):
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"articles did not settle: { {a: x.status for a, x in found.items()} }")
