"""Routing of the translator: ``TextExtracted`` in, ``ArticleTranslated`` out.

A translation that fails is recorded (``translation.status: failed`` with the error) and the
article still goes on to analysis on its original text: the text is worth analyzing.
"""

from newsflow.domain.contracts import ArticleTranslated, ExtractionResult, Status, TextExtracted
from newsflow.stages.translation import translate_article
from newsflow.runtime.worker import Handler, Worker


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
        result = await translate_article(extraction, w.resources["provider"], w.settings)
        if result.status == "failed":
            await w.count("translation_failed")
        if await w.store.save_stage(aid, gen, Status.TRANSLATED, result.model_dump()):
            await republish()

    return on_text_extracted
