"""Finding a site's feeds: the URL itself, links in the page head, then common paths.

``await discover(fetcher, url)`` fetches through the SSRF-safe fetcher (its address policy,
size cap and deadline), so discovery reaches nothing a page fetch could not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from trafilatura.feeds import FeedParameters, determine_feed

from newsflow.stages.decoding import decode_html
from newsflow.stages.feeds._parse import NotAFeed, ParsedFeed, parse_document
from newsflow.stages.fetching import FetchFailed, PageFetcher

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/feed+json",
        "application/json",
    }
)
#: Paths tried when a page names no feed, in this order.
COMMON_PATHS = (
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed.json",
    "/news-sitemap.xml",
    "/sitemap_news.xml",
    "/sitemap.xml",
)
#: Candidates fetched at most, head links first.
MAX_CANDIDATES = 12


class DiscoveryFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Discovery:
    """The feed found for a URL, with what it says of itself."""

    url: str
    feed: ParsedFeed
    #: Other feeds the page named (not fetched), for the user to add if wanted.
    others: list[str] = field(default_factory=list)


def feed_links(html: str, base_url: str) -> list[str]:
    """Feed URLs a page names: ``<link rel="alternate" type="application/rss+xml">``, else
    what trafilatura's discovery finds (feed-like ``<a href>``). Absolute, in order."""
    found: list[str] = []
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        tree = None
    if tree is not None:
        base = tree.xpath("string(//base/@href)") or base_url
        for link in tree.xpath("//link[@href]"):
            rel = (link.get("rel") or "").lower().split()
            kind = (link.get("type") or "").split(";")[0].strip().lower()
            if "alternate" in rel and kind in FEED_TYPES:
                found.append(urljoin(urljoin(base_url, base), link.get("href").strip()))
    parts = urlsplit(base_url)
    # Without <link> tags, trafilatura's discovery (feed-like <a href>; it also reads the
    # <link> tags, but ignores <base>). A heuristic: a page it cannot read adds nothing.
    if not found:
        with contextlib.suppress(Exception):
            params = FeedParameters(
                f"{parts.scheme}://{parts.netloc}", parts.hostname or "", base_url, False, None
            )
            found += determine_feed(html, params)
    out: list[str] = []
    for url in found:
        if url.startswith(("http://", "https://")) and url not in out and url != base_url:
            out.append(url)
    return out


async def _try(fetcher: PageFetcher, url: str) -> tuple[str, ParsedFeed]:
    doc = await fetcher.fetch_document(url)
    return doc.final_url, parse_document(doc.body, doc.final_url, doc.content_type)


async def discover(fetcher: PageFetcher, url: str) -> Discovery:
    """The feed at ``url``, or the first feed its page leads to; ``DiscoveryFailed`` if none."""
    try:
        doc = await fetcher.fetch_document(url)
    except FetchFailed as exc:
        raise DiscoveryFailed(f"cannot fetch {url}: {exc.reason}") from None
    try:
        return Discovery(doc.final_url, parse_document(doc.body, doc.final_url, doc.content_type))
    except NotAFeed as exc:
        if not exc.html:
            raise DiscoveryFailed(f"{url}: {exc.reason}") from None
    html, _ = decode_html(doc.body, doc.content_type)
    named = feed_links(html, doc.final_url)
    root = f"{urlsplit(doc.final_url).scheme}://{urlsplit(doc.final_url).netloc}"
    candidates = named + [c for c in (root + p for p in COMMON_PATHS) if c not in named]
    tried: list[str] = []
    for candidate in candidates[:MAX_CANDIDATES]:
        try:
            final, feed = await _try(fetcher, candidate)
        except (FetchFailed, NotAFeed) as exc:
            tried.append(f"{candidate}: {exc.reason}")
            continue
        if feed.kind == "sitemap" and not feed.items:
            tried.append(f"{candidate}: an empty sitemap")
            continue
        others = [c for c in named if c not in (candidate, final)]
        return Discovery(final, feed, others)
    where = "it names no feed" if not named else f"none of the {len(named)} feed(s) it names works"
    raise DiscoveryFailed(
        f"no feed found: {url} is an HTML page, {where}, and no common feed path answered "
        f"with a feed ({'; '.join(tried[:4])}{'; ...' if len(tried) > 4 else ''})"
    )
