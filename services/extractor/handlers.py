"""The extractor's work: the fetched page of a ``PageFetched`` article to its text.

Only an ``ok`` page goes on (:func:`~newsflow.stages.extraction.extraction_outcome`). Before
it does, and before any LLM call, its text's near-duplicate fingerprint places it in a story
(:mod:`newsflow.stages.stories`): a copy of an earlier article joins that article's story.
"""

import asyncio
from dataclasses import replace

from newsflow.domain.article import Article
from newsflow.domain.contracts import ExtractionResult, PageFetched
from newsflow.domain.pipeline import Done, Failed, StageOutcome
from newsflow.runtime.worker import StageContext
from newsflow.stages.extraction import PAGE_MISSING, ExtractorPool, extraction_outcome
from newsflow.stages.feeds import apply_hints
from newsflow.stages.stories import fingerprint

TOO_SHORT = "text too short to compare with other articles"


async def extract(
    ctx: StageContext[ExtractorPool], article: Article, message: PageFetched
) -> StageOutcome:
    # The claim loaded the page with the article (the stage reads it); a page stored by an
    # earlier version is in a collection of its own.
    if article.page is not None:
        page: tuple[int, str] | None = (article.page.generation, article.page.html)
    else:
        page = await ctx.store.load_page(article.id)
    if page is None or page[0] != article.generation:
        return Failed(PAGE_MISSING)
    result = await ctx.resources.extract(page[1], article.fetched_url)
    # An item of a source: the feed's title and publish time where the page has none.
    hints = article.hints.model_dump() if article.hints else None
    outcome = extraction_outcome(apply_hints(result, hints))
    if isinstance(outcome, Done) and isinstance(outcome.result, ExtractionResult):
        extracted = outcome.result
        print_ = await asyncio.to_thread(fingerprint, extracted.text or "", extracted.language)
        link = await ctx.store.stories.decide(
            article.id, print_, source=article.source,
            previous=article.story.id if article.story else None,
            note=None if print_ is not None else TOO_SHORT,
        )  # fmt: skip
        # the story link is stored with the extraction, in one write
        return replace(outcome, fields={"story": link})
    return outcome
