"""Routing of the extractor: ``PageFetched`` in, ``TextExtracted`` out."""

from newsflow.domain.contracts import PageFetched, Status, TextExtracted
from newsflow.stages.extraction import ExtractorPool
from newsflow.stages.feeds import apply_hints
from newsflow.runtime.worker import Handler, Worker


def make_handler(w: Worker) -> Handler:
    async def on_page_fetched(body: PageFetched) -> None:
        aid, gen = body.article_id, body.generation
        extracted = TextExtracted(article_id=aid, generation=gen, url=body.url)

        async def republish() -> None:
            await w.publish(extracted, w.streams.extracted)

        doc = await w.claim(aid, gen, Status.EXTRACTED, republish, url=body.url)
        if doc is None:
            return
        page = await w.store.load_page(aid)
        if page is None or page[0] != gen:
            reason = "the fetched page is missing from the store"
            await w.store.fail(aid, gen, Status.EXTRACTED, reason)
            await w.count("failed")
            return
        pool: ExtractorPool = w.resources["pool"]
        url = (doc.get("fetch") or {}).get("final_url") or doc["url"]
        result = await pool.extract(page[1], url)
        # An item of a source: the feed's title and publish time where the page has none.
        result = apply_hints(result, doc.get("hints"))
        if result.status != "ok":
            detail = result.error or "; ".join(result.evidence) or result.status
            reason = (
                f"extraction failed: {detail}" if result.status == "failed"
                else f"not processed further: page is {result.status} ({detail})"
            )
            await w.store.fail(aid, gen, Status.EXTRACTED, reason, result=result.model_dump())
            await w.count("failed" if result.status == "failed" else result.status)
            return
        if await w.store.save_stage(aid, gen, Status.EXTRACTED, result.model_dump()):
            await republish()

    return on_page_fetched
