"""Polling one source: robots.txt, the per-host gate, a conditional GET, parsing, publishing.

Every outcome ends on the source document: a success (new items queued, or 304 Not
Modified) sets the next poll from the adaptive interval; a failure records its reason in
words and backs off. Nothing that one source serves can stop the feeder or other sources.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from newsflow import metrics
from newsflow.adapters.sources import (
    HostBusy,
    HostGate,
    SourceStore,
    display_name,
    host_key,
    item_hash,
    now,
)
from newsflow.domain.contracts import UrlSubmitted
from newsflow.domain.pipeline import Streams
from newsflow.domain.redact import public_error
from newsflow.settings import Settings
from newsflow.stages.feeds import (
    FeedItem,
    NotAFeed,
    ParsedFeed,
    RobotsRules,
    failure_delay,
    next_interval,
    parse_document,
    robots_url,
)
from newsflow.stages.fetching import Document, FetchFailed, PageFetcher

log = logging.getLogger("newsflow.feeder")

#: Child sitemaps of a sitemap index read per poll (the newest).
MAX_CHILD_SITEMAPS = 3
#: How long a robots.txt is trusted (seconds).
ROBOTS_TTL = 3600.0
#: Longest Crawl-delay honoured (seconds).
MAX_CRAWL_DELAY = 60.0


class PollFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class Stats:
    """Counters of one replica, added to ``<prefix>:stats`` by the feeder."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n
        metrics.feeder_event(name, n)  # newsflow_feeder_events_total

    def take(self) -> dict[str, int]:
        taken, self.counts = self.counts, {}
        return taken


