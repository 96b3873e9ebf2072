"""The analyzer's work: symbols, keywords, category, similar earlier articles and the AI
impact of an ``ArticleTranslated`` article, on its English text when it was translated.

A copy in an earlier article's story takes that article's impact analysis (``reused``,
:mod:`newsflow.stages.reuse`); impact answers are cached by content, and a spent daily budget
records ``deferred`` (resumed later).
"""

import asyncio

from newsflow.adapters.embeddings import VectorSearch
from newsflow.adapters.similar_events import SimilarEvents
from newsflow.domain.article import Article
from newsflow.domain.contracts import AnalysisResult, ArticleTranslated, AssetMention, ImpactResult
from newsflow.domain.pipeline import Done, StageOutcome
from newsflow.runtime.worker import StageContext
from newsflow.stages.analysis import analyze_text
from newsflow.stages.feeds import category_with_hint
from newsflow.stages.impact import analyze_impact
from newsflow.stages.reuse import reused_impact, story_source

from .resources import AnalyzerResources


async def analyze(
    ctx: StageContext[AnalyzerResources], article: Article, message: ArticleTranslated
) -> StageOutcome:
    title, text = article.headline, article.text or ""
    original = article.extraction
    found = await asyncio.to_thread(  # CPU-bound: tens of ms, more on huge texts
        analyze_text,
        title=title,
        text=text,
        language=article.language,
        original_title=original.title if original else None,
        original_text=original.text if original else None,
    )
    events = await similar_events(ctx).search(
        article, symbols=found.symbols, keywords=found.keywords
    )
    impact = await impact_from_story(ctx, article)
    if impact is None:
        impact = await analyze_impact(
            title or "",
            text,
            found.symbols,
            ctx.resources.provider,
            ctx.settings,
            ctx.store.ledger,
        )
    return Done(
        AnalysisResult(
            status="ok",
            word_count=found.word_count,
            symbols=found.symbols,
            keywords=found.keywords,
            similar=events.similar,
            impact=impact,
            # An item of a source: its category where the text gives no clear topic.
            category=category_with_hint(
                found.category, article.hints.category if article.hints else None
            ),
            assets=[
                AssetMention(
                    symbol=a.symbol,
                    name=a.name,
                    kind=a.kind,
                    market=a.market,
                    where=a.where,
                    count=a.count,
                    salience=a.salience,
                )
                for a in found.assets
            ],
        ),
        # the article's similar-events index entry, in the same write as the analysis
        fields={"similar_index": events.index_entry} if events.index_entry else {},
    )


def similar_events(ctx: StageContext[AnalyzerResources]) -> SimilarEvents:
    """The finder of similar events: lexical, and semantic when an embeddings provider is
    configured (its vector search kept on the worker's resources, loaded once)."""
    resources = ctx.resources
    if resources.embedder is not None and resources.vectors is None:
        resources.vectors = VectorSearch(ctx.store.similar)
    return SimilarEvents(
        ctx.store.similar, ctx.settings, embedder=resources.embedder, vectors=resources.vectors
    )


async def impact_from_story(
    ctx: StageContext[AnalyzerResources], article: Article
) -> ImpactResult | None:
    """The matched article's impact analysis when this article is a contained copy of it
    (waiting a little while that article is still being analyzed), else None."""
    if ctx.resources.provider is None:
        return None
    found = await story_source(article.story, ctx.settings, ctx.store.article, lambda a: a.analysis)
    if found is None:
        return None
    link, source_id, analysis = found
    result = reused_impact(link, source_id, analysis.impact)
    if result is not None:
        await ctx.store.ledger.count_reused("impact")
    return result
