"""Routing of the pages: the news list and the article page, rendered by the server.

Forms post here (publish, vote, comment, log in) and work without JavaScript; the small
``static/reader.js`` refreshes the list and casts votes in place when scripts run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from newsflow.adapters.store import ArticleFilter, ArticlePage, ArticleStore, BadCursor
from newsflow.domain.contracts import Direction
from newsflow.domain.ranking import View
from newsflow.domain.urls import short_id
from newsflow.domain.votes import VOTE_KINDS, InvalidComment, VoteKind
from newsflow.settings import Settings

from . import views
from .api import announce, publish_urls
from .security import (
    SESSION_COOKIE,
    check_writer,
    client_address,
    cookie_secure,
    is_writer,
    limiter_of,
    new_session,
    too_many_failures,
)
from .voters import check_vote_rate, ensure_voter, voter_of

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
#: Article pages with more text than this (characters) are rendered in a thread.
INLINE_RENDER_CHARS = 100_000


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


templates.env.filters["when"] = _when
templates.env.filters["langtag"] = lambda v: views.lang_tag(v) or "und"
templates.env.filters["short"] = lambda v: short_id(str(v or ""))


def _ctx(request: Request, **extra: Any) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "token_required": bool(settings.api_token.get_secret_value()),
        "can_write": is_writer(request, settings),
        "refresh_ms": int(settings.reader_refresh_seconds * 1000),
        **extra,
    }


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST (the body limit was applied by the middleware)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise HTTPException(415, "forms must be sent as application/x-www-form-urlencoded")
    try:
        parsed = parse_qs((await request.body()).decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"malformed form: {exc}") from None
    return {k: v[0] for k, v in parsed.items() if v}


async def _require_writer(request: Request) -> None:
    await check_writer(request, "log in with the API token first (/login)")


def _store(request: Request) -> ArticleStore:
    store: ArticleStore = request.app.state.store
    return store


async def _articles(
    request: Request,
    where: ArticleFilter,
    *,
    q: str = "",
    cursor: str | None = None,
    ids: str = "",
) -> tuple[list[dict[str, Any]], str | None]:
    """The listed articles (a search when ``q``) and the next page's cursor; with
    ``where.stories`` one row per story, with who else reported it."""
    store = _store(request)
    try:
        if ids:  # this browser's saved articles, in the order it saved them (newest first)
            wanted = [
                i
                for i in ids.split(",")
                if len(i) == 64 and all(c in "0123456789abcdef" for c in i)
            ][-200:][::-1]
            found = await store.find(wanted)
            page = ArticlePage([found[i] for i in wanted if i in found], None)
        elif q.strip():
            page = await store.search(q, where, limit=PAGE_SIZE, cursor=cursor)
        else:
            page = await store.page(where, limit=PAGE_SIZE, cursor=cursor)
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    summaries = await store.stories.summaries(a.story.id for a in page.items if a.story)
    items = []
    for article in page.items:
        story = summaries.get(article.story.id) if article.story else None
        items.append(views.summary(article) | {"also": views.also_reported(article, story)})
    return items, page.next_cursor


Filter = Annotated[str | None, Query(max_length=40)]
#: A source: a host, or a feed's name (the feeder keeps up to 300 characters of it).
SourceFilter = Annotated[str | None, Query(max_length=300)]


@dataclass(frozen=True)
class ListQuery:
    """The list page's view and filters, from its query string."""

    view: View = "latest"
    symbol: str | None = None
    source: str | None = None
    category: str | None = None
    language: str | None = None
    direction: Direction | None = None
    important: int | None = None
    status: str | None = None
    #: Every article, instead of one row per story (the default).
    all: bool = False
    #: Search words (titles and texts, English and Chinese).
    q: str = ""
    #: The order of the latest view: published (default), received, votes, impact.
    sort: views.Sort = "published"
    #: The page after an earlier one (its ``next_cursor``).
    cursor: str | None = None
    #: Only these articles (comma-separated full ids): this browser's saved articles.
    ids: str = ""

    @property
    def where(self) -> ArticleFilter:
        return ArticleFilter(
            status=self.status,
            symbol=self.symbol,
            category=self.category,
            language=self.language,
            source=self.source,
            direction=self.direction,
            important=self.important,
            view=self.view,
            stories=not self.all and not self.narrowed,
            sort=self.sort,
        )

    @property
    def narrowed(self) -> bool:
        """A filter on what articles say or where they come from (not the status): then every
        matching article is listed. One row per story lists a story under its first article,
        which another source may have written (a source's list came out empty)."""
        return any(getattr(self, k) not in (None, "", 0) for k in views.FILTERS if k != "status")

    def context(self, next_cursor: str | None = None) -> dict[str, Any]:
        filters = {k: getattr(self, k) for k in views.FILTERS}
        listing = views.list_state(self.view, filters, every=self.all)
        listing |= views.list_extras(listing, q=self.q, sort=self.sort, next_cursor=next_cursor)
        return {
            "symbol": self.symbol or "",
            "status": self.status or "",
            "all": self.all,
            "narrowed": self.narrowed,
            "listing": listing,
            "q": self.q,
            "cursor": self.cursor,
            "next_cursor": next_cursor,
            "saved_view": bool(self.ids),
        }


