"""An article as a person reads it, in plain text (``newsflow show``)."""

from __future__ import annotations

import textwrap
from datetime import datetime

from newsflow.domain.article import Article
from newsflow.domain.stories import StoryLink
from newsflow.domain.urls import short_id
from newsflow.domain.usage import LLMUsage, UsageTotals


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else "unknown"


def _stages(article: Article) -> str:
    fe, ex, tr, an = article.fetch, article.extraction, article.translation, article.analysis
    translation = f"translation {tr.status if tr else '-'}"
    if tr and tr.provider:
        translation += f" by {tr.provider}/{tr.model}"
    if tr and tr.error:
        translation += f": {tr.error}"
    http = fe.http_status if fe and fe.http_status is not None else "-"
    return "; ".join(
        [
            f"fetch {fe.status if fe else '-'} (HTTP {http}, {(fe.encoding if fe else None) or '-'})",
            f"extraction {ex.status if ex else '-'}",
            translation,
            f"analysis {an.status if an else '-'}",
        ]
    )


def article_text(article: Article) -> str:
    ex, an = article.extraction, article.analysis
    title = article.title
    lines = [title, "=" * min(len(title), 80)]
    if article.original_title:
        lines.append(f"original title: {article.original_title}")
    lines += [
        f"id:        {article.short_id}  ({article.id})",
        f"status:    {article.status.value}",
        f"source:    {article.site}  {article.url}",
        f"published: {_when(article.published)}   author: {(ex.author if ex else None) or 'unknown'}",
        f"language:  {article.language or 'unknown'}   category: {article.category or 'unspecified'}",
        f"symbols:   {', '.join(article.symbols) or 'unspecified'}",
        f"keywords:  {', '.join(article.keywords) or 'none'}",
        f"words:     {article.word_count}",
    ]
    if article.failure_text:
        lines.append(article.failure_text)
    lines.append("stages:    " + _stages(article))
    if article.story is not None:
        lines.append("story:     " + story_line(article.story))
    for label, result in (
        ("translation", article.translation),
        ("impact", an.impact if an else None),
    ):
        if result is None:
            continue
        if result.reused is not None:
            reused = result.reused
            lines.append(
                f"{label}: reused from {short_id(reused.article_id)} "
                f"(similarity {reused.similarity:.2f}, contained {reused.containment:.2f})"
            )
        elif result.usage is not None:
            lines.append(f"{label}: {usage_line(result.usage)}")
    impact = an.impact if an else None
    if impact is not None and impact.status == "ok" and impact.impact is not None:
        im = impact.impact
        lines += [
            "",
            (
                f"AI impact ({impact.provider}/{impact.model}): {im.direction}, "
                f"confidence {im.confidence:.2f}, symbols {', '.join(im.symbols) or '-'}"
            ),
            textwrap.fill(im.summary, 100),
        ]
    elif impact is not None:
        lines += ["", f"AI impact: {impact.status} ({impact.reason or ''})"]
    if an and an.similar:
        lines += ["", "Similar earlier articles:"]
        for s in an.similar:
            lines.append(
                f"  {short_id(s.id)}  {s.title or ''}  (score {s.score:.2f}; "
                f"{s.evidence or ', '.join(s.shared)})"
            )
    if article.text:
        lines += ["", article.text]
    if article.original_text:
        lines += ["", "--- original text ---", article.original_text]
    return "\n".join(lines)


def story_line(story: StoryLink) -> str:
    """``story 1a2b3c4d5e (first article)`` or ``story ...: copy of ... (similarity 0.83, ...)``."""
    head = f"story {short_id(story.id)}"
    if story.first:
        return head + " (first article" + (f"; {story.note}" if story.note else "") + ")"
    return (
        f"{head}: copy of {short_id(story.matched or '')} (similarity "
        f"{story.similarity or 0:.2f}, contained {story.containment or 0:.2f})"
    )


def money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4f}"


def usage_line(usage: LLMUsage) -> str:
    """What one result's LLM calls used."""
    return (
        f"{usage.calls} call(s), {usage.cached} cached, {usage.prompt_tokens} + "
        f"{usage.completion_tokens} tokens, {usage.latency_ms} ms, cost {money(usage.cost)} "
        f"({usage.provider}/{usage.model})"
    )


def totals_lines(totals: list[UsageTotals]) -> list[str]:
    """The day's LLM usage per purpose (``newsflow status``)."""
    lines = []
    for t in totals:
        cost = f"{t.cost:.4f}" + (
            f" (+{t.unpriced_calls} unpriced calls)" if t.unpriced_calls else ""
        )
        budget = (
            f", budget {t.budget:,} ({t.remaining:,} left)" if t.budget and t.remaining is not None
            else (f", budget {t.budget:,}" if t.budget else "")
        )  # fmt: skip
        lines.append(
            f"  {t.day} {t.purpose:<11} calls {t.calls}, cached {t.cached}, reused {t.reused}, "
            f"deferred {t.deferred}; tokens {t.prompt_tokens:,} + {t.completion_tokens:,}; "
            f"cost {cost}{budget}"
        )
    return lines
