"""Routing of the feeds: RSS 2.0, Atom and JSON Feed of any list the list page shows.

``/feeds/rss.xml``, ``/feeds/atom.xml`` and ``/feeds/feed.json`` take the list page's view
and filters (``?view=bullish&symbol=BTC``...) and list the analyzed articles in it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from newsflow.adapters.store import ArticleStore
from newsflow.domain.article import Article
from newsflow.domain.contracts import Status
from newsflow.settings import Settings

from . import views
from .feed_formats import MEDIA_TYPES, Feed, FeedItem, render
from .pages import ListQuery, list_query

router = APIRouter(prefix="/feeds", tags=["feeds"])


def _documented(kind: str) -> dict[int | str, dict[str, object]]:
    """The answers of a feed route for the OpenAPI document: the feed, or an HTML error page."""
    media = MEDIA_TYPES[kind].split(";")[0]
    schema = (
        {"type": "object", "required": ["version", "title", "items"]}
        if kind == "json"
        else {"type": "string"}
    )
    return {
        200: {"description": "the feed", "content": {media: {"schema": schema}}},
        422: {
            "description": "an unknown view or an invalid filter (an HTML page saying which)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        503: {
            "description": "MongoDB not answering (an HTML page)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    }


Listing = Annotated[ListQuery, Depends(list_query)]
_PATHS = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}


def _base(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _summary(article: Article) -> str:
    analysis = article.analysis
    impact = analysis.impact.impact if analysis and analysis.impact else None
    if impact is not None:
        return impact.summary
    paragraphs = views.paragraphs(article.text)
    return " ".join(paragraphs[:2])[:600]


def _item(article: Article, base: str) -> FeedItem:
    tags = list(article.symbols)
    if (direction := views.direction_of(article)) is not None:
        tags.append(direction)
    if article.category:
        tags.append(article.category)
    return FeedItem(
        id=article.id,
        title=article.title,
        link=f"{base}/articles/{article.id}",
        source_url=article.url,
        summary=_summary(article),
        published=article.event_time or article.updated_at or datetime.now(UTC),
        source=article.site,
        language=article.language,
        tags=tags,
    )


def _title(q: ListQuery) -> str:
    parts = [views.VIEW_LABELS[q.view]] if q.view != "latest" else []
    parts += [f"{k} {getattr(q, k)}" for k in views.FILTERS if getattr(q, k) not in (None, "")]
    if q.q.strip():
        parts.append(f"search {q.q.strip()!r}")
    return "Newsflow" + (": " + ", ".join(parts) if parts else "")


async def _feed(request: Request, q: ListQuery, kind: str) -> Response:
    settings: Settings = request.app.state.settings
    store: ArticleStore = request.app.state.store
    # A feed lists the analyzed news (another status only when asked for).
    # Newest received first, as feed readers expect new items at the top.
    where = replace(q, status=q.status or Status.ANALYZED.value, sort="received").where
    # With search words, the feed of the search (newest event first), as the list shows it.
    words = q.q.strip()
    if words:
        page = await store.search(words, where, limit=settings.feed_items)
    else:
        page = await store.page(where, limit=settings.feed_items)
    base = _base(request, settings)
    state = views.list_state(q.view, {k: getattr(q, k) for k in views.FILTERS})
    # the list page's own query (filters and search words); a feed has no order to keep
    query = views.list_extras(state, q=words, sort="published", next_cursor=None)["query"]
    suffix = f"?{query}" if query else ""
    feed = Feed(
        title=_title(q),
        home_url=f"{base}/{suffix}",
        self_url=f"{base}/feeds/{_PATHS[kind]}{suffix}",
        description="Analyzed news from Newsflow: translated titles and the AI impact analysis.",
        items=[_item(a, base) for a in page.items],
    )
    return Response(render(kind, feed), media_type=MEDIA_TYPES[kind])


@router.get(
    "/rss.xml",
    response_class=Response,
    responses=_documented("rss"),
    summary="RSS 2.0 of the list with these filters",
)
async def rss(request: Request, q: Listing) -> Response:
    return await _feed(request, q, "rss")


@router.get(
    "/atom.xml",
    response_class=Response,
    responses=_documented("atom"),
    summary="Atom of the list with these filters",
)
async def atom(request: Request, q: Listing) -> Response:
    return await _feed(request, q, "atom")


@router.get(
    "/feed.json",
    response_class=Response,
    responses=_documented("json"),
    summary="JSON Feed 1.1 of the list with these filters",
)
async def json_feed(request: Request, q: Listing) -> Response:
    return await _feed(request, q, "json")
