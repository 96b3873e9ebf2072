"""The extractor's work: the fetched page of a ``PageFetched`` article to its text.

Only an ``ok`` page goes on (:func:`~newsflow.stages.extraction.extraction_outcome`).
"""

from newsflow.domain.article import Article
from newsflow.domain.contracts import PageFetched
from newsflow.domain.pipeline import Failed, StageOutcome
from newsflow.runtime.worker import StageContext
from newsflow.stages.extraction import PAGE_MISSING, ExtractorPool, extraction_outcome
from newsflow.stages.feeds import apply_hints


async def extract(
    ctx: StageContext[ExtractorPool], article: Article, message: PageFetched
) -> StageOutcome:
    page = await ctx.store.load_page(article.id)
    if page is None or page[0] != article.generation:
        return Failed(PAGE_MISSING)
    result = await ctx.resources.extract(page[1], article.fetched_url)
    # An item of a source: the feed's title and publish time where the page has none.
    hints = article.hints.model_dump() if article.hints else None
    return extraction_outcome(apply_hints(result, hints))