def list_query(
    view: Annotated[View, Query()] = "latest",
    symbol: Filter = None,
    source: SourceFilter = None,
    category: Filter = None,
    language: Filter = None,
    direction: Annotated[Direction | None, Query()] = None,
    important: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    status: Filter = None,
    all: bool = False,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[views.Sort, Query()] = "published",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    ids: Annotated[str, Query(max_length=200 * 65)] = "",
) -> ListQuery:
    """One row per story by default; ``?all=1`` lists every article."""
    return ListQuery(
        view,
        symbol,
        source,
        category,
        language,
        direction,
        important,
        status,
        all,
        q,
        sort,
        cursor,
        ids,
    )


Listing = Annotated[ListQuery, Depends(list_query)]


@router.get("/", response_class=HTMLResponse)
async def news_list(request: Request, q: Listing) -> Response:
    items, next_cursor = await _articles(request, q.where, q=q.q, cursor=q.cursor, ids=q.ids)
    usage = await _store(request).ledger.totals()
    return templates.TemplateResponse(
        request, "list.html", _ctx(request, items=items, usage=usage, **q.context(next_cursor))
    )


@router.get("/partials/articles", response_class=HTMLResponse)
async def news_rows(request: Request, q: Listing) -> Response:
    """The list's rows alone: what the list page fetches to update itself. Carries an ETag
    (a hash of the rows): a poll with ``If-None-Match`` gets an empty 304 when nothing
    changed, and the rows are gzip-compressed for clients that accept it."""
    items, _ = await _articles(request, q.where, q=q.q, cursor=q.cursor, ids=q.ids)
    rendered = templates.get_template("_rows.html").render(
        _ctx(request, items=items, **q.context())
    )
    etag = '"' + hashlib.blake2b(rendered.encode(), digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return HTMLResponse(rendered, headers=headers)


@router.post("/publish", response_class=HTMLResponse)
async def publish_form(request: Request) -> Response:
    await _require_writer(request)
    form = await _form(request)
    # One URL a line, as the form says: a line with a space is one invalid URL, not several.
    urls = [line.strip() for line in form.get("urls", "").splitlines() if line.strip()]
    if not urls:
        raise HTTPException(422, "paste at least one URL")
    published = await publish_urls(request, urls, refresh=form.get("refresh") == "on")
    q = ListQuery()
    items, _ = await _articles(request, q.where)
    usage = await _store(request).ledger.totals()
    return templates.TemplateResponse(
        request,
        "list.html",
        _ctx(request, items=items, published=published, usage=usage, **q.context()),
    )


@router.get("/articles/{ident}", response_class=HTMLResponse)
async def article_page(request: Request, ident: str) -> Response:
    store = _store(request)
    article = await store.get(ident)
    found = await store.comments(article.id, 50)
    story = article.story
    members = [
        m
        for m in (await store.stories.members(story.id, limit=50) if story else [])
        if m.id != article.id
    ]
    ctx = _ctx(
        request,
        comments=found,
        vote_kinds=VOTE_KINDS,
        story_members=members,
        max_comment=request.app.state.settings.reader_max_comment_chars,
    )

    mine = await store.my_votes(article.id, voter) if (voter := await voter_of(request)) else []
    ctx["mine"] = mine

    def render() -> Response:
        return templates.TemplateResponse(
            request, "article.html", {**ctx, "a": views.page_view(article)}
        )

    # An article's text can be megabytes (up to the fetch cap): rendering it is pure Python
    # that would hold the event loop for a tenth of a second and more, so a long one is
    # rendered in a thread and the reader keeps answering meanwhile.
    if views.text_size(article) > INLINE_RENDER_CHARS:
        response = await asyncio.to_thread(render)
    else:
        response = render()
    if voter is None:  # the anonymous signed id its votes are counted under
        await ensure_voter(request, response)
    return response


def _vote_kind(kind: str) -> VoteKind:
    for known in VOTE_KINDS:
        if kind == known:
            return known
    raise HTTPException(422, f"unknown vote {kind[:40]!r}; expected up, down or important")


@router.post("/articles/{ident}/vote")
async def vote_form(request: Request, ident: str) -> Response:
    await _require_writer(request)
    form = await _form(request)
    kind = _vote_kind(form.get("kind", ""))
    await check_vote_rate(request)
    store = _store(request)
    aid = await store.resolve(ident)
    voter = await voter_of(request)
    if voter is None:
        await store.vote(aid, kind)
        counted = True
    else:  # once per person: a second vote of a kind takes it back
        counted = kind in (await store.toggle_vote(aid, voter, kind))[1]
    if counted:
        await announce(request, aid, kind)
    return RedirectResponse(f"/articles/{aid}#votes", status_code=303)


@router.post("/articles/{ident}/comment")
async def comment_form(request: Request, ident: str) -> Response:
    await _require_writer(request)
    form = await _form(request)
    store = _store(request)
    aid = await store.resolve(ident)
    try:
        await store.add_comment(
            aid,
            form.get("text", ""),
            author=form.get("author"),
            max_chars=request.app.state.settings.reader_max_comment_chars,
        )
    except InvalidComment as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse(f"/articles/{aid}#comments", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", _ctx(request, wrong=False))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Forget this browser's session (its cookie); other sessions stay valid until they
    expire or the token changes."""
    settings: Settings = request.app.state.settings
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, settings),
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    token = settings.api_token.get_secret_value()
    form = await _form(request)
    if not token:
        return RedirectResponse("/", status_code=303)
    limiter, address = limiter_of(request), client_address(request)
    if (wait := await limiter.attempt(address)) is not None:
        raise too_many_failures(wait)  # locked: the token is not even compared
    if not hmac.compare_digest(form.get("token", "").encode(), token.encode()):
        return templates.TemplateResponse(
            request, "login.html", _ctx(request, wrong=True), status_code=401
        )
    await limiter.succeeded(address)
    response = RedirectResponse("/", status_code=303)
    # A new random session per login, valid for reader_session_max_age (checked by us too).
    response.set_cookie(
        SESSION_COOKIE,
        new_session(token),
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, settings),
        max_age=settings.reader_session_max_age,
    )
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    """The HTML error page (the API answers JSON instead)."""
    return templates.TemplateResponse(
        request, "error.html", _ctx(request, status=status, message=message), status_code=status
    )


__all__ = ["error_page", "router", "templates"]