class Poller:
    def __init__(
        self,
        settings: Settings,
        store: SourceStore,
        redis: Redis,
        fetcher: PageFetcher,
        worker: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.redis = redis
        self.fetcher = fetcher
        self.worker = worker
        self.streams = Streams(settings.stream_prefix)
        # A slot is held at most one fetch deadline (plus a margin) if a replica dies.
        self.gate = HostGate(
            redis,
            settings.stream_prefix,
            concurrency=settings.feed_host_concurrency,
            hold_seconds=settings.fetch_deadline + 5,
        )
        self.robots: dict[str, tuple[float, RobotsRules]] = {}
        self._robots_pending: dict[str, asyncio.Future[RobotsRules]] = {}
        self.stats = Stats()

    # --- the fetches, all through the gate -----------------------------------------------------

    def _spacing(self, host: str) -> float:
        spacing = self.settings.feed_host_interval
        cached = self.robots.get(host)
        if cached is not None and (delay := cached[1].crawl_delay()) is not None:
            spacing = max(spacing, min(delay, MAX_CRAWL_DELAY))
        return spacing

    async def _fetch(self, url: str, headers: dict[str, str] | None = None) -> Document:
        host = host_key(url)
        # Wait for the host at most a quarter of the lease: the rest is for the fetch.
        async with self.gate.slot(host, self._spacing(host), self.settings.feed_lease_seconds / 4):
            self.stats.add("requests")
            return await self.fetcher.fetch_document(url, headers)

    async def _robots(self, url: str) -> RobotsRules:
        host = host_key(url)
        cached = self.robots.get(host)
        if cached is not None and time.monotonic() - cached[0] < ROBOTS_TTL:
            return cached[1]
        # One fetch per host at a time: polls of its other sources wait for that one.
        pending = self._robots_pending.get(host)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[RobotsRules] = asyncio.get_running_loop().create_future()
        self._robots_pending[host] = future
        try:
            rules = await self._fetch_robots(url)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        else:
            future.set_result(rules)
            self.robots[host] = (time.monotonic(), rules)
            return rules
        finally:
            del self._robots_pending[host]

    async def _fetch_robots(self, url: str) -> RobotsRules:
        agent = self.settings.fetch_user_agent
        try:
            doc = await self._fetch(robots_url(url))
        except FetchFailed as exc:
            if exc.http_status is not None and 400 <= exc.http_status < 500:
                return RobotsRules.allow_all(agent)  # RFC 9309: unavailable means allowed
            raise PollFailed(
                f"robots.txt unreachable ({exc.reason}): not polled until it answers",
                exc.retry_after,
            ) from None
        return RobotsRules(doc.body.decode("utf-8", "replace"), agent)

    # --- one poll --------------------------------------------------------------------------------

    async def poll(self, source: dict[str, Any]) -> None:
        """Poll ``source`` (leased by this replica) and record the outcome on it."""
        sid = source["_id"]
        started = time.monotonic()
        try:
            try:
                await self._poll(source)
            except HostBusy as exc:
                # Not the source's fault: try again when the host should be free.
                self.stats.add("deferred")
                await self.store.release(sid, self.worker, now() + timedelta(seconds=exc.wait + 1))
            except PollFailed as exc:
                await self._failed(source, exc.reason, exc.retry_after)
            except Exception as exc:  # one source never stops the others
                # The log has the details; the source (shown to anonymous readers) the kind:
                # an exception's text can name internal hosts and ports.
                log.exception("polling %s failed", source.get("url"))
                await self._failed(source, f"internal error ({public_error(exc)})", None)
        except Exception:  # recording failed (MongoDB away): the lease expires, polled again
            log.exception("cannot record the poll of %s", source.get("url"))
        finally:
            self.stats.add("polls")
            self.stats.add("poll_ms", int((time.monotonic() - started) * 1000))

    async def _poll(self, source: dict[str, Any]) -> None:
        url = source["url"]
        if self.settings.feed_respect_robots and not (await self._robots(url)).allowed(url):
            raise PollFailed(
                "robots.txt of the site disallows fetching this URL for our user agent "
                "(NEWSFLOW_FEED_RESPECT_ROBOTS=false turns the check off, for your own sites)"
            )
        headers: dict[str, str] = {}
        if source.get("etag"):
            headers["If-None-Match"] = source["etag"]
        if source.get("last_modified"):
            headers["If-Modified-Since"] = source["last_modified"]
        try:
            doc = await self._fetch(url, headers)
        except FetchFailed as exc:
            raise PollFailed(exc.reason, exc.retry_after) from None
        if doc.not_modified:
            self.stats.add("not_modified")
            await self._succeeded(
                source, None, 0, not_modified=True, validators=self._validators(doc, source)
            )
            return
        try:
            feed = parse_document(doc.body, doc.final_url, doc.content_type)
        except NotAFeed as exc:
            hint = (
                " (add the site's feed instead: `newsflow sources add` finds it)"
                if exc.html
                else ""
            )
            raise PollFailed(exc.reason + hint) from None
        items, notes = feed.items, list(feed.notes)
        if feed.kind == "sitemap_index":
            items, notes = await self._children(feed)
        seen = await self.store.seen(source["_id"])
        fresh = [(item, h) for item in items if (h := item_hash(item.key)) not in seen]
        limit = self.settings.feed_max_items
        if len(fresh) > limit:
            notes.append(f"{len(fresh)} new items: the first {limit} queued, the rest next poll")
            fresh = fresh[:limit]
        await self._publish(source, feed, [item for item, _ in fresh])
        # Remembered after they are queued: a crash in between queues them again next poll
        # (the intake then reports duplicates), never loses them.
        await self.store.remember(source["_id"], [h for _, h in fresh])
        await self._succeeded(
            source, feed, len(fresh), notes=notes, validators=self._validators(doc, source)
        )

    async def _children(self, index: ParsedFeed) -> tuple[list[FeedItem], list[str]]:
        items: list[FeedItem] = []
        notes: list[str] = []
        for child in index.sitemaps[:MAX_CHILD_SITEMAPS]:
            try:
                doc = await self._fetch(child)
                part = parse_document(doc.body, doc.final_url, doc.content_type)
            except (FetchFailed, NotAFeed) as exc:
                notes.append(f"child sitemap {child}: {exc.reason}")
                continue
            items += part.items
        if not items and notes:
            raise PollFailed(
                "sitemap index: no child sitemap could be read (" + "; ".join(notes[:3]) + ")"
            )
        return items, notes

    @staticmethod
    def _validators(doc: Document, source: dict[str, Any]) -> dict[str, Any]:
        return {
            "etag": doc.etag or (source.get("etag") if doc.not_modified else None),
            "last_modified": doc.last_modified
            or (source.get("last_modified") if doc.not_modified else None),
        }

    async def _publish(
        self, source: dict[str, Any], feed: ParsedFeed, items: list[FeedItem]
    ) -> None:
        if not items:
            return
        name = display_name({**source, "title": feed.title or source.get("title")})
        pipe = self.redis.pipeline(transaction=False)
        for item in items:
            message = UrlSubmitted(
                url=item.url[:8192],
                submitted_by=f"source:{name}"[:300],
                source=name[:300].strip(),
                source_id=source["_id"],
                category=source.get("category"),
                title_hint=item.title,
                published_hint=item.published,
            )
            pipe.xadd(self.streams.urls, message.to_fields())  # type: ignore[arg-type]
        await pipe.execute()
        self.stats.add("published", len(items))

    async def _succeeded(
        self,
        source: dict[str, Any],
        feed: ParsedFeed | None,
        new: int,
        *,
        not_modified: bool = False,
        notes: list[str] | None = None,
        validators: dict[str, Any] | None = None,
    ) -> None:
        s = self.settings
        interval = next_interval(
            float(source.get("current_interval") or s.feed_default_interval),
            new,
            lo=s.feed_min_interval,
            hi=s.feed_max_interval,
            fixed=source.get("interval"),
            ttl=feed.ttl if feed else None,
        )
        ts = now()
        state: dict[str, Any] = {
            "last_poll": ts,
            "last_success": ts,
            "last_error": None,
            "last_error_at": None,
            "consecutive_failures": 0,
            "current_interval": interval,
            "last_new": new,
            "next_poll": ts + timedelta(seconds=interval),
            **(validators or {}),
        }
        if feed is not None:
            state["kind"] = feed.kind
            state["notes"] = (notes or [])[:10]
            if feed.title:
                state["title"] = feed.title
            if feed.language and not source.get("language"):
                state["feed_language"] = feed.language
        if not await self.store.finish(
            source["_id"], self.worker, state, published=new, not_modified=not_modified
        ):
            log.warning("lost the lease on %s before recording its poll", source.get("url"))

    async def _failed(self, source: dict[str, Any], reason: str, retry_after: float | None) -> None:
        s = self.settings
        failures = int(source.get("consecutive_failures") or 0) + 1
        base = float(source.get("interval") or s.feed_min_interval)
        delay = failure_delay(failures, base, hi=s.feed_max_interval, retry_after=retry_after)
        ts = now()
        state = {
            "last_poll": ts,
            "last_error": reason[:1000],
            "last_error_at": ts,
            "next_poll": ts + timedelta(seconds=delay),
            "last_new": 0,
        }
        self.stats.add("failed")
        log.info("source %s failed (%d in a row): %s", source.get("url"), failures, reason)
        if not await self.store.finish(source["_id"], self.worker, state, failed=True):
            log.warning("lost the lease on %s before recording its failure", source.get("url"))
