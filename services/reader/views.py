"""Plain logic of the reader: an :class:`~newsflow.domain.article.Article` into what the API
and the pages show.

Nothing here knows FastAPI or MongoDB: the values people see (title, word count, failure)
come from the article model, the stages from the declared pipeline; the views only arrange
them, so they are unit-tested without a server.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import BaseModel

from newsflow.domain.article import Article
from newsflow.domain.contracts import AnalysisResult
from newsflow.domain.pipeline import STAGES, TERMINAL
from newsflow.domain.redact import mask_secrets, strip_userinfo
from newsflow.domain.stories import StorySummary

from .display import failure_words, length_words, provider_name, time_shown

_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


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


def _masked(value: str | None) -> str | None:
    return mask_secrets(value) if isinstance(value, str) else value


def shown(article: Article) -> Article:
    """The article with credentials masked in what the pages and the API show of it.

    Reasons are stored without them (see ``docs/security.md``); this also covers documents
    written by earlier versions, which stored a provider's URL and error body as they were.
    Masking is idempotent and cheap: each view applies it.
    """
    update: dict[str, Any] = {}
    if article.failure is not None:
        update["failure"] = article.failure.model_copy(
            update={"reason": _masked(article.failure.reason)}
        )
    if article.fetch is not None:
        update["fetch"] = article.fetch.model_copy(
            update={
                "error": _masked(article.fetch.error),
                "final_url": strip_userinfo(article.fetch.final_url),
                "redirects": [strip_userinfo(r) or "" for r in article.fetch.redirects],
            }
        )
    for field in ("extraction", "translation"):
        result = getattr(article, field)
        if result is not None:
            update[field] = result.model_copy(update={"error": _masked(result.error)})
    analysis = article.analysis
    if analysis is not None and analysis.impact is not None:
        update["analysis"] = analysis.model_copy(
            update={
                "impact": analysis.impact.model_copy(
                    update={"reason": _masked(analysis.impact.reason)}
                )
            }
        )
    return article.model_copy(update=update) if update else article


# --- API shapes --------------------------------------------------------------------------------


def summary(article: Article) -> dict[str, Any]:
    """What the list (API and page) shows of an article."""
    article = shown(article)
    return {
        "id": article.id,
        "short_id": article.short_id,
        "url": article.url,
        "source": article.site,
        "status": article.status.value,
        "title": article.title,
        "original_title": article.original_title,
        "language": article.language,
        "published": article.published,
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "symbols": article.symbols,
        "category": article.category,
        "votes": article.votes,
        "failure": article.failed,
        "failure_text": failure_words(article),
        "event_at": article.event_at or article.event_time,
        "time_kind": time_shown(article)[0],
        "time_at": time_shown(article)[1],
        "confidence": _confidence(article),
        "host": article.host,
        "source_key": article.source,
        "direction": direction_of(article),
        "story": article.story,
    }


def _confidence(article: Article) -> float | None:
    analysis = article.analysis
    impact = analysis.impact.impact if analysis and analysis.impact else None
    return impact.confidence if impact else None


def direction_of(article: Article) -> str | None:
    """The impact analysis's direction (bullish, bearish, neutral), None without one."""
    analysis = article.analysis
    impact = analysis.impact.impact if analysis and analysis.impact else None
    return impact.direction if impact else None


def detail(article: Article) -> dict[str, Any]:
    """The whole article as the API returns it (internal bookkeeping left out)."""
    article = shown(article)
    out = summary(article)
    out.update(
        submitted_url=article.submitted_url,
        generation=article.generation,
        export_category=export_category(article.category),
        times=article.times,
        fetch=article.fetch,
        extraction=article.extraction,
        translation=article.translation,
        analysis=article.analysis,
    )
    return out


def _stage_detail(result: BaseModel) -> str | None:
    status = getattr(result, "status", None)
    if isinstance(result, AnalysisResult) and result.impact is not None:
        return f"{status}; impact {result.impact.status}"
    if error := getattr(result, "error", None):
        return f"{status}: {error}"
    return str(status) if status else None


def pipeline_status(article: Article) -> dict[str, Any]:
    """Where the article is in each stage: done, pending, failed or skipped."""
    article = shown(article)
    failure = article.failed
    failed_stage = failure.stage_name if failure else None
    stages: list[dict[str, Any]] = []
    stopped = False
    for stage in STAGES:
        result = getattr(article, stage.field, None)
        done_at = article.times.get(stage.time_key)
        if failure is not None and failed_stage == stage.field:
            state, detail_, at = "failed", failure.reason, failure.at
            stopped = True
        elif stopped:
            state, detail_, at = "skipped", "an earlier stage failed", None
        elif isinstance(result, BaseModel) and done_at is not None:
            state, detail_, at = "done", _stage_detail(result), done_at
        else:
            state, detail_, at = "pending", None, None
        stages.append({"stage": stage.field, "state": state, "at": at, "detail": detail_})
    return {
        "id": article.id,
        "short_id": article.short_id,
        "status": article.status.value,
        "generation": article.generation,
        "stages": stages,
        "failure": failure,
    }


# --- the article page --------------------------------------------------------------------------


