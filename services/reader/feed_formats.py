"""RSS 2.0, Atom and JSON Feed documents of a list of articles (plain logic, no server).

RSS and Atom are built by feedgen (lxml underneath: every value is escaped); JSON Feed 1.1 is
plain JSON. Article text is untrusted: characters XML cannot carry (control characters, lone
surrogates, U+FFFE/U+FFFF) are removed from every value first, which lxml would otherwise
refuse, and summaries are plain text: Atom's are ``type="text"``, RSS's (which readers take
as HTML) are HTML-escaped, so no markup passes from an article into a feed reader.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

#: Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
GENERATOR = "Newsflow"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
KINDS = ("rss", "atom", "json")
MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


def xml_safe(text: str | None, limit: int = 4000) -> str:
    """``text`` with only characters XML 1.0 allows, cut to ``limit`` characters."""
    text = _NOT_XML.sub("", text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class FeedItem:
    """One article as a feed shows it."""

    id: str
    #: The translated title (the original when there is no translation).
    title: str
    #: The article's page in the reader.
    link: str
    #: The original page.
    source_url: str
    #: The impact analysis's summary (else the article's lead).
    summary: str
    published: datetime
    source: str = ""
    language: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Feed:
    """The feed itself: what it lists and where it lives."""

    title: str
    #: The list page with the same filters.
    home_url: str
    #: This feed's own URL.
    self_url: str
    description: str
    items: list[FeedItem]


def _when(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _generator(feed: Feed, kind: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(feed.self_url)
    fg.title(xml_safe(feed.title, 200) or "Newsflow")
    fg.subtitle(xml_safe(feed.description, 500) or "Analyzed news")
    # "self" first: feedgen's RSS channel <link> is the last link given (the home page).
    fg.link(href=feed.self_url, rel="self")
    fg.link(href=feed.home_url, rel="alternate")
    fg.generator(GENERATOR)
    fg.language("en")
    newest = max((_when(i.published) for i in feed.items), default=datetime.now(UTC))
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for item in feed.items:
        entry = fg.add_entry(order="append")
        entry.id(item.link)
        entry.guid(item.link, permalink=True)
        entry.title(xml_safe(item.title, 500) or item.link)
        entry.link(href=item.link, rel="alternate")
        summary = xml_safe(item.summary) or xml_safe(item.title, 500) or item.link
        if kind == "rss":
            # RSS readers take <description> as HTML: the plain text goes in escaped, so a
            # "<script>" in an article stays text in every reader.
            entry.description(html.escape(summary, quote=False))
        else:
            entry.summary(summary, type="text")
        entry.published(_when(item.published))
        entry.updated(_when(item.published))
        if item.source:
            entry.author({"name": xml_safe(item.source, 200) or "unknown"})
        for tag in item.tags:
            if cleaned := xml_safe(tag, 100):
                entry.category(term=cleaned)
    return fg


def rss(feed: Feed) -> bytes:
    """An RSS 2.0 document."""
    return bytes(_generator(feed, "rss").rss_str(pretty=True))


def atom(feed: Feed) -> bytes:
    """An Atom 1.0 document."""
    return bytes(_generator(feed, "atom").atom_str(pretty=True))


def json_feed(feed: Feed) -> bytes:
    """A JSON Feed 1.1 document."""
    items = []
    for item in feed.items:
        entry: dict[str, object] = {
            "id": item.link,
            "url": item.link,
            "external_url": item.source_url,
            "title": xml_safe(item.title, 500),
            "summary": xml_safe(item.summary),
            "content_text": xml_safe(item.summary) or xml_safe(item.title, 500),
            "date_published": _when(item.published).isoformat(),
            "tags": [t for t in (xml_safe(t, 100) for t in item.tags) if t],
        }
        if item.source:
            entry["authors"] = [{"name": xml_safe(item.source, 200)}]
        if item.language:
            entry["language"] = item.language
        items.append(entry)
    doc = {
        "version": JSON_FEED_VERSION,
        "title": xml_safe(feed.title, 200) or "Newsflow",
        "home_page_url": feed.home_url,
        "feed_url": feed.self_url,
        "description": xml_safe(feed.description, 500),
        "language": "en",
        "items": items,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def render(kind: str, feed: Feed) -> bytes:
    """The feed in ``kind`` (``rss``, ``atom`` or ``json``)."""
    if kind == "rss":
        return rss(feed)
    if kind == "atom":
        return atom(feed)
    if kind == "json":
        return json_feed(feed)
    raise ValueError(f"unknown feed kind {kind!r}")
