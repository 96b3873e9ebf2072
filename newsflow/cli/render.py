"""An article as a person reads it, in plain text (``newsflow show``)."""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any

from newsflow.domain.usage import LLMUsage, UsageTotals


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value) if value else "unknown"


def article_text(doc: dict[str, Any]) -> str:
    ex = doc.get("extraction") or {}
    tr = doc.get("translation") or {}
    an = doc.get("analysis") or {}
    fe = doc.get("fetch") or {}
    translated = tr.get("status") == "translated"
    title = (tr.get("title") if translated else None) or ex.get("title") or doc.get("url")
    lines = [title or "", "=" * min(len(title or ""), 80)]
    if translated and ex.get("title"):
        lines.append(f"original title: {ex['title']}")
    lines += [
        f"id:        {doc['short_id']}  ({doc['_id']})",
        f"status:    {doc.get('status')}",
        f"source:    {doc.get('source')}  {doc.get('url')}",
        f"published: {_when(ex.get('published'))}   author: {ex.get('author') or 'unknown'}",
        f"language:  {ex.get('language') or 'unknown'}   category: {an.get('category') or 'unspecified'}",
        f"symbols:   {', '.join(an.get('symbols') or []) or 'unspecified'}",
        f"keywords:  {', '.join(an.get('keywords') or []) or 'none'}",
        f"words:     {an.get('word_count') or ex.get('word_count') or 0}",
    ]
    if failure := doc.get("failure"):
        lines.append(f"FAILED at {failure.get('stage')}: {failure.get('reason')}")
    stages = [
        f"fetch {fe.get('status', '-')} (HTTP {fe.get('http_status', '-')}, {fe.get('encoding') or '-'})",
        f"extraction {ex.get('status', '-')}",
        f"translation {tr.get('status', '-')}"
        + (f" by {tr.get('provider')}/{tr.get('model')}" if tr.get("provider") else "")
        + (f": {tr.get('error')}" if tr.get("error") else ""),
        f"analysis {an.get('status', '-')}",
    ]
    lines.append("stages:    " + "; ".join(stages))
    if story := doc.get("story"):
        lines.append("story:     " + story_line(story))
    for label, result in (("translation", tr), ("impact", an.get("impact") or {})):
        if reused := result.get("reused"):
            lines.append(
                f"{label}: reused from {reused['article_id'][:10]} "
                f"(similarity {reused['similarity']:.2f}, contained {reused['containment']:.2f})"
            )
        elif result.get("usage"):
            lines.append(f"{label}: {usage_line(LLMUsage.model_validate(result['usage']))}")
    impact = an.get("impact") or {}
    if impact.get("status") == "ok" and impact.get("impact"):
        im = impact["impact"]
        lines += [
            "",
            (
                f"AI impact ({impact.get('provider')}/{impact.get('model')}): {im['direction']}, "
                f"confidence {im['confidence']:.2f}, "
                f"symbols {', '.join(im.get('symbols') or []) or '-'}"
            ),
            textwrap.fill(im["summary"], 100),
        ]
    elif impact:
        lines += ["", f"AI impact: {impact.get('status')} ({impact.get('reason') or ''})"]
    if an.get("similar"):
        lines += ["", "Similar earlier articles:"]
        for s in an["similar"]:
            lines.append(
                f"  {s['id'][:10]}  {s.get('title') or ''}  (score {s['score']:.2f}; "
                f"{', '.join(s.get('shared') or [])})"
            )
    text = (tr.get("text") if translated else None) or ex.get("text")
    if text:
        lines += ["", text]
    if translated and ex.get("text"):
        lines += ["", "--- original text ---", ex["text"]]
    return "\n".join(lines)


def story_line(story: dict[str, Any]) -> str:
    """``story 1a2b3c4d5e (first)`` or ``story ... : copy of ... (similarity 0.83, ...)``."""
    head = f"story {story['id'][:10]}"
    if story.get("first"):
        return head + " (first article" + (f"; {story['note']}" if story.get("note") else "") + ")"
    return (
        f"{head}: copy of {str(story.get('matched'))[:10]} (similarity "
        f"{story.get('similarity') or 0:.2f}, contained {story.get('containment') or 0:.2f})"
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
        cost = f"{t.cost:.4f}" + (f" (+{t.unpriced_calls} unpriced calls)" if t.unpriced_calls else "")
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
