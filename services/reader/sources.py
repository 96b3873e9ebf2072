"""Sources in the reader: the JSON API (``/api/sources``) and the ``/sources`` page.

Reads are open; writes (add, pause, resume, remove) need the token when one is set, like
every write of the reader. Adding fetches the URL through the SSRF-safe fetcher to find the
feed (``check``: false adds it as given). Feed titles and errors are untrusted: the page's
template escapes them (Jinja autoescape) and the JSON is plain data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newsflow.adapters.sources import (
    AmbiguousSource,
    SourceNotFound,
    SourceStore,
    display_name,
)
from newsflow.domain.redact import mask_secrets
from newsflow.domain.urls import InvalidUrl, short_id
from newsflow.domain.validation import describe
from newsflow.settings import Settings

from .api import ERRORS, WRITE_ERRORS
from .pages import _ctx, _form, _require_writer, templates
from .security import client_label, require_writer

SourceIdent = Annotated[
    str, Path(pattern=r"^[0-9a-fA-F]{4,64}$", description="full or short source id")
]
Health = Literal["new", "healthy", "failing", "paused"]


class SourceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=8192, examples=["https://example.org/feed.xml"])
    name: str | None = Field(default=None, max_length=300)
    interval: float | None = Field(default=None, ge=1, le=7 * 86400)
    category: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)
    #: Fetch the URL first and find the site's feed; false adds the URL as it is.
    check: bool = True


class SourceView(BaseModel):
    id: str
    short_id: str
    url: str
    name: str
    kind: str | None = None
    title: str | None = None
    category: str | None = None
    language: str | None = None
    interval: float | None = None
    current_interval: float | None = None
    health: Health
    paused: bool
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    items_seen: int = 0
    next_poll: datetime | None = None
    notes: list[str] = []


class SourceAdded(BaseModel):
    source: SourceView
    created: bool
    #: Other feeds the page named, when the URL was a site's page.
    others: list[str] = []


class SourceList(BaseModel):
    sources: list[SourceView]


def health(doc: dict[str, Any]) -> Health:
    if doc.get("paused"):
        return "paused"
    if doc.get("consecutive_failures"):
        return "failing"
    return "new" if doc.get("last_success") is None else "healthy"


def view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "short_id": doc.get("short_id") or short_id(doc["_id"]),
        "url": doc["url"],
        "name": display_name(doc),
        "kind": doc.get("kind"),
        "title": doc.get("title"),
        "category": doc.get("category"),
        "language": doc.get("language"),
        "interval": doc.get("interval"),
        "current_interval": doc.get("current_interval"),
        "health": health(doc),
        "paused": bool(doc.get("paused")),
        "last_poll": doc.get("last_poll"),
        "last_success": doc.get("last_success"),
        "last_error": public_reason(doc.get("last_error")),
        "consecutive_failures": int(doc.get("consecutive_failures") or 0),
        "items_seen": int(doc.get("items_seen") or 0),
        "next_poll": doc.get("next_poll"),
        "notes": [n for n in doc.get("notes") or [] if isinstance(n, str)],
    }


def public_reason(reason: object) -> str | None:
    """A source's last error as anonymous readers may see it. Versions before 2026-11-28
    stored an internal error with the exception's text (which can name internal hosts and
    ports): only its kind is shown."""
    if not reason:
        return None
    text = str(reason)
    if text.startswith("internal error: "):
        return f"internal error ({text.removeprefix('internal error: ').split(':', 1)[0]})"
    return mask_secrets(text)


def store_of(request: Request) -> SourceStore:
    store: SourceStore = request.app.state.sources
    return store


async def _call(coro: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await coro
        return result
    except SourceNotFound as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except AmbiguousSource as exc:
        raise HTTPException(400, str(exc.args[0]) + "; give more digits") from None


async def add_source(
    request: Request, body: SourceRequest
) -> tuple[dict[str, Any], bool, list[str]]:
    """Find the feed (unless ``check`` is off) and add it: what the API and the form share."""
    from newsflow.stages.feeds import DiscoveryFailed, discover
    from newsflow.stages.fetching import PageFetcher

    settings: Settings = request.app.state.settings
    kind = title = None
    target = body.url.strip()
    others: list[str] = []
    if body.check:
        try:
            async with PageFetcher(settings) as fetcher:
                found = await discover(fetcher, target)
        except DiscoveryFailed as exc:
            raise HTTPException(422, exc.reason) from None
        target, kind, title, others = found.url, found.feed.kind, found.feed.title, found.others
    try:
        doc, created = await store_of(request).add(
            target,
            name=body.name,
            interval=body.interval,
            category=body.category,
            language=body.language,
            kind=kind,
            title=title,
            added_by=client_label(request),
        )
    except InvalidUrl as exc:
        raise HTTPException(422, f"invalid URL: {exc}") from None
    return doc, created, others


router = APIRouter(responses=ERRORS)


@router.get("/api/sources", response_model=SourceList, summary="List sources and their health")
async def list_sources(request: Request) -> dict[str, Any]:
    return {"sources": [view(d) for d in await store_of(request).all()]}


@router.get("/api/sources/{ident}", response_model=SourceView, summary="One source")
async def get_source(request: Request, ident: SourceIdent) -> dict[str, Any]:
    return view(await _call(store_of(request).get(ident)))


@router.post(
    "/api/sources",
    response_model=SourceAdded,
    status_code=201,
    dependencies=[Depends(require_writer)],
    summary="Add a source (a feed, a sitemap, or a site)",
    responses=WRITE_ERRORS,
)
async def post_source(request: Request, body: SourceRequest, response: Response) -> dict[str, Any]:
    """A feed or sitemap URL is added as it is; a site's page is searched for its feed.
    An existing source is returned unchanged with ``created: false`` (status 200)."""
    doc, created, others = await add_source(request, body)
    if not created:
        response.status_code = 200
    return {"source": view(doc), "created": created, "others": others}


@router.post(
    "/api/sources/{ident}/pause",
    response_model=SourceView,
    responses=WRITE_ERRORS,
    dependencies=[Depends(require_writer)],
    summary="Stop polling a source",
)
async def pause_source(request: Request, ident: SourceIdent) -> dict[str, Any]:
    return view(await _call(store_of(request).set_paused(ident, True)))


@router.post(
    "/api/sources/{ident}/resume",
    response_model=SourceView,
    responses=WRITE_ERRORS,
    dependencies=[Depends(require_writer)],
    summary="Poll a paused source again",
)
async def resume_source(request: Request, ident: SourceIdent) -> dict[str, Any]:
    return view(await _call(store_of(request).set_paused(ident, False)))


@router.delete(
    "/api/sources/{ident}",
    response_model=SourceView,
    responses=WRITE_ERRORS,
    dependencies=[Depends(require_writer)],
    summary="Remove a source (its articles stay)",
)
async def delete_source(request: Request, ident: SourceIdent) -> dict[str, Any]:
    return view(await _call(store_of(request).remove(ident)))


# --- the page ------------------------------------------------------------------------------------


@router.get("/sources", response_class=HTMLResponse, include_in_schema=False)
async def sources_page(request: Request) -> Response:
    docs = [view(d) for d in await store_of(request).all()]
    return templates.TemplateResponse(request, "sources.html", _ctx(request, sources=docs))


@router.post("/sources", response_class=HTMLResponse, include_in_schema=False)
async def sources_form(request: Request) -> Response:
    await _require_writer(request)
    form = await _form(request)
    try:
        interval = float(form["interval"]) if form.get("interval") else None
    except ValueError:
        raise HTTPException(422, "the interval must be a number of seconds") from None
    if not form.get("url", "").strip():
        raise HTTPException(422, "give the URL of a feed, a sitemap or a site")
    try:
        body = SourceRequest(
            url=form["url"],
            name=form.get("name") or None,
            interval=interval,
            category=form.get("category") or None,
            language=form.get("language") or None,
        )
    except ValidationError as exc:
        details = "; ".join(describe(exc.errors(), whole="form"))
        raise HTTPException(422, f"the form is not valid ({details})") from None
    doc, _, _ = await add_source(request, body)
    return RedirectResponse(f"/sources#s-{short_id(doc['_id'])}", status_code=303)


@router.post("/sources/{ident}/{action}", include_in_schema=False)
async def source_action(request: Request, ident: SourceIdent, action: str) -> Response:
    await _require_writer(request)
    store = store_of(request)
    if action == "pause":
        await _call(store.set_paused(ident, True))
    elif action == "resume":
        await _call(store.set_paused(ident, False))
    elif action == "remove":
        await _call(store.remove(ident))
    else:
        raise HTTPException(404, f"unknown action {action[:20]!r}")
    return RedirectResponse("/sources", status_code=303)
