"""Sources: feeds and sitemaps, parsed safely, discovered, polled politely (no I/O of its own
except through the fetcher it is given).

::

    feed = parse_document(body, url, content_type)     # ParsedFeed, or raises NotAFeed(reason)
    found = await discover(fetcher, "https://example.org/")   # the site's feed
    feeds = parse_opml(data); text = to_opml(feeds)
    interval = next_interval(current, new_items, lo=60, hi=21600)
"""

from newsflow.stages.feeds._discover import (
    COMMON_PATHS,
    Discovery,
    DiscoveryFailed,
    discover,
    feed_links,
)
from newsflow.stages.feeds._hints import apply_hints, category_with_hint
from newsflow.stages.feeds._opml import InvalidOpml, OpmlFeed, parse_opml, to_opml
from newsflow.stages.feeds._parse import FeedItem, Kind, NotAFeed, ParsedFeed, parse_document
from newsflow.stages.feeds._polite import (
    RobotsRules,
    agent_token,
    failure_delay,
    next_interval,
    robots_url,
)

__all__ = [
    "COMMON_PATHS",
    "Discovery",
    "DiscoveryFailed",
    "FeedItem",
    "InvalidOpml",
    "Kind",
    "NotAFeed",
    "OpmlFeed",
    "ParsedFeed",
    "RobotsRules",
    "agent_token",
    "apply_hints",
    "category_with_hint",
    "discover",
    "failure_delay",
    "feed_links",
    "next_interval",
    "parse_document",
    "parse_opml",
    "robots_url",
    "to_opml",
]
