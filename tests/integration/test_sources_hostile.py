"""Hostile and broken sources: each gets a reason on the source, and never stops the others.

All served on 127.0.0.1. The redirect to a private address is refused at the step that
decides: the fetcher's resolver seam says ``internal.example`` is 10.0.0.5, and the
connect-time vetting refuses it before any packet is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from newsflow.adapters.sources import SourceStore
from newsflow.domain.pipeline import Streams
from newsflow.settings import Settings
from newsflow.stages.fetching import PageFetcher
from newsflow.stages.fetching._backend import system_resolver
from services.feeder.main import Feeder
from tests.support.apps import wait_for
from tests.support.feeds import FeedServer, Item, Route, render

pytestmark = pytest.mark.integration

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://127.0.0.1/a</link></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title>
<item><title>&xxe;</title><link>http://127.0.0.1/b</link></item></channel></rss>"""

#: An external DTD is never loaded (nor refused: RSS 0.91 feeds name Netscape's DTD). It is
#: named by an absolute URL on the test's own server, which would see a request for it.
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "http://127.0.0.1:{port}/evil.dtd">
<rss version="2.0"><channel><title>t</title>
<item><title>x</title><link>http://127.0.0.1/c</link></item></channel></rss>"""

GBK_FEED = """<?xml version="1.0" encoding="GBK"?>
<rss version="2.0"><channel><title>中文新闻网</title><link>http://127.0.0.1/</link>
<item><title>比特币价格创新高</title><link>http://127.0.0.1/zh/1.html</link>
<pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate></item></channel></rss>""".encode("gbk")

BAD_DATES = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Dates</title>
<item><title>one</title><link>http://127.0.0.1/d/1</link><pubDate>the day after tomorrow</pubDate></item>
<item><title>two</title><link>http://127.0.0.1/d/2</link><pubDate>Mon, 99 Foo 2025 99:99:99 XYZ</pubDate></item>
<item><title>three</title><link>http://127.0.0.1/d/3</link><pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate></item>
</channel></rss>"""

RELATIVE = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Relative</title>
<entry><title>r1</title><link href="/news/one.html"/><id>r1</id></entry>
<entry><title>r2</title><link href="two.html"/><id>r2</id></entry>
<entry><title>bad</title><link href="javascript:alert(1)"/><id>r3</id></entry>
</feed>"""

