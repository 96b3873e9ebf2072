"""The translator's work: a ``TextExtracted`` article's title and text into the target language.

A translation that fails is recorded (``translation.status: failed`` with the error) and the
article still goes on to analysis on its original text
(:func:`~newsflow.stages.translation.translation_outcome`). A copy in an earlier article's
story takes that article's translation (``reused``, :mod:`newsflow.stages.reuse`); every chunk
sent is cached by content, and a spent daily budget records ``deferred`` (resumed later).
"""

from newsflow.domain.article import Article
from newsflow.domain.contracts import TextExtracted, TranslationResult
from newsflow.domain.pipeline import Failed, StageOutcome
from newsflow.runtime.deferred import LLMResources
from newsflow.runtime.worker import StageContext
from newsflow.stages.reuse import reused_translation, story_source
from newsflow.stages.translation import primary_language, translate_article, translation_outcome


async def translate(
    ctx: StageContext[LLMResources], article: Article, message: TextExtracted
) -> StageOutcome:
    if article.extraction is None:
        return Failed("the extraction result is missing or unreadable")
    result = await from_story(ctx, article)
    if result is None:
        result = await translate_article(
            article.extraction, ctx.resources.provider, ctx.settings, ctx.store.ledger
        )
    return translation_outcome(result)


async def from_story(ctx: StageContext[LLMResources], article: Article) -> TranslationResult | None:
    """The matched article's translation when this article is a contained copy of it (waiting
    a little while that article is still being translated), else None."""
    if ctx.resources.provider is None:
        return None
    found = await story_source(
        article.story, ctx.settings, ctx.store.article, lambda a: a.translation
    )
    if found is None:
        return None
    target = primary_language(ctx.settings.target_language) or "en"
    result = reused_translation(*found, target)
    if result is not None:
        await ctx.store.ledger.count_reused("translation")
    return result
