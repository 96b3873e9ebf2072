"""An article as a person reads it, in plain text (``newsflow show``)."""

from __future__ import annotations

import textwrap
from datetime import datetime

from newsflow.domain.article import Article


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
    return "; ".join([
        f"fetch {fe.status if fe else '-'} (HTTP {http}, {(fe.encoding if fe else None) or '-'})",
        f"extraction {ex.status if ex else '-'}",
        translation,
        f"analysis {an.status if an else '-'}",
    ])


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
                f"  {s.id[:10]}  {s.title or ''}  (score {s.score:.2f}; {', '.join(s.shared)})"
            )
    if article.text:
        lines += ["", article.text]
    if article.original_text:
        lines += ["", "--- original text ---", article.original_text]
    return "\n".join(lines)
