"""The list views (bullish, bearish, important, hot) and filters, in the JSON API and the list
page, and the RSS, Atom and JSON feeds of each filter (validated by feed parsers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import feedparser
import feedparser_rs
import httpx
import pytest
from lxml import etree

from newsflow.adapters.store import ArticleFilter, ArticleStore
from newsflow.settings import Settings
from tests.support.apps import reader_client
from tests.support.articles import analyzed

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
PUBLIC = "https://news.example.org"


def hours_ago(h: float) -> datetime:
    return NOW - timedelta(hours=h)


#: name -> document. Times are relative to now, for the hot view's window.
ARTICLES: dict[str, dict[str, Any]] = {
    "btc_bull": analyzed(
        "https://coindesk.com/btc-etf",
        title="Bitcoin ETF inflows hit a record",
        symbols=["BTC"],
        direction="bullish",
        category="en_crypto",
        created=hours_ago(1),
        published=hours_ago(1.5),
        votes={"up": 2},
        summary="Inflows point to demand for bitcoin.",
    ),
    "btc_bear": analyzed(
        "https://www.reuters.com/btc-hack",
        title="Exchange hack drains bitcoin",
        symbols=["BTC"],
        direction="bearish",
        category="en_crypto",
        created=hours_ago(3),
        published=hours_ago(3),
        votes={"important": 3, "up": 5},
    ),
    "zh_nvda": analyzed(
        "https://news.example.cn/nvda",
        title="Nvidia results beat forecasts",
        original_title="英伟达财报超预期",
        symbols=["NVDA"],
        direction="bullish",
        category="zh_news",
        language="zh",
        created=hours_ago(5),
        published=hours_ago(6),
        votes={"important": 1},
    ),
    "old_hot": analyzed(
        "https://coindesk.com/old",
        title="Old story with many votes",
        symbols=["ETH"],
        direction="neutral",
        category="en_crypto",
        created=hours_ago(100),
        published=hours_ago(100),
        votes={"up": 500, "important": 50},
    ),
    "day_old": analyzed(
        "https://www.reuters.com/day-old",
        title="Day-old market wrap",
        symbols=["AAPL"],
        category="en_markets",
        created=hours_ago(24),
        published=hours_ago(24),
        votes={"up": 3},
        submissions=3,
    ),
    "queued": {
        **analyzed(
            "https://coindesk.com/queued",
            title="Not analyzed yet",
            symbols=["BTC"],
            created=hours_ago(0.1),
        ),
        "status": "queued",
    },
}
TITLES = {
    name: doc["translation"].get("title") or doc["extraction"]["title"]
    for name, doc in ARTICLES.items()
}


def expected_hot(names: list[str]) -> list[str]:
    """The README's formula, computed here on its own."""

    def score(name: str) -> float:
        doc = ARTICLES[name]
        v = doc["votes"]
        engagement = (
            v["up"] - v["down"] + 2 * v["important"] + v["comments"] + doc["submissions"] - 1
        )
        age = (NOW - doc["extraction"]["published"]).total_seconds() / 3600
        return (1 + engagement) / (age + 2) ** 1.5

    return sorted(names, key=score, reverse=True)


@pytest.fixture
async def client(settings: Settings, store: ArticleStore) -> AsyncIterator[httpx.AsyncClient]:
    """The reader over the module's articles, with a public URL for the feeds' links."""
    await store.import_documents([dict(d) for d in ARTICLES.values()])
    async with reader_client(settings.model_copy(update={"public_url": PUBLIC})) as c:
        yield c


async def titles(client: httpx.AsyncClient, query: str) -> list[str]:
    r = await client.get(f"/api/articles?{query}")
    assert r.status_code == 200, r.text
    return [item["title"] for item in r.json()["items"]]


