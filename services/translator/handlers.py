"""The translator's work: a ``TextExtracted`` article's title and text into the target language.

A translation that fails is recorded (``translation.status: failed`` with the error) and the
article still goes on to analysis on its original text
(:func:`~newsflow.stages.translation.translation_outcome`).
"""

from newsflow.adapters.providers import ChatProvider
from newsflow.domain.article import Article
from newsflow.domain.contracts import TextExtracted
from newsflow.domain.pipeline import Failed, StageOutcome
from newsflow.runtime.worker import StageContext
from newsflow.stages.translation import translate_article, translation_outcome


async def translate(
    ctx: StageContext[ChatProvider | None], article: Article, message: TextExtracted
) -> StageOutcome:
    if article.extraction is None:
        return Failed("the extraction result is missing or unreadable")
    result = await translate_article(article.extraction, ctx.resources, ctx.settings)
    return translation_outcome(result)