def text_size(article: Article) -> int:
    """Characters of text the article page shows (original and translation)."""
    ex, tr = article.extraction, article.translation
    return sum(len(t) for t in (ex.text if ex else None, tr.text if tr else None) if t)


def paragraphs(text: str | None) -> list[str]:
    """The text's paragraphs (non-empty lines), for ``<p>`` elements."""
    return [p.strip() for p in (text or "").splitlines() if p.strip()]


def page_view(article: Article) -> dict[str, Any]:
    """Everything the article page shows, in the order it shows it."""
    article = shown(article)
    view = detail(article)
    ex, tr, an = article.extraction, article.translation, article.analysis
    final = article.status in TERMINAL
    view.update(
        original_lang=lang_tag(article.language) or lang_tag(tr.source_language if tr else None),
        target_lang=lang_tag(tr.target_language if tr else None) or "en",
        translated=article.translated,
        translation_status=tr.status if tr else None,
        translation_provider=provider_name(tr.provider, tr.model) if tr else None,
        impact_provider=(
            provider_name(an.impact.provider, an.impact.model) if an and an.impact else None
        ),
        length=length_words(article.word_count, article.language),
        translation_model=tr.model if tr else None,
        translation_error=tr.error if tr else None,
        text=paragraphs(article.text),
        original_text=paragraphs(article.original_text),
        word_count=article.word_count,
        extraction_method=(ex.method if ex else None) or "trafilatura",
        extraction_status=ex.status if ex else None,
        author=ex.author if ex else None,
        impact=an.impact if an else None,
        impact_pending=not final,
        similar=an.similar if an else [],
        link=article.url if is_http_url(article.url) else None,
        final=final,
        translation_reused=tr.reused if tr else None,
    )
    return view


# --- list views and filters --------------------------------------------------------------------

#: The filters of the list page, the API and the feeds, in the order they are shown.
FILTERS: tuple[str, ...] = (
    "symbol",
    "source",
    "category",
    "language",
    "direction",
    "important",
    "status",
)
VIEW_LABELS: dict[str, str] = {
    "latest": "Latest",
    "bullish": "Bullish",
    "bearish": "Bearish",
    "important": "Important",
    "hot": "Hot",
}


def list_state(
    view: str, filters: dict[str, str | int | None], *, every: bool = False
) -> dict[str, Any]:
    """The links of the list page for a view and filters: each view with the same filters,
    each filter's removal, the query string the rows' refresh and the feeds carry, and the
    toggle between one row per story and every article (``every``: ``all=1``)."""
    params = {k: str(filters[k]) for k in FILTERS if filters.get(k) not in (None, "")}
    if every:
        params["all"] = "1"

    def href(view_: str, kept: dict[str, str]) -> str:
        query = {**kept, **({"view": view_} if view_ != "latest" else {})}
        return "/?" + urlencode(query) if query else "/"

    query = urlencode({**({"view": view} if view != "latest" else {}), **params})
    return {
        "view": view,
        "views": [
            {"name": v, "label": label, "href": href(v, params), "current": v == view}
            for v, label in VIEW_LABELS.items()
        ],
        "active": [
            {
                "name": k,
                "value": v,
                "remove": href(view, {n: x for n, x in params.items() if n != k}),
            }
            for k, v in params.items()
            if k != "all"
        ],
        "query": query,
        "toggle": href(
            view, {k: v for k, v in params.items() if k != "all"} | ({} if every else {"all": "1"})
        ),
    }


#: The orders of the list page (the latest view): label by name, the default first.
Sort = Literal["published", "received", "votes", "impact"]
SORT_LABELS: dict[str, str] = {
    "published": "newest (published)",
    "received": "newest (received)",
    "votes": "most votes",
    "impact": "strongest impact",
}


def list_extras(
    listing: dict[str, Any], *, q: str, sort: str, next_cursor: str | None
) -> dict[str, Any]:
    """More links of the list page: the heading, this page, the next (older) page, each order,
    the search form's hidden fields, the search's removal; ``query`` gains the order and the
    search (what the rows' refresh carries)."""
    base = dict(parse_qsl(listing["query"]))
    extra = {**({"sort": sort} if sort != "published" else {}), **({"q": q} if q else {})}

    def href(params: dict[str, str]) -> str:
        return "/?" + urlencode(params) if params else "/"

    here = base | extra
    return {
        "label": VIEW_LABELS.get(listing["view"], "Latest") + " news",
        "self": href(here),
        "next": href(here | {"cursor": next_cursor}) if next_cursor else None,
        "sorts": [
            {
                "name": name,
                "label": label,
                "current": name == sort,
                "href": href(
                    base | ({"sort": name} if name != "published" else {}) | ({"q": q} if q else {})
                ),
            }
            for name, label in SORT_LABELS.items()
        ],
        "hidden": sorted((base | ({"sort": sort} if sort != "published" else {})).items()),
        "clear_search": href(base | ({"sort": sort} if sort != "published" else {})),
        "query": urlencode(here),
    }


def also_reported(article: Article, story: StorySummary | None) -> dict[str, Any] | None:
    """ "Also reported by": the other sources and copies of a listed article's story."""
    if story is None or story.members <= 1:
        return None
    others = [name for name in story.sources if name not in (article.source, article.site)]
    return {"story_id": story.id, "copies": story.members - 1, "sources": others}