def named(*names: str) -> list[str]:
    return [TITLES[n] for n in names]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["queued", "btc_bull", "btc_bear", "zh_nvda", "day_old", "old_hot"]),
        ("view=bullish", ["btc_bull", "zh_nvda"]),
        ("view=bearish", ["btc_bear"]),
        ("view=important", ["btc_bear", "zh_nvda", "old_hot"]),
        ("important=2", ["btc_bear", "old_hot"]),
        ("direction=neutral", ["old_hot"]),
        ("view=bullish&direction=bearish", []),
        ("view=bullish&symbol=nvda", ["zh_nvda"]),
        ("symbol=BTC", ["queued", "btc_bull", "btc_bear"]),
        ("source=reuters.com", ["btc_bear", "day_old"]),
        ("source=www.reuters.com", ["btc_bear", "day_old"]),
        ("category=en_crypto&view=important", ["btc_bear", "old_hot"]),
        ("language=zh", ["zh_nvda"]),
        ("view=hot", expected_hot(["btc_bull", "btc_bear", "zh_nvda", "day_old"])),
        ("view=hot&symbol=BTC", expected_hot(["btc_bull", "btc_bear"])),
        ("view=hot&source=reuters.com", expected_hot(["btc_bear", "day_old"])),
    ],
)
async def test_views_and_filters_in_the_api(
    client: httpx.AsyncClient, query: str, expected: list[str]
) -> None:
    assert await titles(client, query) == named(*expected)


async def test_hot_is_the_formula_and_leaves_out_the_old_and_the_unanalyzed(
    client: httpx.AsyncClient,
) -> None:
    hot = await titles(client, "view=hot")
    assert TITLES["old_hot"] not in hot  # 100 hours old: outside the 72-hour window
    assert TITLES["queued"] not in hot
    # 3-hour-old, five up and three important votes: (1+11)/5**1.5 = 1.07; 1.5 hours old with
    # two up votes: 3/3.5**1.5 = 0.46; six hours old, one important: 3/8**1.5 = 0.13; the
    # day-old wrap with three up votes and two more reports: 6/26**1.5 = 0.05.
    assert (
        hot
        == named("btc_bear", "btc_bull", "zh_nvda", "day_old")
        == named(*expected_hot(["btc_bull", "btc_bear", "zh_nvda", "day_old"]))
    )


async def test_hot_pages_with_its_own_cursor(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/articles?view=hot&limit=3")).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = (
        await client.get(f"/api/articles?view=hot&limit=3&cursor={first['next_cursor']}")
    ).json()
    assert [i["title"] for i in first["items"] + second["items"]] == named(
        *expected_hot(["btc_bull", "btc_bear", "zh_nvda", "day_old"])
    )
    assert second["next_cursor"] is None
    latest = (await client.get("/api/articles?limit=1")).json()["next_cursor"]
    r = await client.get(f"/api/articles?view=hot&cursor={latest}")
    assert r.status_code == 400 and "cursor" in r.json()["error"]["message"]
    assert (await client.get("/api/articles?view=trending")).status_code == 422


async def test_summaries_carry_the_host_and_direction(client: httpx.AsyncClient) -> None:
    item = (await client.get("/api/articles?view=bearish")).json()["items"][0]
    assert item["host"] == "reuters.com" and item["direction"] == "bearish"


