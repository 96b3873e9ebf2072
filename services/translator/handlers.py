"""Routing of the translator: ``TextExtracted`` in, ``ArticleTranslated`` out.

A translation that fails is recorded (``translation.status: failed`` with the error) and the
article still goes on to analysis on its original text: the text is worth analyzing. A copy
in an earlier article's story takes that article's translation (``reused``); every chunk sent
is cached by content, and a spent daily budget records ``deferred`` (resumed later).
"""

from newsflow.domain.contracts import (
    ArticleTranslated,
    ExtractionResult,
    Status,
    TextExtracted,
    TranslationResult,
)
from newsflow.domain.stories import StoryLink
from newsflow.runtime.worker import Handler, Worker
from newsflow.stages.reuse import reuse_wait, reused_translation, wait_until
from newsflow.stages.translation import primary_language, translate_article


def make_handler(w: Worker) -> Handler:
    async def on_text_extracted(body: TextExtracted) -> None:
        aid, gen = body.article_id, body.generation
        translated = ArticleTranslated(article_id=aid, generation=gen, url=body.url)

        async def republish() -> None:
            await w.publish(translated, w.streams.translated)

        doc = await w.claim(aid, gen, Status.TRANSLATED, republish, url=body.url)
        if doc is None:
            return
        extraction = ExtractionResult.model_validate(doc["extraction"])
        result = await from_story(w, doc)
        if result is None:
            result = await translate_article(
                extraction, w.resources["provider"], w.settings, w.store.ledger
            )
        if result.status == "failed":
            await w.count("translation_failed")
        if await w.store.save_stage(aid, gen, Status.TRANSLATED, result.model_dump()):
            await republish()

    return on_text_extracted


async def from_story(w: Worker, doc: dict) -> TranslationResult | None:  # type: ignore[type-arg]
    """The matched article's translation when this article is a copy of it (waiting a
    little while that article is still being translated), else None."""
    link = StoryLink.model_validate(doc["story"]) if doc.get("story") else None
    if link is None or link.matched is None:
        return None
    if not link.reusable(w.settings.story_reuse_threshold):
        return None

    async def read() -> dict | None:  # type: ignore[type-arg]
        return await w.store.articles.find_one({"_id": link.matched}, {"translation": 1, "status": 1})

    source = await wait_until(
        read, lambda d: bool(d.get("translation")) or d.get("status") == "failed",
        reuse_wait(w.settings),
    )
    if source is None or not source.get("translation"):
        return None
    target = primary_language(w.settings.target_language) or "en"
    result = reused_translation(
        link, link.matched, TranslationResult.model_validate(source["translation"]), target
    )
    if result is not None:
        await w.store.ledger.count_reused("translation")
    return result
