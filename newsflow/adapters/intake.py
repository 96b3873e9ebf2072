"""Submitting URLs: what `newsflow publish` and the HTTP API share.

A submission is checked, canonicalised and looked up: a known article is reported as a
duplicate and not queued again unless ``refresh`` is asked for. Queuing is a plain
``XADD <prefix>:urls * url <url> ...``, the same thing any Redis client can do.

Votes come in here too when they matter downstream: an "important" vote on an analyzed
article puts it on the ``analyzed`` stream again, so alert rules on votes are checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.adapters.streams import ensure_groups
from newsflow.domain.contracts import ArticleAnalyzed, Status, UrlSubmitted
from newsflow.domain.pipeline import ANALYZED, Outcome, Streams
from newsflow.domain.urls import InvalidUrl, article_id, canonical_url, short_id


@dataclass(frozen=True)
class Submission:
    url: str
    outcome: Outcome
    article_id: str | None = None
    canonical_url: str | None = None
    #: Status of the existing article (duplicates), or why the URL was refused (invalid).
    detail: str | None = None

    @property
    def short_id(self) -> str | None:
        return short_id(self.article_id) if self.article_id else None

    @property
    def new(self) -> bool:
        return self.outcome == "queued"


async def submit(
    urls: list[str],
    *,
    redis: Redis,
    store: ArticleStore,
    streams: Streams,
    refresh: bool = False,
    submitted_by: str = "cli",
) -> list[Submission]:
    await ensure_groups(redis, streams)
    results: list[Submission] = []
    seen: set[str] = set()
    for url in urls:
        try:
            canonical = canonical_url(url)
        except InvalidUrl as exc:
            results.append(Submission(url, "invalid", detail=str(exc)))
            continue
        aid = article_id(canonical)
        if aid in seen:
            results.append(Submission(url, "duplicate", aid, canonical, "repeated in this batch"))
            continue
        seen.add(aid)
        status = await store.known_status(aid)
        if status is not None and not refresh:
            # Not queued again, but counted: a resubmission is a report (the hot view's
            # ``reports``), as when the fetcher's intake finds a duplicate.
            await store.resubmitted(aid, submitted_by)
            results.append(Submission(url, "duplicate", aid, canonical, status.value))
            continue
        message = UrlSubmitted(url=url.strip(), refresh=refresh, submitted_by=submitted_by)
        await redis.xadd(streams.urls, message.to_fields())  # type: ignore[arg-type]  # redis-py's stubs want a dict of its broad key/value union
        outcome: Outcome = "refreshed" if status is not None else "queued"
        results.append(Submission(url, outcome, aid, canonical))
    return results


async def announce_vote(
    aid: str, kind: str, *, redis: Redis, store: ArticleStore, streams: Streams
) -> bool:
    """After a vote: an "important" vote on an analyzed article emits ``ArticleAnalyzed``
    again (``trigger="vote"``) for the alert rules on important votes. True when it did."""
    if kind != "important":
        return False
    article = await store.article(aid)
    if article is None or article.status is not Status.ANALYZED:
        return False  # its analysis, when it comes, emits the message with the votes so far
    message = ArticleAnalyzed(
        article_id=aid, generation=article.generation, url=article.url or None, trigger="vote"
    )
    await redis.xadd(streams[ANALYZED], message.to_fields())  # type: ignore[arg-type]  # redis-py's stubs want a dict of its broad key/value union
    return True