DUP_GUIDS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Dups</title>
<item><title>a</title><link>http://127.0.0.1/g/1</link><guid>same</guid></item>
<item><title>b</title><link>http://127.0.0.1/g/2</link><guid>same</guid></item>
<item><title>c</title><link>http://127.0.0.1/g/1</link><guid>other</guid></item>
</channel></rss>"""

HTML_PAGE = (
    b"<!doctype html><html><head><title>A site</title></head><body><p>news</p></body></html>"
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def hostile_settings(settings: Settings, feeds: FeedServer) -> Settings:
    return settings.model_copy(
        update={
            "fetch_allowed_ports": [feeds.port],
            "feed_host_interval": 0.0,
            "feed_host_concurrency": 16,
            "fetch_retries": 0,
            "fetch_read_timeout": 1.0,
            "fetch_deadline": 3.0,
            "fetch_max_bytes": 1024 * 1024,
        }
    )


@pytest.fixture
async def sources(hostile_settings: Settings) -> AsyncIterator[SourceStore]:
    store = SourceStore.connect(hostile_settings)
    await store.ensure_indexes()
    yield store
    store.close()


async def test_hostile_sources_each_get_a_reason_and_the_good_ones_still_flow(
    feeds: FeedServer,
    hostile_settings: Settings,
    sources: SourceStore,
    redis: Redis,
) -> None:
    now = datetime.now(UTC)
    good, ctype = render("rss20", "Good news", [Item("http://127.0.0.1/good/1", "fine", now)])
    fifty_mb = b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>' + b" " * (
        50 * 1024 * 1024
    )
    routes = {
        "/good": Route(good, ctype),
        "/laughs": Route(BILLION_LAUGHS, "application/rss+xml"),
        "/xxe": Route(XXE, "application/rss+xml"),
        "/dtd": Route(EXTERNAL_DTD.format(port=feeds.port).encode(), "application/rss+xml"),
        "/big": Route(fifty_mb, "application/rss+xml"),
        "/endless": Route(b"", "application/rss+xml", endless=True, conditional=False),
        "/html": Route(HTML_PAGE, "text/html; charset=utf-8"),
        "/gbk": Route(GBK_FEED, "application/rss+xml"),
        "/dates": Route(BAD_DATES, "application/rss+xml"),
        "/relative/feed": Route(RELATIVE, "application/atom+xml"),
        "/dups": Route(DUP_GUIDS, "application/rss+xml"),
        "/slow": Route(good, ctype, delay=6.0),
        "/limited": Route(b"", "text/plain", status=429, headers={"Retry-After": "600"}),
        "/private": Route(
            b"",
            "text/plain",
            status=302,
            headers={"Location": f"http://internal.example:{feeds.port}/good"},
        ),
        "/pdf": Route(b"%PDF-1.7\n" + b"x" * 2000, "application/rss+xml"),
    }
    feeds.routes.update(routes)
    # served, but not a source: a request for it could only come from a parser loading it
    feeds.routes["/evil.dtd"] = Route(b'<!ENTITY leak "loaded">', "application/xml-dtd")
    ids = {}
    for path in [*routes, "/missing"]:
        doc, _ = await sources.add(feeds.url(path))
        ids[path] = doc["_id"]

    async def resolver(host: str, port: int) -> list[str]:
        if host == "internal.example":
            return ["10.0.0.5"]  # what a hostile DNS answer would say
        return await system_resolver(host, port)

    fetcher = PageFetcher(hostile_settings, resolver=resolver)
    feeder = Feeder(hostile_settings, fetcher=fetcher)
    task = asyncio.create_task(feeder.run())
    try:

        async def all_polled() -> bool:
            return all(d["polls"] >= 1 for d in await sources.all())

        await wait_for(all_polled, 60, "every source polled once")
    finally:
        feeder.stop()
        await asyncio.wait_for(task, 30)
    state = {path: await sources.get(sid) for path, sid in ids.items()}
    errors = {path: s["last_error"] for path, s in state.items()}

    entity = "refused: the document declares XML entities"
    assert errors["/laughs"].startswith(entity)
    assert errors["/xxe"].startswith(entity)
    assert errors["/dtd"] is None and feeds.seen("/evil.dtd") == []
    assert errors["/big"] == "document larger than 1 MiB"
    assert errors["/endless"] == "document larger than 1 MiB"
    assert errors["/html"].startswith("not a feed: the URL serves an HTML page")
    assert errors["/missing"] == "HTTP 404 Not Found"
    assert errors["/slow"] in ("no data for 1 s", "timed out after 3 s (1 attempt)")
    assert errors["/limited"] == "HTTP 429 Too Many Requests"
    assert state["/limited"]["next_poll"] >= state["/limited"]["last_poll"] + timedelta(seconds=599)
    assert (
        errors["/private"]
        == "refused: 10.0.0.5 is a private address (internal.example resolves to it)"
    )
    assert errors["/pdf"] == "refused: a PDF document served as application/rss+xml"
    for path in (
        "/laughs",
        "/xxe",
        "/big",
        "/endless",
        "/html",
        "/missing",
        "/slow",
        "/limited",
        "/private",
        "/pdf",
    ):
        assert state[path]["consecutive_failures"] == 1, path
        assert state[path]["next_poll"] > datetime.now(UTC), path
        assert state[path]["last_success"] is None, path

    for path in ("/good", "/gbk", "/dates", "/relative/feed", "/dups"):
        assert errors[path] is None, (path, errors[path])
    rows = await redis.xrange(Streams(hostile_settings.stream_prefix).urls)
    queued = [{k.decode(): v.decode() for k, v in f.items()} for _, f in rows]
    by = {}
    for e in queued:
        by.setdefault(e["source_id"], []).append(e)
    assert [e["url"] for e in by[ids["/good"]]] == ["http://127.0.0.1/good/1"]
    gbk = by[ids["/gbk"]]
    assert state["/gbk"]["title"] == "中文新闻网"
    assert [(e["source"], e["title_hint"]) for e in gbk] == [("中文新闻网", "比特币价格创新高")]
    dates = by[ids["/dates"]]
    assert [e["url"] for e in dates] == [f"http://127.0.0.1/d/{i}" for i in (1, 2, 3)]
    assert ["published_hint" in e for e in dates] == [False, False, True]
    assert "2 item(s) with a date that does not parse" in state["/dates"]["notes"]
    rel = by[ids["/relative/feed"]]
    base = feeds.url("")
    assert [e["url"] for e in rel] == [f"{base}/news/one.html", f"{base}/relative/two.html"]
    assert "1 item(s) without an http(s) link skipped" in state["/relative/feed"]["notes"]
    assert [e["url"] for e in by[ids["/dups"]]] == ["http://127.0.0.1/g/1"]
    # Nothing from the refused sources was queued.
    assert set(by) == {
        ids[p] for p in ("/good", "/dtd", "/gbk", "/dates", "/relative/feed", "/dups")
    }
    # And no request went to the private address: the only hop seen is ours.
    assert [r.status for r in feeds.seen("/private")] == [302]


async def test_robots_txt_is_honoured_unless_turned_off(
    feeds: FeedServer,
    hostile_settings: Settings,
    sources: SourceStore,
    redis: Redis,
) -> None:
    body, ctype = render(
        "rss20", "Private feed", [Item("http://127.0.0.1/p/1", "x", datetime.now(UTC))]
    )
    feeds.routes["/private/feed"] = Route(body, ctype)
    feeds.routes["/robots.txt"] = Route(
        b"User-agent: Newsflow\nDisallow: /private/\n", "text/plain"
    )
    doc, _ = await sources.add(feeds.url("/private/feed"))
    feeder = Feeder(hostile_settings)
    task = asyncio.create_task(feeder.run())

    async def polled() -> bool:
        return (await sources.get(doc["_id"]))["polls"] >= 1

    try:
        await wait_for(polled, 30, "the source polled")
    finally:
        feeder.stop()
        await asyncio.wait_for(task, 30)
    state = await sources.get(doc["_id"])
    assert state["last_error"].startswith("robots.txt of the site disallows fetching this URL")
    assert feeds.seen("/private/feed") == []

    relaxed = hostile_settings.model_copy(update={"feed_respect_robots": False})
    await sources.sources.update_one(
        {"_id": doc["_id"]}, {"$set": {"next_poll": datetime.now(UTC)}}
    )
    feeder = Feeder(relaxed)
    task = asyncio.create_task(feeder.run())

    async def polled_again() -> bool:
        return (await sources.get(doc["_id"]))["polls"] >= 2

    try:
        await wait_for(polled_again, 30, "the source polled again")
    finally:
        feeder.stop()
        await asyncio.wait_for(task, 30)
    assert (await sources.get(doc["_id"]))["last_error"] is None
    assert len(feeds.seen("/private/feed")) == 1
