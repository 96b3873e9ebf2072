"""Routing of the analyzer: ``ArticleTranslated`` in, the analysis stored."""

import asyncio

from newsflow.stages.analysis import analyze_text, find_similar
from newsflow.domain.contracts import AnalysisResult, ArticleTranslated, Status
from newsflow.stages.feeds import category_with_hint
from newsflow.stages.impact import analyze_impact
from newsflow.runtime.worker import Handler, Worker


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
        impact = await analyze_impact(
            title or "", text, found.symbols, w.resources["provider"], w.settings
        )
        result = AnalysisResult(
            status="ok", word_count=found.word_count, symbols=found.symbols,
            keywords=found.keywords, similar=similar, impact=impact,
            # An item of a source: its category where the text gives no clear topic.
            category=category_with_hint(found.category, (doc.get("hints") or {}).get("category")),
        )
        await w.store.save_stage(aid, gen, Status.ANALYZED, result.model_dump())

    return on_article_translated
