"""The feeder against local HTTP servers: every kind of feed, conditional GET, replicas, leases.

Real redis-server and SecantusDB (session fixtures), feeds served on 127.0.0.1 by
tests/support/feeds.py, their items linking to pages of ../shared/corpus. The feeder runs in
this event loop (``Feeder.run``), as it runs in ``python -m services.feeder``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from newsflow.adapters.sources import HostGate, SourceStore
from newsflow.domain.pipeline import Streams
from newsflow.settings import Settings
from services.feeder.main import Feeder
from tests.support.apps import wait_for
from tests.support.corpus_server import Corpus
from tests.support.feeds import KINDS, FeedServer, Item, Route, render, sitemap_index

pytestmark = pytest.mark.integration

CORPUS = Corpus()
PAGES = CORPUS.ids("scrapinghub")


def corpus_url(i: int) -> str:
    # Items link to corpus pages (served by tests.support.corpus_server in the e2e test).
    return f"http://127.0.0.1:8765/scrapinghub/{PAGES[i]}.html"


def items(start: int, n: int) -> list[Item]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        Item(corpus_url(i), f"Headline {i}", now - timedelta(minutes=i))
        for i in range(start, start + n)
    ]


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def feed_settings(settings: Settings, feeds: FeedServer) -> Settings:
    return settings.model_copy(
        update={
            "fetch_allowed_ports": [feeds.port, 8765],
            "feed_host_interval": 0.0,
            "feed_host_concurrency": 8,
            "feed_min_interval": 30.0,
            "fetch_retries": 0,
        }
    )


@pytest.fixture
async def sources(feed_settings: Settings) -> AsyncIterator[SourceStore]:
    store = SourceStore.connect(feed_settings)
    await store.ensure_indexes()
    yield store
    store.close()


@contextlib.asynccontextmanager
async def feeding(settings: Settings, **kwargs: Any) -> AsyncIterator[Feeder]:
    feeder = Feeder(settings, **kwargs)
    task = asyncio.create_task(feeder.run())
    try:
        yield feeder
    finally:
        feeder.stop()
        await asyncio.wait_for(task, 30)


async def entries(redis: Redis, settings: Settings) -> list[dict[str, str]]:
    rows = await redis.xrange(Streams(settings.stream_prefix).urls)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in rows]


async def polled(store: SourceStore, n: int = 1) -> None:
    async def check() -> bool:
        docs = await store.all()
        return bool(docs) and all(d["polls"] >= n for d in docs)

    await wait_for(check, 30, f"every source polled {n} time(s)")


async def test_every_kind_is_read_and_its_items_queued_with_the_source_hints(
    feeds: FeedServer,
    feed_settings: Settings,
    sources: SourceStore,
    redis: Redis,
) -> None:
    expected: dict[str, list[Item]] = {}
    for n, kind in enumerate(KINDS):
        batch = items(n * 3, 3)
        body, ctype = render(kind, f"Feed {kind} 新闻", batch, feeds.url(""))
        feeds.routes[f"/{kind}"] = Route(body, ctype)
        expected[kind] = batch
        await sources.add(feeds.url(f"/{kind}"), category="crypto" if kind == "atom" else None)
    # A sitemap index whose children are two sitemaps.
    child_items = items(30, 4)
    for i, part in enumerate((child_items[:2], child_items[2:])):
        body, ctype = render("sitemap", "", part)
        feeds.routes[f"/child{i}.xml"] = Route(body, ctype)
    body, ctype = sitemap_index([feeds.url("/child0.xml"), "/child1.xml"])  # one relative
    feeds.routes["/index.xml"] = Route(body, ctype)
    await sources.add(feeds.url("/index.xml"), name="My index")

    async with feeding(feed_settings):
        await polled(sources)
    got = await entries(redis, feed_settings)
    by_source: dict[str, list[dict[str, str]]] = {}
    for e in got:
        by_source.setdefault(e["source"], []).append(e)
    docs = {d["url"].rsplit("/", 1)[-1]: d for d in await sources.all()}
    for kind, batch in expected.items():
        doc = docs[kind]
        assert doc["last_error"] is None, (kind, doc["last_error"])
        assert doc["consecutive_failures"] == 0
        # The sitemap has no title: its display name is the host.
        name = "127.0.0.1" if kind == "sitemap" else f"Feed {kind} 新闻"
        assert doc["kind"] == {"rss091": "rss", "rss10": "rss", "rss20": "rss"}.get(kind, kind)
        queued = [e for e in by_source[name] if e["source_id"] == doc["_id"]]
        assert [e["url"] for e in queued] == [i.url for i in batch], kind
        assert all(e["submitted_by"] == f"source:{name}" for e in queued)
        if kind != "sitemap":
            assert [e["title_hint"] for e in queued] == [i.title for i in batch]
        if kind != "rss091":  # RSS 0.91 items carry no date
            assert [datetime.fromisoformat(e["published_hint"]) for e in queued] == [
                i.published for i in batch
            ]
        assert doc["items_seen"] == 3
    assert [e.get("category") for e in by_source["Feed atom 新闻"]] == ["crypto"] * 3
    index = docs["index.xml"]
    assert index["kind"] == "sitemap_index" and index["last_error"] is None
    assert sorted(e["url"] for e in by_source["My index"]) == sorted(i.url for i in child_items)
    assert len(got) == 3 * len(KINDS) + 4


async def test_conditional_get_answered_304_publishes_nothing_new(
    feeds: FeedServer,
    feed_settings: Settings,
    sources: SourceStore,
    redis: Redis,
) -> None:
    body, ctype = render("rss20", "Conditional", items(0, 5), feeds.url(""))
    feeds.routes["/feed"] = Route(body, ctype)
    doc, _ = await sources.add(feeds.url("/feed"))
    async with feeding(feed_settings):
        await polled(sources, 1)
        assert len(await entries(redis, feed_settings)) == 5
        await sources.sources.update_one(
            {"_id": doc["_id"]}, {"$set": {"next_poll": datetime.now(UTC)}}
        )
        await polled(sources, 2)
    first, second = feeds.seen("/feed")
    assert "if-none-match" not in first.headers and first.status == 200
    assert second.headers["if-none-match"].startswith('"')
    assert second.headers["if-modified-since"] == feeds.routes["/feed"].last_modified
    assert second.status == 304
    assert len(await entries(redis, feed_settings)) == 5
    state = await sources.get(doc["_id"])
    assert state["not_modified"] == 1 and state["last_error"] is None and state["last_new"] == 0


async def test_each_item_is_queued_once_across_polls_and_duplicate_guids(
    feeds: FeedServer,
    feed_settings: Settings,
    sources: SourceStore,
    redis: Redis,
) -> None:
    batch = items(0, 4)
    dup = Item(corpus_url(9), "Same guid, other link", batch[0].published, guid=batch[1].url)
    body, ctype = render("rss20", "Once", [*batch, dup], feeds.url(""))
    route = Route(body, ctype)
    feeds.routes["/feed"] = route
    doc, _ = await sources.add(feeds.url("/feed"))
    async with feeding(feed_settings):
        await polled(sources, 1)
        first = await sources.get(doc["_id"])
        assert first["items_seen"] == 4
        assert "1 repeated item(s) (same id or link) counted once" in first["notes"]
        newer = items(10, 2)
        route.body, _ = render("rss20", "Once", [*newer, *batch], feeds.url(""))
        await sources.sources.update_one(
            {"_id": doc["_id"]}, {"$set": {"next_poll": datetime.now(UTC)}}
        )
        await polled(sources, 2)
    urls = [e["url"] for e in await entries(redis, feed_settings)]
    assert urls == [i.url for i in batch] + [i.url for i in newer]
    state = await sources.get(doc["_id"])
    assert state["items_seen"] == 6 and state["last_new"] == 2


async def test_two_replicas_never_poll_one_source_twice_in_an_interval(
    feeds: FeedServer,
    feed_settings: Settings,
    sources: SourceStore,
    redis: Redis,
) -> None:
    for n in range(24):
        body, ctype = render("rss20", f"Source {n}", items(n, 1), feeds.url(""))
        feeds.routes[f"/f{n}"] = Route(body, ctype, delay=0.15)
        await sources.add(feeds.url(f"/f{n}"), interval=3600)
    one = feed_settings.model_copy(update={"feed_concurrency": 3})
    async with feeding(one, name="replica-a") as a, feeding(one, name="replica-b") as b:
        await polled(sources, 1)
        await asyncio.sleep(2)  # both keep leasing: nothing is due again within the hour
        polls_a = a.poller.stats.counts.get("polls", 0) + 0
        polls_b = b.poller.stats.counts.get("polls", 0) + 0
    for n in range(24):
        assert len(feeds.seen(f"/f{n}")) == 1, n
    assert polls_a + polls_b == 24
    assert polls_a > 0 and polls_b > 0, (polls_a, polls_b)
    assert len(await entries(redis, feed_settings)) == 24
    for doc in await sources.all():
        assert doc["polls"] == 1 and doc["leased_by"] is None
        assert doc["next_poll"] > datetime.now(UTC) + timedelta(minutes=59)


async def test_host_gate_caps_concurrency_and_spacing_across_replicas(
    feed_settings: Settings,
    redis: Redis,
) -> None:
    """Three gates (as three replicas would hold) share one host's limits through Redis."""

    def gates(concurrency: int) -> list[HostGate]:
        return [
            HostGate(
                Redis.from_url(feed_settings.redis_url),
                feed_settings.stream_prefix,
                concurrency=concurrency,
                hold_seconds=10,
            )
            for _ in range(3)
        ]

    # The concurrency cap: at most 2 requests in flight, whichever replica holds them.
    capped = gates(2)
    inside = most = 0

    async def hold(gate: HostGate) -> None:
        nonlocal inside, most
        async with gate.slot("news.example:80", spacing=0, max_wait=30):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.2)
            inside -= 1

    await asyncio.gather(*(hold(capped[i % 3]) for i in range(12)))
    assert most == 2

    # The spacing: 12 requests one per 0.1 s take at least 1.1 s, however many replicas ask
    # (measured over the whole run: one gap can look short when the event loop is late).
    spaced = gates(12)
    starts: list[float] = []

    async def start(gate: HostGate) -> None:
        async with gate.slot("other.example:80", spacing=0.1, max_wait=30):
            starts.append(asyncio.get_running_loop().time())

    await asyncio.gather(*(start(spaced[i % 3]) for i in range(12)))
    for gate in capped + spaced:
        await gate.redis.aclose()
    assert max(starts) - min(starts) >= 1.1 * 0.95


