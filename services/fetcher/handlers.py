"""Routing of the fetcher: ``UrlSubmitted`` in, ``PageFetched`` out."""

from faststream.redis.annotations import RedisStreamMessage

from newsflow.domain.contracts import FetchResult, PageFetched, Status, UrlSubmitted
from newsflow.stages.fetching import FetchFailed, PageFetcher
from newsflow.adapters.store import now
from newsflow.domain.urls import canonical_url
from newsflow.runtime.worker import Handler, Worker


def make_handler(w: Worker) -> Handler:
    async def on_url_submitted(body: UrlSubmitted, message: RedisStreamMessage) -> None:
        # An invalid URL raises InvalidUrl: the delivery guard dead-letters it with the reason.
        canonical = canonical_url(body.url)
        entry_id = message.raw_message["message_ids"][0].decode()
        intake = await w.store.accept(
            canonical=canonical, submitted_url=body.url.strip(), submitted_by=body.submitted_by,
            refresh=body.refresh, entry_id=entry_id,
            # An item of a source: named after the source, with its feed's hints.
            source=body.source, hints=body.hints(),
        )
        if not intake.process:
            await w.count("duplicate")
            return
        aid, gen = intake.article_id, intake.generation
        fetched = PageFetched(article_id=aid, generation=gen, url=canonical)

        async def republish() -> None:
            await w.publish(fetched, w.streams.fetched)

        if await w.claim(aid, gen, Status.FETCHED, republish) is None:
            return
        fetcher: PageFetcher = w.resources["fetcher"]
        try:
            page = await fetcher.fetch(canonical)
        except FetchFailed as exc:
            result = FetchResult(
                status="failed", http_status=exc.http_status, final_url=exc.final_url,
                attempts=exc.attempts, fetched_at=now(), error=exc.reason,
            )
            await w.store.fail(aid, gen, Status.FETCHED, exc.reason, result=result.model_dump())
            await w.count("failed")
            return
        await w.store.save_page(aid, gen, page.html)
        result = FetchResult(
            status="ok", http_status=page.http_status, final_url=page.final_url,
            content_type=page.content_type, encoding=page.encoding, bytes=page.bytes,
            redirects=page.redirects, attempts=page.attempts, fetched_at=now(),
        )
        if await w.store.save_stage(aid, gen, Status.FETCHED, result.model_dump()):
            await republish()

    return on_url_submitted
