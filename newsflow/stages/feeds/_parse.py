"""Parsing what a source serves: RSS 0.9x/1.0/2.0, Atom, JSON Feed, sitemaps.

``parse_document(body, url, content_type) -> ParsedFeed`` or ``NotAFeed(reason)``.

XML is first read by defusedxml, which refuses entity declarations (the "billion laughs"
expansion) and external entities or DTDs before anything expands them; feeds are then
parsed by feedparser (RSS 0.9x/1.0/2.0, Atom; encodings from the XML declaration, GBK
included), sitemaps, sitemap indexes and Google News sitemaps from the defusedxml tree,
JSON Feed (1.0/1.1) with ``json``. Links are made absolute against the document's URL; items
without an http(s) link are skipped and counted; an id repeated inside one document (a
duplicate GUID) counts once; dates that do not parse are dropped, never guessed.
"""

from __future__ import annotations

import calendar
import json
import re
import time
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import defusedxml.ElementTree as SafeET
import feedparser
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from newsflow.stages.decoding import declared_codecs

Kind = Literal["rss", "atom", "json", "sitemap", "sitemap_index", "news_sitemap"]

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
#: Longest title kept from a feed (characters).
MAX_TITLE = 1_000
#: Longest item link taken (the input stream's limit).
MAX_URL = 8_192
#: An entity declaration anywhere near the top: refused even when the XML is too broken for
#: defusedxml to reach it (feedparser's loose parser would otherwise get the bytes).
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
# Possessive and a comment body that never backtracks: linear on hostile bytes.
_HTML_START = re.compile(
    rb"^\s*+(?:<!--(?:(?!-->).)*+-->\s*+)*+<(?:!doctype\s++html|html[\s>])",
    re.IGNORECASE | re.DOTALL,
)