async def test_an_internal_error_is_recorded_by_its_kind_only(
    feed_settings: Settings, sources: SourceStore, feeds: FeedServer
) -> None:
    # The source's last error is shown to anonymous readers: an exception's text can name
    # internal hosts and ports ("Error 111 connecting to 10.0.0.3:6379"; outside review).
    from services.reader.sources import public_reason

    await sources.add(feeds.url("/never-fetched"))
    feeder = Feeder(feed_settings)

    async def broken(_source: dict[str, Any]) -> None:
        raise RuntimeError("Error 111 connecting to 10.0.0.3:6379")

    feeder.poller._poll = broken  # type: ignore[method-assign]
    try:
        leased = await feeder.store.lease(feeder.name, 60)
        assert leased is not None
        await feeder.poller.poll(leased)
    finally:
        await feeder.fetcher.aclose()
        feeder.store.close()
        await feeder.redis.aclose()
    (doc,) = await sources.all()
    assert doc["last_error"] == "internal error (RuntimeError)"
    # what an earlier version stored is shown by its kind too
    old = "internal error: ConnectionError: Error 111 connecting to 10.0.0.3:6379."
    assert public_reason(old) == "internal error (ConnectionError)"
    assert public_reason("HTTP 404 Not Found") == "HTTP 404 Not Found"
