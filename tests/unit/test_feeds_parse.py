"""Parsing feeds and sitemaps (no network): every kind, hostile XML, odd data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.stages.feeds import NotAFeed, parse_document
from tests.support.feeds import KINDS, FeedServer, Item, Route, render, sitemap_index

NOW = datetime.now(UTC).replace(microsecond=0)
ITEMS = [
    Item(f"https://news.example/a/{i}", f"Title {i} & <more>", NOW - timedelta(hours=i))
    for i in range(3)
]
EXPECTED_KIND = {"rss091": "rss", "rss10": "rss", "rss20": "rss"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gives_its_items_with_title_and_date(kind: str) -> None:
    body, ctype = render(kind, "The Daily <Example>", ITEMS, "https://news.example")
    feed = parse_document(body, "https://news.example/feed", ctype)
    assert feed.kind == EXPECTED_KIND.get(kind, kind)
    assert [i.url for i in feed.items] == [i.url for i in ITEMS]
    if kind != "sitemap":
        assert feed.title == "The Daily <Example>"
        assert [i.title for i in feed.items] == [i.title for i in ITEMS]
    if kind != "rss091":
        assert [i.published for i in feed.items] == [i.published for i in ITEMS]
    assert feed.notes == []


def test_sitemap_index_lists_children_absolute() -> None:
    body, ctype = sitemap_index(["/s1.xml", "https://cdn.example/s2.xml"])
    feed = parse_document(body, "https://news.example/sitemap.xml", ctype)
    assert feed.kind == "sitemap_index"
    assert feed.sitemaps == ["https://news.example/s1.xml", "https://cdn.example/s2.xml"]


def test_news_sitemap_names_its_publication_and_orders_newest_first() -> None:
    body, ctype = render("news_sitemap", "動區 BlockTempo", list(reversed(ITEMS)))
    feed = parse_document(body, "https://news.example/news.xml", ctype)
    assert feed.kind == "news_sitemap" and feed.title == "動區 BlockTempo" and feed.language == "en"
    assert [i.url for i in feed.items] == [i.url for i in ITEMS]


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    levels = "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    body = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{levels}]><rss version="2.0"><channel><title>&l9;</title></channel></rss>'
    with pytest.raises(NotAFeed) as refused:
        parse_document(body.encode(), "https://x.example/feed")
    assert refused.value.reason.startswith("refused: the document declares XML entities")


def test_external_entities_are_refused_and_an_external_dtd_is_never_loaded() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>&x;</title></channel></rss>'
    with pytest.raises(NotAFeed, match="declares XML entities"):
        parse_document(xxe, "https://x.example/feed")
    # UTF-16 cannot smuggle one past the check either.
    with pytest.raises(NotAFeed, match="declares XML entities"):
        parse_document(
            xxe.replace(b'version="1.0"', b'version="1.0" encoding="utf-16"')
            .decode()
            .encode("utf-16"),
            "https://x.example/feed",
        )
    # RSS 0.91 names Netscape's DTD; here its system URL is a local server's, which would see
    # a request if any parser loaded it (and the feed would be titled "loaded").
    with FeedServer() as server:
        server.routes["/rss-0.91.dtd"] = Route(b'<!ENTITY old "loaded">', "application/xml-dtd")
        netscape = (
            b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            + f'"{server.url("/rss-0.91.dtd")}">'.encode()
            + b'<rss version="0.91"><channel><title>Old</title>'
            b"<item><title>a</title><link>https://x.example/1</link></item></channel></rss>"
        )
        feed = parse_document(netscape, "https://x.example/feed")
        assert server.seen("/rss-0.91.dtd") == []
    assert feed.title == "Old" and [i.url for i in feed.items] == ["https://x.example/1"]


def test_html_is_not_a_feed_and_says_so() -> None:
    with pytest.raises(NotAFeed) as refused:
        parse_document(
            b"<!DOCTYPE html><html><head></head><body>x</body></html>", "https://x.example/"
        )
    assert refused.value.html and refused.value.reason == "not a feed: the URL serves an HTML page"
    with pytest.raises(NotAFeed, match="the XML document is a <svg>"):
        parse_document(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "https://x.example/f")
    with pytest.raises(NotAFeed, match="without a JSON Feed version"):
        parse_document(b'{"hello": 1}', "https://x.example/f")
    with pytest.raises(NotAFeed, match="invalid JSON"):
        parse_document(b"[" * 100_000, "https://x.example/f", "application/json")
    with pytest.raises(NotAFeed, match="empty"):
        parse_document(b"  \n", "https://x.example/f")


def test_gbk_feed_declared_in_the_xml_or_in_http() -> None:
    text = (
        '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>财经新闻</title>'
        "<item><title>央行宣布降息</title><link>/n/1.html</link></item></channel></rss>"
    )
    feed = parse_document(text.encode("gbk"), "https://zh.example/rss")
    assert feed.title == "财经新闻" and feed.items[0].title == "央行宣布降息"
    assert feed.items[0].url == "https://zh.example/n/1.html"
    bare = text.replace(' encoding="gb2312"', "").encode("gbk")
    feed = parse_document(bare, "https://zh.example/rss", "text/xml; charset=GBK")
    assert feed.items[0].title == "央行宣布降息"


def test_dates_that_do_not_parse_are_dropped_and_counted() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><link>https://x.example/1</link><pubDate>yesterday-ish</pubDate></item>"
        b"<item><link>https://x.example/2</link><pubDate>Sat, 01 Jan 1870 00:00:00 GMT</pubDate></item>"
        b"<item><link>https://x.example/3</link><pubDate>Tue, 10 Jun 2025 04:00:00 +0800</pubDate></item>"
        b"</channel></rss>"
    )
    feed = parse_document(body, "https://x.example/feed")
    assert [i.published for i in feed.items] == [
        None,
        None,
        datetime(2025, 6, 9, 20, 0, tzinfo=UTC),
    ]
    assert feed.notes == ["2 item(s) with a date that does not parse"]


def test_links_made_absolute_bad_ones_skipped_guids_counted_once() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><link>../up.html</link><guid>g1</guid></item>"
        b"<item><link>javascript:alert(1)</link><guid>g2</guid></item>"
        b'<item><guid isPermaLink="true">https://x.example/perma</guid></item>'
        b"<item><link>https://x.example/other</link><guid>g1</guid></item>"
        b"</channel></rss>"
    )
    feed = parse_document(body, "https://x.example/news/feed")
    # feedparser reads a GUID as a URI relative to the feed: it stays one id per item.
    assert [(i.url, i.key) for i in feed.items] == [
        ("https://x.example/up.html", "https://x.example/news/g1"),
        ("https://x.example/perma", "https://x.example/perma"),
    ]
    assert feed.notes == [
        "1 item(s) without an http(s) link skipped",
        "1 repeated item(s) (same id or link) counted once",
    ]


def test_ttl_and_broken_xml_read_leniently() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><ttl>60</ttl>'
        b"<item><title>a & b</title><link>https://x.example/1</link></item></channel></rss>"
    )
    feed = parse_document(body, "https://x.example/feed")
    assert feed.ttl == 3600 and [i.url for i in feed.items] == ["https://x.example/1"]
    assert feed.notes[0].startswith("malformed XML read leniently")
