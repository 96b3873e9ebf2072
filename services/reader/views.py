"""Plain logic of the reader: article documents into what the API and the pages show.

Nothing here knows FastAPI: queries, cursors and views are built from plain dicts, so they
are unit-tested without a server.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from newsflow.domain.contracts import AnalysisResult, ExtractionResult, FetchResult, TranslationResult
from newsflow.domain.stories import StoryLink, StorySummary
from newsflow.domain.urls import short_id
from newsflow.adapters.votes import counts

STAGES: tuple[tuple[str, str, str], ...] = (
    # (stage name in the API, field on the document, its time in ``times``)
    ("fetch", "fetch", "fetched_at"),
    ("extraction", "extraction", "extracted_at"),
    ("translation", "translation", "translated_at"),
    ("analysis", "analysis", "analyzed_at"),
)
_FAILED_STAGE = {"fetched": "fetch", "extracted": "extraction", "translated": "translation",
                 "analyzed": "analysis"}
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
FINAL_STATUSES = ("analyzed", "failed")


class BadCursor(ValueError):
    """A pagination cursor that this reader did not make."""


# --- small helpers -----------------------------------------------------------------------------


def is_http_url(url: object) -> bool:
    """True for an absolute http(s) URL with a host: the only links the pages show."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def lang_tag(value: object) -> str | None:
    """A safe value for an HTML ``lang`` attribute, or None."""
    if isinstance(value, str) and _LANG_TAG.match(value):
        return value
    return None


def export_category(category: str | None) -> str | None:
    """The category as exported to other systems: its topic without the language.

    ``zh_news`` -> ``news``, ``en_crypto`` -> ``crypto`` (see ``newsflow.stages.analysis.category``).
    """
    if not category:
        return None
    return category.split("_", 1)[1] if "_" in category else category


