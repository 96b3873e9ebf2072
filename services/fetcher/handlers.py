"""The fetcher's work: ``UrlSubmitted`` in (the runtime made it an article), the page fetched.

The runtime does the intake, the claim, storing the outcome and publishing ``PageFetched``.
"""

from newsflow import metrics
from newsflow.domain.article import Article
from newsflow.domain.contracts import FetchResult, UrlSubmitted
from newsflow.domain.pipeline import StageOutcome
from newsflow.runtime.worker import StageContext
from newsflow.stages.fetching import FetchFailed, PageFetcher, fetch_outcome


async def fetch(
    ctx: StageContext[PageFetcher], article: Article, message: UrlSubmitted
) -> StageOutcome:
    try:
        page = await ctx.resources.fetch(article.url)
    except FetchFailed as exc:
        failed = fetch_outcome(exc)
        if isinstance(failed.result, FetchResult):
            metrics.fetch_result(failed.result, refused=exc.refused)
        return failed
    done = fetch_outcome(page)  # the page goes with the result: stored in the same write
    if isinstance(done.result, FetchResult):
        metrics.fetch_result(done.result)
    return done
