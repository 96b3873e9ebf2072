"""Article documents as the four stages leave them, for tests of what reads them (alerts,
feeds, views): analyzed, with an impact analysis, votes and times of our choosing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from newsflow.domain.urls import article_id, canonical_url, short_id, source_name

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def analyzed(
    url: str,
    *,
    title: str = "A title",
    original_title: str | None = None,
    symbols: list[str] | None = None,
    direction: str | None = None,
    confidence: float = 0.8,
    summary: str | None = None,
    category: str = "en_markets",
    language: str = "en",
    created: datetime = T0,
    published: datetime | None = None,
    votes: dict[str, int] | None = None,
    submissions: int = 1,
    status: str = "analyzed",
    keywords: list[str] | None = None,
) -> dict[str, Any]:
    """An analyzed article document; ``direction`` adds an impact analysis (else skipped).

    ``original_title`` makes it a translated article (``title`` is then the translation).
    """
    canonical = canonical_url(url)
    aid = article_id(canonical)
    published = published if published is not None else created - timedelta(hours=1)
    translated = original_title is not None
    doc: dict[str, Any] = {
        "_id": aid,
        "short_id": short_id(aid),
        "url": canonical,
        "submitted_url": url,
        "source": source_name(canonical),
        "status": status,
        "progress": 4,
        "generation": 1,
        "created_at": created,
        "updated_at": created,
        "submissions": submissions,
        "times": {"queued_at": created, "analyzed_at": created + timedelta(seconds=4)},
        "votes": {"up": 0, "down": 0, "important": 0, "comments": 0, **(votes or {})},
        "fetch": {"status": "ok", "http_status": 200, "encoding": "utf-8", "attempts": 1},
        "extraction": {
            "status": "ok",
            "title": original_title if translated else title,
            "text": "First paragraph of the story.\nSecond paragraph.",
            "language": language,
            "word_count": 8,
            "method": "trafilatura",
            "published": published,
        },
        "translation": (
            {
                "status": "translated",
                "title": title,
                "text": "First paragraph.\nSecond.",
                "source_language": language,
                "target_language": "en",
                "provider": "stand-in",
            }
            if translated
            else {"status": "not_needed", "target_language": "en", "source_language": language}
        ),
    }
    impact: dict[str, Any] = {"status": "skipped", "reason": "no impact provider configured"}
    if direction is not None:
        impact = {
            "status": "ok",
            "provider": "stand-in",
            "model": "m",
            "impact": {
                "summary": summary or f"{title}: the market reads it as {direction}.",
                "direction": direction,
                "symbols": symbols or [],
                "confidence": confidence,
                "rationale": "",
            },
        }
    doc["analysis"] = {
        "status": "ok",
        "word_count": 8,
        "symbols": symbols or [],
        "keywords": keywords or ["story"],
        "category": category,
        "similar": [],
        "impact": impact,
    }
    return doc