def _safe(model: type[BaseModel], data: object) -> Any:
    """``data`` validated as ``model``, or None when a stored sub-document does not fit."""
    if not isinstance(data, dict):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _sub(doc: dict[str, Any], field: str) -> dict[str, Any]:
    """A stage's sub-document, or an empty one when it is missing or not a document."""
    value = doc.get(field)
    return value if isinstance(value, dict) else {}


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def titles(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    """(title shown, original title): the translation's title first when there is one."""
    ex = _sub(doc, "extraction")
    tr = _sub(doc, "translation")
    original = ex.get("title") or None
    if tr.get("status") == "translated" and tr.get("title"):
        return tr["title"], original
    return original, None


def failure_of(doc: dict[str, Any]) -> dict[str, Any] | None:
    failure = doc.get("failure")
    if doc.get("status") != "failed" or not isinstance(failure, dict):
        return None
    return {"stage": failure.get("stage"), "reason": failure.get("reason"),
            "at": _aware(failure.get("at"))}


# --- API shapes --------------------------------------------------------------------------------


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What the list (API and page) shows of an article."""
    ex = _sub(doc, "extraction")
    an = _sub(doc, "analysis")
    title, original = titles(doc)
    return {
        "id": doc["_id"],
        "short_id": doc.get("short_id") or short_id(doc["_id"]),
        "url": doc.get("url") or "",
        "source": ex.get("site_name") or doc.get("source") or "",
        "status": doc.get("status") or "queued",
        "title": title,
        "original_title": original,
        "language": ex.get("language"),
        "published": _aware(ex.get("published")),
        "created_at": _aware(doc.get("created_at")),
        "updated_at": _aware(doc.get("updated_at")),
        "symbols": [s for s in an.get("symbols") or [] if isinstance(s, str)],
        "category": an.get("category"),
        "votes": counts(doc),
        "failure": failure_of(doc),
        "story": _safe(StoryLink, doc.get("story")),
    }


def detail(doc: dict[str, Any]) -> dict[str, Any]:
    """The whole article as the API returns it (internal bookkeeping left out)."""
    out = summary(doc)
    times = doc.get("times") if isinstance(doc.get("times"), dict) else {}
    out.update(
        submitted_url=doc.get("submitted_url"),
        generation=int(doc.get("generation") or 1),
        export_category=export_category(out["category"]),
        times={k: v for k, v in ((k, _aware(v)) for k, v in times.items()) if v is not None},
        fetch=_safe(FetchResult, doc.get("fetch")),
        extraction=_safe(ExtractionResult, doc.get("extraction")),
        translation=_safe(TranslationResult, doc.get("translation")),
        analysis=_safe(AnalysisResult, doc.get("analysis")),
    )
    return out


def _stage_detail(stage: str, result: dict[str, Any]) -> str | None:
    status = result.get("status")
    if stage == "analysis":
        impact = result.get("impact")
        if isinstance(impact, dict) and impact.get("status"):
            return f"{status}; impact {impact['status']}"
    if result.get("error"):
        return f"{status}: {result['error']}"
    return str(status) if status else None


def pipeline_status(doc: dict[str, Any]) -> dict[str, Any]:
    """Where the article is in each stage: done, pending, failed or skipped."""
    failure = failure_of(doc)
    failed_stage = _FAILED_STAGE.get(str((failure or {}).get("stage")))
    times = doc.get("times") if isinstance(doc.get("times"), dict) else {}
    stages: list[dict[str, Any]] = []
    stopped = False
    for name, field, time_key in STAGES:
        result = doc.get(field) if isinstance(doc.get(field), dict) else None
        if failed_stage == name:
            state, detail_ = "failed", (failure or {}).get("reason")
            at = (failure or {}).get("at")
            stopped = True
        elif stopped:
            state, detail_, at = "skipped", "an earlier stage failed", None
        elif result is not None and _aware(times.get(time_key)) is not None:
            state, detail_, at = "done", _stage_detail(name, result), _aware(times.get(time_key))
        else:
            state, detail_, at = "pending", None, None
        stages.append({"stage": name, "state": state, "at": at, "detail": detail_})
    return {
        "id": doc["_id"],
        "short_id": doc.get("short_id") or short_id(doc["_id"]),
        "status": doc.get("status") or "queued",
        "generation": int(doc.get("generation") or 1),
        "stages": stages,
        "failure": failure,
    }


# --- listing -----------------------------------------------------------------------------------


def list_query(
    *, status: str | None = None, symbol: str | None = None, category: str | None = None,
    language: str | None = None, source: str | None = None, stories: bool = False,
) -> dict[str, Any]:
    """The MongoDB filter of the article list (plain equality: user text is never a pattern).

    ``stories``: one row per story, its first article (copies that joined an earlier
    article's story are left out; articles not placed yet are shown).
    """
    query: dict[str, Any] = {}
    if stories:
        query["story.first"] = {"$ne": False}
    if status:
        query["status"] = status
    if symbol:
        query["analysis.symbols"] = symbol.strip().upper()
    if category:
        query["analysis.category"] = category.strip()
    if language:
        query["extraction.language"] = language.strip()
    if source:
        query["source"] = source.strip().lower()
    return query


def encode_cursor(doc: dict[str, Any]) -> str:
    """An opaque cursor after ``doc`` in (created_at, _id) descending order."""
    created = _aware(doc.get("created_at")) or datetime.fromtimestamp(0, UTC)
    raw = json.dumps({"t": created.isoformat(), "id": doc["_id"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The MongoDB filter for the page after ``cursor``; :class:`BadCursor` if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        created = datetime.fromisoformat(data["t"])
        aid = data["id"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise BadCursor("cursor is not one this API returned (pass next_cursor as it is)") from None
    if not isinstance(aid, str) or created.tzinfo is None:
        raise BadCursor("cursor is not one this API returned (pass next_cursor as it is)")
    return {"$or": [{"created_at": {"$lt": created}},
                    {"created_at": created, "_id": {"$lt": aid}}]}


def also_reported(item: dict[str, Any], story: StorySummary | None) -> dict[str, Any] | None:
    """"Also reported by": the other sources and copies of a listed article's story."""
    if story is None or story.members <= 1:
        return None
    others = [name for name in story.sources if name != item.get("source") and name != item.get("host")]
    return {"story_id": story.id, "copies": story.members - 1, "sources": others}


# --- the article page --------------------------------------------------------------------------


def paragraphs(text: str | None) -> list[str]:
    """The text's paragraphs (non-empty lines), for ``<p>`` elements."""
    return [p.strip() for p in (text or "").splitlines() if p.strip()]


def page_view(doc: dict[str, Any]) -> dict[str, Any]:
    """Everything the article page shows, in the order it shows it."""
    view = detail(doc)
    ex = _sub(doc, "extraction")
    tr = _sub(doc, "translation")
    an = _sub(doc, "analysis")
    impact = an.get("impact") if isinstance(an.get("impact"), dict) else None
    translated = tr.get("status") == "translated"
    source_lang = lang_tag(ex.get("language")) or lang_tag(tr.get("source_language"))
    view.update(
        original_lang=source_lang,
        target_lang=lang_tag(tr.get("target_language")) or "en",
        translated=translated,
        translation_status=tr.get("status"),
        translation_provider=tr.get("provider"),
        translation_model=tr.get("model"),
        translation_error=tr.get("error"),
        text=paragraphs(tr.get("text") if translated else ex.get("text")),
        original_text=paragraphs(ex.get("text")) if translated else [],
        word_count=int(ex.get("word_count") or an.get("word_count") or 0),
        extraction_method=ex.get("method") or "trafilatura",
        extraction_status=ex.get("status"),
        author=ex.get("author"),
        impact=impact,
        impact_pending=doc.get("status") not in FINAL_STATUSES,
        similar=[
            {"id": str(s["id"]), "title": s.get("title"), "published": _aware(s.get("published")),
             "score": float(s.get("score") or 0.0),
             "shared": [str(t) for t in s.get("shared") or []]}
            for s in an.get("similar") or [] if isinstance(s, dict) and s.get("id")
        ],
        link=doc.get("url") if is_http_url(doc.get("url")) else None,
        final=doc.get("status") in FINAL_STATUSES,
        translation_reused=tr.get("reused") if isinstance(tr.get("reused"), dict) else None,
        translation_usage=tr.get("usage") if isinstance(tr.get("usage"), dict) else None,
    )
    return view