class NotAFeed(Exception):
    """The document is not a feed or sitemap we read; ``reason`` says why, in words."""

    def __init__(self, reason: str, *, html: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        #: True when the document is an HTML page (discovery may look for feeds in it).
        self.html = html


@dataclass(frozen=True)
class FeedItem:
    """One entry: the article URL and what the feed says of it."""

    url: str
    #: What identifies the item within its source: the GUID/id, else the URL.
    key: str
    title: str | None = None
    published: datetime | None = None


@dataclass(frozen=True)
class ParsedFeed:
    kind: Kind
    title: str | None = None
    #: The site the feed belongs to, if it says.
    link: str | None = None
    language: str | None = None
    items: list[FeedItem] = field(default_factory=list)
    #: Child sitemaps of a sitemap index, newest first.
    sitemaps: list[str] = field(default_factory=list)
    #: How long the feed asks to be cached (RSS ``<ttl>``), seconds.
    ttl: float | None = None
    #: What was skipped or dropped, in words ("2 items without a link skipped").
    notes: list[str] = field(default_factory=list)


def _clean(text: object, limit: int = MAX_TITLE) -> str | None:
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    return text[:limit] or None


def _http_url(base: str, link: object) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        absolute = urljoin(base, link.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if len(absolute) > MAX_URL:
        return None
    return absolute


def _sane(when: datetime | None) -> datetime | None:
    """A publish time worth keeping: aware, after 1990, not more than two days ahead."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if when.year < 1990 or when > datetime.now(UTC) + timedelta(days=2):
        return None
    return when


def _from_struct(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return _sane(datetime.fromtimestamp(calendar.timegm(value), UTC))
    except (OverflowError, ValueError, OSError):
        return None


def _from_iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _sane(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


class _Items:
    """Collects items once per key and per URL, counting what was skipped."""

    def __init__(self) -> None:
        self.items: list[FeedItem] = []
        self._keys: set[str] = set()
        self._urls: set[str] = set()
        self.no_link = 0
        self.repeated = 0
        self.bad_dates = 0

    def add(
        self,
        url: str | None,
        key: object,
        title: object,
        published: datetime | None,
        had_date: bool,
    ) -> None:
        if url is None:
            self.no_link += 1
            return
        ident = key.strip()[:2048] if isinstance(key, str) and key.strip() else url
        if ident in self._keys or url in self._urls:
            self.repeated += 1
            return
        if had_date and published is None:
            self.bad_dates += 1
        self._keys.add(ident)
        self._urls.add(url)
        self.items.append(FeedItem(url=url, key=ident, title=_clean(title), published=published))

    def notes(self) -> list[str]:
        out = []
        if self.no_link:
            out.append(f"{self.no_link} item(s) without an http(s) link skipped")
        if self.repeated:
            out.append(f"{self.repeated} repeated item(s) (same id or link) counted once")
        if self.bad_dates:
            out.append(f"{self.bad_dates} item(s) with a date that does not parse")
        return out


_XML_DECL_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[A-Za-z0-9_.:-]+\2""")
#: What expat reads itself; anything else (GBK, Big5, Shift-JIS...) is transcoded first.
_EXPAT_CODECS = {"utf-8", "utf_8", "ascii", "latin-1", "iso8859-1", "iso-8859-1", "cp1252"}


def _as_utf8(data: bytes, content_type: str | None) -> bytes:
    """The document in UTF-8 with its declaration saying so, if it declared something else.

    expat (under defusedxml and feedparser) refuses multi-byte legacy encodings ("multi-byte
    encodings are not supported"), so a GBK feed is decoded the WHATWG way (gbk read as
    gb18030) and re-encoded. UTF-16 (with its BOM) and UTF-8 pass unchanged.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data
    for codec in declared_codecs(data, content_type):
        if codec.replace("_", "-") in _EXPAT_CODECS or codec.startswith(("utf-16", "utf_16")):
            return data
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        return _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", text.encode("utf-8"), count=1)
    return data


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_document(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched feed or sitemap; raises :class:`NotAFeed` with the reason."""
    data = body.lstrip(b"\xef\xbb\xbf").lstrip()
    if not data:
        raise NotAFeed("not a feed: the document is empty")
    mtype = _media_type(content_type)
    if data[:1] == b"{" or mtype in ("application/feed+json", "application/json"):
        return _parse_json_feed(data, url)
    if _HTML_START.match(data[:4096]) or (mtype == "text/html" and not data.startswith(b"<?xml")):
        raise NotAFeed("not a feed: the URL serves an HTML page", html=True)
    utf8 = _as_utf8(data, content_type)
    if utf8 is not data:  # transcoded: the HTTP charset no longer applies
        data, content_type = utf8, f"{mtype or 'application/xml'}; charset=utf-8"
    if _ENTITY_DECL.search(data[:65536]):
        raise NotAFeed(
            "refused: the document declares XML entities (entity expansion and external "
            "entities are never processed)"
        )
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except EntitiesForbidden:
        raise NotAFeed(
            "refused: the document declares XML entities (entity expansion and external "
            "entities are never processed)"
        ) from None
    except (ExternalReferenceForbidden, DTDForbidden):
        raise NotAFeed("refused: the document references an external DTD or entity") from None
    except ValueError as exc:  # an encoding expat cannot read (defusedxml's errors first)
        raise NotAFeed(f"not a feed: unreadable XML ({exc})") from None
    except ET.ParseError as exc:
        root = None
        broken = str(exc)
    if root is None:
        # Broken XML: feedparser's lenient parser still reads many real feeds.
        return _parse_feed(data, url, content_type, broken=broken)
    name = root.tag.rsplit("}", 1)[-1].lower()
    if name == "urlset":
        return _parse_sitemap(root, url)
    if name == "sitemapindex":
        return _parse_sitemap_index(root, url)
    if name in ("rss", "rdf", "feed", "channel"):
        return _parse_feed(data, url, content_type)
    if name == "html":
        raise NotAFeed("not a feed: the URL serves an HTML page", html=True)
    raise NotAFeed(f"not a feed or sitemap: the XML document is a <{name[:40]}>")


def _parse_feed(
    data: bytes, url: str, content_type: str | None, broken: str | None = None
) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    with warnings.catch_warnings():
        # feedparser warns when updated_parsed falls back to published_parsed (issue 310).
        warnings.simplefilter("ignore", DeprecationWarning)
        return _read_feed(data, url, headers, broken)


def _read_feed(data: bytes, url: str, headers: dict[str, str], broken: str | None) -> ParsedFeed:
    parsed: Any = feedparser.parse(
        data, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    version = str(parsed.get("version") or "")
    if not version and not parsed.entries:
        detail = f" ({broken})" if broken else ""
        raise NotAFeed(
            f"not a feed: the document is neither RSS, Atom, JSON Feed nor a sitemap{detail}"
        )
    kind: Kind = "atom" if version.startswith("atom") else "rss"
    feed = parsed.feed
    items = _Items()
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            # A GUID that is a permalink is the link (RSS 2.0 isPermaLink).
            guid = entry.get("id")
            link = (
                guid if isinstance(guid, str) and guid.startswith(("http://", "https://")) else None
            )
        raw_date = entry.get("published_parsed") or entry.get("updated_parsed")
        had_date = bool(entry.get("published") or entry.get("updated"))
        items.add(
            _http_url(url, link),
            entry.get("id"),
            entry.get("title"),
            _from_struct(raw_date),
            had_date,
        )
    ttl = None
    with_ttl = feed.get("ttl")
    if isinstance(with_ttl, str) and with_ttl.strip().isdigit():
        ttl = float(with_ttl.strip()) * 60
    notes = items.notes()
    if broken:
        notes.insert(0, f"malformed XML read leniently ({broken})")
    return ParsedFeed(
        kind=kind,
        title=_clean(feed.get("title")),
        link=_http_url(url, feed.get("link")),
        language=_clean(feed.get("language"), 20),
        items=items.items,
        ttl=ttl,
        notes=notes,
    )


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise NotAFeed(f"not a feed: invalid JSON ({str(exc)[:120]})") from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        raise NotAFeed("not a feed: JSON without a JSON Feed version")
    entries = doc.get("items")
    items = _Items()
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            items.no_link += 1
            continue
        link = entry.get("url") or entry.get("external_url")
        raw_date = entry.get("date_published") or entry.get("date_modified")
        ident = entry.get("id")
        items.add(
            _http_url(url, link),
            str(ident) if ident is not None else None,
            entry.get("title"),
            _from_iso(raw_date),
            raw_date is not None,
        )
    return ParsedFeed(
        kind="json",
        title=_clean(doc.get("title")),
        link=_http_url(url, doc.get("home_page_url")),
        language=_clean(doc.get("language"), 20),
        items=items.items,
        notes=items.notes(),
    )


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _newest_first(pairs: list[tuple[datetime | None, Any]]) -> list[Any]:
    floor = datetime.min.replace(tzinfo=UTC)
    return [v for _, v in sorted(pairs, key=lambda p: p[0] or floor, reverse=True)]


def _parse_sitemap(root: ET.Element, url: str) -> ParsedFeed:
    items = _Items()
    dated: list[tuple[datetime | None, FeedItem]] = []
    news = False
    publication: str | None = None
    language: str | None = None
    for node in root.iter(f"{{{_SITEMAP_NS}}}url"):
        loc = _text(node.find(f"{{{_SITEMAP_NS}}}loc"))
        raw_date = _text(node.find(f"{{{_SITEMAP_NS}}}lastmod"))
        title = None
        article = node.find(f"{{{_NEWS_NS}}}news")
        if article is not None:
            news = True
            title = _text(article.find(f"{{{_NEWS_NS}}}title"))
            raw_date = _text(article.find(f"{{{_NEWS_NS}}}publication_date")) or raw_date
            pub = article.find(f"{{{_NEWS_NS}}}publication")
            if pub is not None:
                publication = publication or _text(pub.find(f"{{{_NEWS_NS}}}name"))
                language = language or _text(pub.find(f"{{{_NEWS_NS}}}language"))
        before = len(items.items)
        items.add(_http_url(url, loc), None, title, _from_iso(raw_date), raw_date is not None)
        if len(items.items) > before:
            dated.append((items.items[-1].published, items.items[-1]))
    if not dated and not items.no_link and root.find(f"{{{_SITEMAP_NS}}}url") is None:
        # A <urlset> in no namespace or another one: still read its <url><loc>.
        for node in root.iter():
            if node.tag.rsplit("}", 1)[-1] == "loc":
                before = len(items.items)
                items.add(_http_url(url, _text(node)), None, None, None, False)
                if len(items.items) > before:
                    dated.append((None, items.items[-1]))
    return ParsedFeed(
        kind="news_sitemap" if news else "sitemap",
        title=_clean(publication),
        language=_clean(language, 20),
        items=_newest_first(dated),
        notes=items.notes(),
    )


def _parse_sitemap_index(root: ET.Element, url: str) -> ParsedFeed:
    children: list[tuple[datetime | None, str]] = []
    seen: set[str] = set()
    for node in root.iter():
        if node.tag.rsplit("}", 1)[-1] != "sitemap":
            continue
        loc = next((c for c in node if c.tag.rsplit("}", 1)[-1] == "loc"), None)
        mod = next((c for c in node if c.tag.rsplit("}", 1)[-1] == "lastmod"), None)
        child = _http_url(url, _text(loc))
        if child and child not in seen:
            seen.add(child)
            children.append((_from_iso(_text(mod)), child))
    return ParsedFeed(kind="sitemap_index", sitemaps=_newest_first(children))