async def test_an_item_of_a_feed_is_listed_under_its_source_and_its_page_host(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    """A feed item carries the feed's name as its source: the row links to that source's
    list, the name written as stored, and ``host`` is still the page's."""
    item = analyzed("https://www.coindesk.com/feed-item", title="Feed item", created=hours_ago(2))
    item |= {"source": "CoinDesk Wire", "hints": {"source_id": "0123456789"}}
    await store.import_documents([item])
    listed = (await client.get("/api/articles?source=CoinDesk%20Wire")).json()["items"]
    assert [(i["title"], i["source"], i["source_key"], i["host"]) for i in listed] == [
        ("Feed item", "CoinDesk Wire", "CoinDesk Wire", "coindesk.com")
    ]
    assert 'href="/?source=CoinDesk%20Wire"' in (await client.get("/")).text
    # the host's own list is the pages published by hand there, not the feed's
    assert "Feed item" not in await titles(client, "source=coindesk.com")
    # a feed's name may be long (the feeder keeps 300 characters): its link still works
    name = ("CoinDesk Markets: Bitcoin, Ether and the Crypto Economy, Daily " * 5).strip()
    long_item = analyzed("https://www.coindesk.com/long", title="Long", created=hours_ago(2))
    long_item |= {"source": name[:300], "hints": {"source_id": "0123456780"}}
    await store.import_documents([long_item])
    link = f"/?source={quote(name[:300])}"
    assert link.replace("%2C", ",") in (await client.get("/?all=1")).text.replace("%2C", ",")
    page = await client.get(link)
    assert page.status_code == 200 and "Long" in page.text
    assert await titles(client, f"source={quote(name[:300])}") == ["Long"]


async def test_the_hot_window_is_bounded_by_the_settings(
    settings: Settings, store: ArticleStore
) -> None:
    await store.import_documents([dict(d) for d in ARTICLES.values()])
    narrow = ArticleStore.connect(
        settings.model_copy(update={"hot_window_hours": 2.0, "hot_max_candidates": 10})
    )
    few = ArticleStore.connect(settings.model_copy(update={"hot_max_candidates": 2}))
    try:
        page = await narrow.page(ArticleFilter(view="hot"))
        assert [a.title for a in page.items] == named("btc_bull")
        page = await few.page(ArticleFilter(view="hot"))  # the two newest analyzed, ranked
        assert [a.title for a in page.items] == named(*expected_hot(["btc_bull", "btc_bear"]))
    finally:
        narrow.close()
        few.close()


async def test_the_list_page_has_the_views_the_filters_and_their_feeds(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/?view=bullish&symbol=BTC")).text
    assert 'data-view="bullish" aria-current="page"' in page
    assert 'href="/?symbol=BTC&amp;view=hot"' in page  # other views keep the filter
    assert 'data-filter="symbol"' in page and 'href="/?view=bullish"' in page  # removes it
    assert 'href="/feeds/rss.xml?view=bullish&amp;symbol=BTC"' in page
    assert 'data-refresh-url="/partials/articles?view=bullish&amp;symbol=BTC"' in page
    assert TITLES["btc_bull"] in page and TITLES["btc_bear"] not in page
    rows = (await client.get("/partials/articles?view=bullish&symbol=BTC")).text
    assert TITLES["btc_bull"] in rows and TITLES["zh_nvda"] not in rows
    hot = (await client.get("/?view=hot")).text
    order = [
        hot.index(TITLES[n]) for n in expected_hot(["btc_bull", "btc_bear", "zh_nvda", "day_old"])
    ]
    assert order == sorted(order)
    assert TITLES["old_hot"] not in hot
    assert 'href="/?source=reuters.com"' in (await client.get("/")).text  # per source


FEED_FILTERS = [
    ("symbol=BTC", ["btc_bull", "btc_bear"]),
    ("category=en_crypto", ["btc_bull", "btc_bear", "old_hot"]),
    ("language=zh", ["zh_nvda"]),
    ("source=coindesk.com", ["btc_bull", "old_hot"]),
    ("direction=bullish", ["btc_bull", "zh_nvda"]),
    ("important=1", ["btc_bear", "zh_nvda", "old_hot"]),
    ("view=bearish", ["btc_bear"]),
    ("view=hot", expected_hot(["btc_bull", "btc_bear", "zh_nvda", "day_old"])),
    ("", ["btc_bull", "btc_bear", "zh_nvda", "day_old", "old_hot"]),
]


@pytest.mark.parametrize(("query", "expected"), FEED_FILTERS)
@pytest.mark.parametrize(("path", "version"), [("rss.xml", "rss20"), ("atom.xml", "atom10")])
async def test_xml_feeds_validate_for_each_filter(
    client: httpx.AsyncClient, query: str, expected: list[str], path: str, version: str
) -> None:
    r = await client.get(f"/feeds/{path}?{query}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/rss+xml" if path == "rss.xml" else "application/atom+xml"
    )
    etree.fromstring(r.content)
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert [e.title for e in parsed.entries] == named(*expected)  # analyzed only
    for entry, name in zip(parsed.entries, expected, strict=True):
        doc = ARTICLES[name]
        assert entry.link == f"{PUBLIC}/articles/{doc['_id']}"
        impact = doc["analysis"]["impact"].get("impact")
        if impact is not None:
            assert entry.summary == impact["summary"]
    self_link = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_link == [f"{PUBLIC}/feeds/{path}" + (f"?{query}" if query else "")]


@pytest.mark.parametrize(("query", "expected"), FEED_FILTERS)
async def test_json_feed_validates_for_each_filter(
    client: httpx.AsyncClient, query: str, expected: list[str]
) -> None:
    r = await client.get(f"/feeds/feed.json?{query}")
    assert r.headers["content-type"].startswith("application/feed+json")
    parsed = feedparser_rs.parse(r.content)
    assert not parsed.bozo and parsed.version == "json11"
    assert [e.title for e in parsed.entries] == named(*expected)
    doc = json.loads(r.content)
    assert [i["url"] for i in doc["items"]] == [
        f"{PUBLIC}/articles/{ARTICLES[n]['_id']}" for n in expected
    ]


async def test_feeds_carry_the_translated_title_and_tags(client: httpx.AsyncClient) -> None:
    parsed = feedparser.parse((await client.get("/feeds/atom.xml?language=zh")).content)
    [entry] = parsed.entries
    assert entry.title == "Nvidia results beat forecasts"  # the translation, not 英伟达财报超预期
    assert [t.term for t in entry.tags] == ["NVDA", "bullish", "zh_news"]
    assert entry.summary == ARTICLES["zh_nvda"]["analysis"]["impact"]["impact"]["summary"]


async def test_hostile_titles_stay_text_in_every_feed(
    settings: Settings, store: ArticleStore
) -> None:
    xss = "<script>alert(1)</script> & \x00\x1b ]]>"
    await store.import_documents(
        [analyzed("https://evil.example/1", title=xss, direction="bullish", summary=xss)]
    )
    async with reader_client(settings) as client:
        for path in ("rss.xml", "atom.xml"):
            body = (await client.get(f"/feeds/{path}")).content
            assert b"<script>" not in body
            parsed = feedparser.parse(body)
            assert not parsed.bozo and parsed.entries[0].title.startswith(
                "<script>alert(1)</script> &"
            )
            assert parsed.entries[0].link.startswith(
                "http://localhost/articles/"
            )  # no public URL set
        doc = json.loads((await client.get("/feeds/feed.json")).content)
        assert doc["items"][0]["title"] == "<script>alert(1)</script> &  ]]>"


@pytest.mark.parametrize("path", ["rss.xml", "atom.xml"])
async def test_a_feed_with_search_words_is_the_feed_of_the_search(
    client: httpx.AsyncClient, path: str
) -> None:
    # The list page links its feeds with its q; they ignored it and listed everything, and
    # RSS named the feed itself as the channel's home page (outside review).
    listed = await titles(client, "q=nvidia")
    assert listed == named("zh_nvda")
    parsed = feedparser.parse((await client.get(f"/feeds/{path}?q=nvidia")).content)
    assert [e.title for e in parsed.entries] == listed
    assert "search 'nvidia'" in parsed.feed.title
    home = [link.href for link in parsed.feed.links if link.rel == "alternate"]
    assert home == [f"{PUBLIC}/?q=nvidia"]
    if path == "rss.xml":
        assert parsed.feed.link == f"{PUBLIC}/?q=nvidia"
