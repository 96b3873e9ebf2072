"""Routing of the analyzer: ``ArticleTranslated`` in, the analysis stored.

A copy in an earlier article's story takes that article's impact analysis (``reused``);
impact answers are cached by content, and a spent daily budget records ``deferred``.
"""

import asyncio

from newsflow.domain.contracts import AnalysisResult, ArticleTranslated, ImpactResult, Status
from newsflow.domain.stories import StoryLink
from newsflow.runtime.worker import Handler, Worker
from newsflow.stages.analysis import analyze_text, find_similar
from newsflow.stages.impact import analyze_impact
from newsflow.stages.reuse import reuse_wait, reused_impact, wait_until


def make_handler(w: Worker) -> Handler:
    async def on_article_translated(body: ArticleTranslated) -> None:
        aid, gen = body.article_id, body.generation
        doc = await w.claim(aid, gen, Status.ANALYZED, url=body.url)
        if doc is None:
            return
        extraction = doc.get("extraction") or {}
        translation = doc.get("translation") or {}
        english = translation.get("status") == "translated"
        title = translation.get("title") if english else extraction.get("title")
        text = (translation.get("text") if english else extraction.get("text")) or ""
        found = await asyncio.to_thread(  # CPU-bound: tens of ms, more on huge texts
            analyze_text,
            title=title, text=text,
            language=extraction.get("language"),
            original_title=extraction.get("title"), original_text=extraction.get("text"),
        )
        published = extraction.get("published") or doc.get("created_at")
        similar = await find_similar(
            w.store.articles, article_id=aid, symbols=found.symbols, keywords=found.keywords,
            before=published,
        )
        impact = await impact_from_story(w, doc)
        if impact is None:
            impact = await analyze_impact(
                title or "", text, found.symbols, w.resources["provider"], w.settings,
                w.store.ledger,
            )
        result = AnalysisResult(
            status="ok", word_count=found.word_count, symbols=found.symbols,
            keywords=found.keywords, category=found.category, similar=similar, impact=impact,
        )
        await w.store.save_stage(aid, gen, Status.ANALYZED, result.model_dump())

    return on_article_translated


async def impact_from_story(w: Worker, doc: dict) -> ImpactResult | None:  # type: ignore[type-arg]
    """The matched article's impact analysis when this article is a copy of it, else None."""
    link = StoryLink.model_validate(doc["story"]) if doc.get("story") else None
    if link is None or link.matched is None or w.resources["provider"] is None:
        return None
    if not link.reusable(w.settings.story_reuse_threshold):
        return None

    async def read() -> dict | None:  # type: ignore[type-arg]
        return await w.store.articles.find_one({"_id": link.matched}, {"analysis": 1, "status": 1})

    source = await wait_until(
        read, lambda d: d.get("status") in ("analyzed", "failed"), reuse_wait(w.settings)
    )
    impact = ((source or {}).get("analysis") or {}).get("impact")
    if not impact:
        return None
    result = reused_impact(link, link.matched, ImpactResult.model_validate(impact))
    if result is not None:
        await w.store.ledger.count_reused("impact")
    return result
