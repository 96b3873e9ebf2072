"""The analyzer's work: symbols, keywords, category, similar earlier articles and the AI
impact of an ``ArticleTranslated`` article, on its English text when it was translated."""

import asyncio

from newsflow.adapters.providers import ChatProvider
from newsflow.domain.article import Article
from newsflow.domain.contracts import AnalysisResult, ArticleTranslated, AssetMention
from newsflow.domain.pipeline import Done, StageOutcome
from newsflow.runtime.worker import StageContext
from newsflow.stages.analysis import CANDIDATES, analyze_text, rank_similar, terms
from newsflow.stages.feeds import category_with_hint
from newsflow.stages.impact import analyze_impact


async def analyze(
    ctx: StageContext[ChatProvider | None], article: Article, message: ArticleTranslated
) -> StageOutcome:
    title, text = article.headline, article.text or ""
    original = article.extraction
    found = await asyncio.to_thread(  # CPU-bound: tens of ms, more on huge texts
        analyze_text, title=title, text=text, language=article.language,
        original_title=original.title if original else None,
        original_text=original.text if original else None,
    )
    candidates = await ctx.store.similar_candidates(
        article_id=article.id, symbols=terms(found.symbols), keywords=terms(found.keywords),
        before=article.event_time, limit=CANDIDATES,
    )
    similar = rank_similar(candidates, symbols=found.symbols, keywords=found.keywords)
    impact = await analyze_impact(title or "", text, found.symbols, ctx.resources, ctx.settings)
    return Done(
        AnalysisResult(
            status="ok", word_count=found.word_count, symbols=found.symbols,
            keywords=found.keywords, similar=similar, impact=impact,
            # An item of a source: its category where the text gives no clear topic.
            category=category_with_hint(
                found.category, article.hints.category if article.hints else None
            ),
            assets=[
                AssetMention(symbol=a.symbol, name=a.name, kind=a.kind, market=a.market,
                             where=a.where, count=a.count, salience=a.salience)
                for a in found.assets
            ],
        )
    )
