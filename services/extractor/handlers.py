"""Routing of the extractor: ``PageFetched`` in, ``TextExtracted`` out."""

import asyncio

from newsflow.domain.contracts import PageFetched, Status, TextExtracted
from newsflow.stages.stories import fingerprint
from newsflow.stages.extraction import ExtractorPool
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
        if result.status != "ok":
            detail = result.error or "; ".join(result.evidence) or result.status
            reason = (
                f"extraction failed: {detail}" if result.status == "failed"
                else f"not processed further: page is {result.status} ({detail})"
            )
            await w.store.fail(aid, gen, Status.EXTRACTED, reason, result=result.model_dump())
            await w.count("failed" if result.status == "failed" else result.status)
            return
        # Before any LLM call: the article's near-duplicate fingerprint places it in a story.
        print_ = await asyncio.to_thread(fingerprint, result.text or "", result.language)
        note = None if print_ is not None else "text too short to compare with other articles"
        await w.store.stories.place(aid, gen, print_, source=doc.get("source"), note=note)
        if await w.store.save_stage(aid, gen, Status.EXTRACTED, result.model_dump()):
            await republish()

    return on_page_fetched
