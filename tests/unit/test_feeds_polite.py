"""Discovery from a page, OPML, politeness (intervals, backoff, robots.txt), and the hints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow.domain.contracts import ExtractionResult, UrlSubmitted
from newsflow.stages.feeds import (
    InvalidOpml,
    OpmlFeed,
    RobotsRules,
    agent_token,
    apply_hints,
    category_with_hint,
    failure_delay,
    feed_links,
    next_interval,
    parse_opml,
    robots_url,
    to_opml,
)


def test_feed_links_from_the_head_first_then_feed_like_anchors() -> None:
    html = """<html><head><base href="/news/">
      <link rel="alternate" type="application/rss+xml; charset=utf-8" href="rss.xml">
      <link rel="alternate stylesheet" type="text/css" href="x.css">
      <link rel="Alternate" type="application/atom+xml" href="https://feeds.example/atom">
      <link rel="alternate" type="application/feed+json" href="/feed.json">
      </head><body><a href="/blog/feed/">RSS</a></body></html>"""
    assert feed_links(html, "https://site.example/") == [
        "https://site.example/news/rss.xml",
        "https://feeds.example/atom",
        "https://site.example/feed.json",
    ]
    anchors = '<html><body><a href="/blog/rss.xml">RSS</a><a href="/about">about</a></body></html>'
    assert feed_links(anchors, "https://site.example/") == ["https://site.example/blog/rss.xml"]
    assert feed_links("<html><body>nothing</body></html>", "https://site.example/") == []
    assert feed_links("", "https://site.example/") == []


def test_opml_round_trip_escapes_and_groups() -> None:
    feeds = [
        OpmlFeed("https://a.example/feed?x=1&y=2", 'Title "quoted" <b>&', "crypto"),
        OpmlFeed("https://b.example/rss", None, None),
    ]
    text = to_opml(feeds)
    assert "<b>" not in text and "&amp;y=2" in text
    assert parse_opml(text.encode()) == [
        OpmlFeed("https://a.example/feed?x=1&y=2", 'Title "quoted" <b>&', "crypto"),
        OpmlFeed("https://b.example/rss", "https://b.example/rss", None),
    ]


def test_opml_refuses_entities_and_non_opml() -> None:
    with pytest.raises(InvalidOpml, match="refused"):
        parse_opml(b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "b">]><opml><body/></opml>')
    with pytest.raises(InvalidOpml, match="not OPML"):
        parse_opml(b"<rss/>")
    with pytest.raises(InvalidOpml, match="not XML"):
        parse_opml(b"<opml><body>")


def test_adaptive_interval_within_bounds_fixed_kept_ttl_floor() -> None:
    assert next_interval(900, 3, lo=60, hi=3600) == 450
    assert next_interval(900, 0, lo=60, hi=3600) == 1350
    assert next_interval(80, 5, lo=60, hi=3600) == 60
    assert next_interval(3000, 0, lo=60, hi=3600) == 3600
    assert next_interval(900, 0, lo=60, hi=3600, fixed=300) == 300
    assert next_interval(100, 1, lo=60, hi=3600, ttl=1800) == 1800
    assert next_interval(100, 1, lo=60, hi=3600, ttl=86400) == 3600


def test_failure_backoff_doubles_honours_retry_after_and_caps() -> None:
    delays = [failure_delay(n, 60, hi=3600) for n in (1, 2, 3, 4)]
    for n, delay in enumerate(delays):
        assert 60 * 2**n * 0.9 <= delay <= 60 * 2**n * 1.1
    assert failure_delay(1, 60, hi=3600, retry_after=600) == 600
    assert failure_delay(20, 60, hi=3600) == 3600


def test_robots_rules_for_our_token() -> None:
    assert agent_token("Newsflow/0.1 (+https://github.com/newsflow/newsflow)") == "Newsflow"
    assert robots_url("https://x.example:8443/a/b?c=d") == "https://x.example:8443/robots.txt"
    rules = RobotsRules(
        "User-agent: *\nDisallow: /\n\nUser-agent: Newsflow\nAllow: /feed\nDisallow: /\nCrawl-delay: 5\n",
        "Newsflow/0.1",
    )
    assert rules.allowed("https://x.example/feed")
    assert not rules.allowed("https://x.example/private")
    assert rules.crawl_delay() == 5.0
    assert RobotsRules.allow_all("Newsflow/0.1").allowed("https://x.example/anything")


def test_hints_fill_only_what_the_page_lacks() -> None:
    when = datetime(2025, 6, 10, 4, tzinfo=UTC)
    hints = {"title": "Feed title", "published": when, "category": "crypto"}
    bare = apply_hints(ExtractionResult(status="ok", text="t"), hints)
    assert bare.title == "Feed title" and bare.published == when
    assert "title from the source's feed (the page has none)" in bare.evidence
    page = ExtractionResult(
        status="ok", title="Page title", published=datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert apply_hints(page, hints) == page
    assert apply_hints(page, None) is page


def test_category_hint_only_where_the_text_has_no_clear_topic() -> None:
    assert category_with_hint("en_news", "crypto") == "en_crypto"
    assert category_with_hint("zh_markets", "crypto") == "zh_markets"
    assert category_with_hint(None, "crypto") == "und_crypto"
    assert category_with_hint("en_news", "zh_crypto") == "zh_crypto"
    assert category_with_hint("en_news", None) == "en_news"


def test_url_submitted_carries_the_hints_as_plain_fields() -> None:
    msg = UrlSubmitted.model_validate(
        {
            "url": "https://x.example/a",
            "source": "動區",
            "source_id": "ab" * 32,
            "title_hint": "T",
            "published_hint": "2025-06-10T04:00:00+00:00",
            "category": "crypto",
        }
    )
    assert msg.hints() == {
        "title": "T",
        "published": datetime(2025, 6, 10, 4, tzinfo=UTC),
        "category": "crypto",
        "source_id": "ab" * 32,
    }
    assert UrlSubmitted(url="https://x.example/a").hints() is None
