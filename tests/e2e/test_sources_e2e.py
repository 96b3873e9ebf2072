"""End to end: `newsflow sources add` to analyzed articles named after the source.

The four stage workers and the feeder run as processes (`python -m services.<name>`), the
feed and its pages are served on 127.0.0.1 (pages from ../shared/corpus). No other command
than `sources add` is needed for the articles to arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.domain.article import Article
from newsflow.domain.contracts import Status
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from services.reader.views import summary
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.e2e import settled, worker_settings
from tests.support.feeds import FeedServer, Item, Route, render
from tests.support.workers import WorkerProcesses, run_newsflow

pytestmark = pytest.mark.integration

CORPUS = Corpus()
SOURCE = "動區 BlockTempo"


@pytest.fixture(scope="module")
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="module")
def src_settings(
    redis_server: Any,
    mongo_server: Any,
    corpus_server: CorpusServer,
    feed_server: FeedServer,
) -> Settings:
    return worker_settings(
        redis_server, mongo_server, db="e2e_sources", prefix="e2e-sources",
        fetch_ports=[corpus_server.port, feed_server.port], feed_host_interval=0.1,
    )  # fmt: skip


@pytest.fixture(scope="module")
def workers(
    src_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(src_settings, tmp_path_factory.mktemp("source-workers"))
    procs.start_all()
    procs.start("feeder")
    procs.wait_ready()
    yield procs
    procs.stop_all()


@pytest.fixture
async def store(src_settings: Settings) -> AsyncIterator[ArticleStore]:
    s = ArticleStore.connect(src_settings)
    yield s
    s.close()


async def settled_slowly(store: ArticleStore, aid: str) -> Article:
    """The article once analyzed or failed (a feed's items arrive with the feeder's pace)."""
    return await settled(store, aid, timeout=120)


async def test_sources_add_leads_to_analyzed_articles_named_after_the_source(
    workers: WorkerProcesses,
    corpus_server: CorpusServer,
    feed_server: FeedServer,
    src_settings: Settings,
    store: ArticleStore,
) -> None:
    english = CORPUS.ids("scrapinghub")[1:3]  # [0] is a paywalled page
    chinese = CORPUS.ids("zh_cwced")[0]
    urls = [corpus_server.url("scrapinghub", p) for p in english] + [
        corpus_server.url("zh_cwced", chinese)
    ]
    published = datetime(2025, 6, 10, 4, 0, tzinfo=UTC)
    items = [
        Item(u, f"Feed headline {i}", published - timedelta(hours=i)) for i, u in enumerate(urls)
    ]
    body, ctype = render("rss20", SOURCE, items, feed_server.url(""))
    feed_server.routes["/feed/"] = Route(body, ctype)

    # One of the items was submitted by hand before: it stays that article.
    by_hand = run_newsflow(src_settings, "publish", urls[0])
    assert by_hand.returncode == 0, by_hand.stderr

    added = run_newsflow(src_settings, "sources", "add", feed_server.url("/feed/"))
    assert added.returncode == 0, added.stderr
    assert SOURCE in added.stdout and "(rss, 3 entries now)" in added.stdout

    docs = [await settled_slowly(store, article_id(canonical_url(u))) for u in urls]
    assert [d.status for d in docs] == [Status.ANALYZED] * 3, [d.failure for d in docs]
    first, *fed = docs
    # Submitted by hand first: its own article. The feeder's submission of the same URL may
    # reach the fetcher's intake after the article was analyzed: wait for it, it is a duplicate.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while len(first.submitted_by) < 2 and loop.time() < deadline:
        await asyncio.sleep(0.3)
        first = await store.article(first.id) or first
    assert first.source == "127.0.0.1" and first.hints is None
    assert first.submitted_by == ["cli", f"source:{SOURCE}"]
    assert first.status == Status.ANALYZED and first.generation == 1
    for doc, item in zip(fed, items[1:], strict=True):
        assert doc.source == SOURCE
        assert doc.submitted_by == [f"source:{SOURCE}"]
        assert doc.hints is not None and doc.hints.title == item.title
        assert doc.hints.published == item.published
        assert summary(doc)["source"] == SOURCE  # what the reader shows

    listing = run_newsflow(src_settings, "sources", "list")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if SOURCE in line)
    assert " rss " in row and " healthy " in row and " 3 " in row, row
    # One fetch by `sources add` (to find and check the feed), one poll by the feeder; the
    # next poll is minutes away (the adaptive interval starts at 900 s, halved after news).
    assert [r.status for r in feed_server.seen("/feed/")] == [200, 200]
