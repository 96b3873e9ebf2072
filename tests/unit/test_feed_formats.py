"""RSS, Atom and JSON Feed documents: valid for feed parsers, well-formed, escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import feedparser
import feedparser_rs
import pytest
from lxml import etree

from services.reader.feed_formats import Feed, FeedItem, atom, json_feed, render, rss, xml_safe

HOSTILE = "Rally <script>alert(1)</script> & ]]> \x00\x08\x1b\ud800 \ufffe done"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def feed(n: int = 3, title: str = "Bitcoin up", summary: str = "Impact summary") -> Feed:
    items = [
        FeedItem(
            id=f"{i:064x}",
            title=f"{title} {i}",
            link=f"https://news.example.org/articles/{i:064x}",
            source_url=f"https://src.example/{i}",
            summary=f"{summary} {i}",
            published=T0 - timedelta(hours=i),
            source="src.example",
            language="zh",
            tags=["BTC", "bullish", "zh_crypto"],
        )
        for i in range(n)
    ]
    return Feed(
        "Newsflow: BTC",
        "https://news.example.org/?symbol=BTC",
        "https://news.example.org/feeds/rss.xml?symbol=BTC",
        "Analyzed news",
        items,
    )


@pytest.mark.parametrize(("kind", "version"), [("rss", "rss20"), ("atom", "atom10")])
def test_xml_feeds_parse_cleanly_with_every_field(kind: str, version: str) -> None:
    data = render(kind, feed())
    etree.fromstring(data)  # well-formed XML
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert parsed.feed.title == "Newsflow: BTC"
    assert [e.title for e in parsed.entries] == ["Bitcoin up 0", "Bitcoin up 1", "Bitcoin up 2"]
    first = parsed.entries[0]
    assert first.link == "https://news.example.org/articles/" + f"{0:064x}"
    assert first.summary == "Impact summary 0"
    assert first.published_parsed[:5] == (2026, 3, 1, 8, 0)
    assert [t.term for t in first.tags] == ["BTC", "bullish", "zh_crypto"]


def test_json_feed_follows_version_1_1() -> None:
    data = json_feed(feed())
    doc = json.loads(data)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"].endswith("/feeds/rss.xml?symbol=BTC")
    for item in doc["items"]:
        assert isinstance(item["id"], str) and item["url"].startswith("https://")
        assert item["content_text"] and datetime.fromisoformat(item["date_published"]).tzinfo
    parsed = feedparser_rs.parse(data)
    assert not parsed.bozo and parsed.version == "json11"
    assert [e.title for e in parsed.entries] == ["Bitcoin up 0", "Bitcoin up 1", "Bitcoin up 2"]
    assert parsed.entries[0].link == doc["items"][0]["url"]


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_hostile_text_is_escaped_and_stripped_of_what_xml_cannot_carry(kind: str) -> None:
    data = render(kind, feed(1, title=HOSTILE, summary=HOSTILE))
    if kind == "json":
        doc = json.loads(data)
        title, summary = doc["items"][0]["title"], doc["items"][0]["summary"]
    else:
        etree.fromstring(data)
        parsed = feedparser.parse(data)
        assert not parsed.bozo
        title = parsed.entries[0].title
        summary = parsed.entries[0].summary
        assert b"<script>" not in data  # never raw markup in the document
    assert "\x00" not in title + summary and "\ufffe" not in title + summary
    if kind == "rss":
        # RSS descriptions are HTML: the text arrives as text, tags shown, not run.
        assert "&lt;script&gt;" in summary
    else:
        assert "<script>alert(1)</script>" in summary


def test_xml_safe_cuts_long_values() -> None:
    assert xml_safe("a" * 10, 5) == "aaaa…"
    assert xml_safe("\x0bok\x0c") == "ok"


def test_empty_feed_is_still_valid() -> None:
    empty = Feed("Newsflow", "https://n.example/", "https://n.example/feeds/atom.xml", "d", [])
    assert not feedparser.parse(rss(empty)).bozo
    assert not feedparser.parse(atom(empty)).bozo
    assert json.loads(json_feed(empty))["items"] == []
