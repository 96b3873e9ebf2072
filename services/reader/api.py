"""Routing of the JSON API (``/api/...``): typed bodies in, typed bodies out."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from newsflow.adapters.intake import announce_vote, submit
from newsflow.adapters.store import ArticleFilter, ArticleStore, BadCursor
from newsflow.domain.contracts import Direction, Status
from newsflow.domain.pipeline import Streams
from newsflow.domain.ranking import View
from newsflow.domain.stories import StorySummary
from newsflow.domain.urls import short_id
from newsflow.domain.votes import VOTE_KINDS, InvalidComment
from newsflow.runtime.health import answers
from newsflow.settings import Settings

from . import views
from .models import (
    ArticleDetail,
    ArticleList,
    CommentCreated,
    CommentList,
    CommentRequest,
    ErrorBody,
    Health,
    MyVotes,
    Pipeline,
    PipelineStatus,
    PublishRequest,
    PublishResponse,
    SimilarList,
    StoryDetail,
    VoteRequest,
    VoteResult,
)
from .security import client_label, require_writer
from .voters import check_vote_rate, voter_of

#: Full id (64 hex digits) or a prefix of at least 4, like the short id people see.
Ident = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{4,64}$", description="full or short article id")]
Filter = Annotated[str | None, Query(max_length=200)]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "malformed request or ambiguous id prefix"},
    404: {"model": ErrorBody, "description": "no such article"},
    413: {"model": ErrorBody, "description": "request body too large"},
    422: {"model": ErrorBody, "description": "invalid parameters or body"},
    503: {"model": ErrorBody, "description": "Redis or MongoDB unreachable"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": ErrorBody, "description": "API token missing or wrong"},
    403: {"model": ErrorBody, "description": "cross-site request refused"},
}

router = APIRouter(prefix="/api", responses=ERRORS)


def store_of(request: Request) -> ArticleStore:
    store: ArticleStore = request.app.state.store
    return store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def redis_of(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


async def publish_urls(request: Request, urls: list[str], refresh: bool) -> dict[str, Any]:
    """Submit URLs through the shared intake; what the API and the page's form both do."""
    settings = settings_of(request)
    if len(urls) > settings.reader_max_batch:
        raise HTTPException(
            422, f"{len(urls)} URLs in one call; at most {settings.reader_max_batch} are accepted"
        )
    results = await submit(
        urls,
        redis=redis_of(request),
        store=store_of(request),
        streams=Streams(settings.stream_prefix),
        refresh=refresh,
        submitted_by=client_label(request),
    )
    if results and all(r.outcome == "invalid" for r in results):
        reasons = "; ".join(f"{r.url[:200]!r}: {r.detail}" for r in results[:5])
        raise HTTPException(422, f"no valid URL to publish ({reasons})")
    items = [
        {
            "url": r.url,
            "outcome": r.outcome,
            "new": r.new,
            "article_id": r.article_id,
            "short_id": r.short_id,
            "canonical_url": r.canonical_url,
            "detail": r.detail,
        }
        for r in results
    ]
    return {
        "results": items,
        "queued": sum(r.outcome in ("queued", "refreshed") for r in results),
        "duplicates": sum(r.outcome == "duplicate" for r in results),
        "invalid": sum(r.outcome == "invalid" for r in results),
    }


@router.post(
    "/articles",
    response_model=PublishResponse,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Publish one URL or many",
)
async def publish(body: PublishRequest, request: Request) -> dict[str, Any]:
    """Queue URLs for the pipeline. Each result says whether it was new (``queued``), known
    already (``duplicate``, not queued again unless ``refresh``) or refused (``invalid``)."""
    return await publish_urls(request, body.all_urls(), body.refresh)


@router.get(
    "/articles",
    response_model=ArticleList,
    summary="List articles: newest first, or a view (bullish, bearish, important, hot)",
)
async def list_articles(
    request: Request,
    status: Annotated[Status | None, Query()] = None,
    symbol: Filter = None,
    category: Filter = None,
    language: Filter = None,
    source: Annotated[str | None, Query(max_length=300)] = None,
    direction: Annotated[Direction | None, Query()] = None,
    important: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    view: Annotated[
        View, Query(description="latest, bullish, bearish, important or hot")
    ] = "latest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    stories: Annotated[bool, Query(description="one row per story (its first article)")] = False,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="search words: titles and texts, original and translation "
            "(English and Chinese), every word must match; newest event first",
        ),
    ] = None,
    sort: Annotated[
        views.Sort,
        Query(
            description="order of the latest view: received (default), published, votes, impact",
        ),
    ] = "received",
) -> dict[str, Any]:
    """Filters combine with each other and with the view. ``hot`` ranks the analyzed articles
    of the last ``NEWSFLOW_HOT_WINDOW_HOURS`` by ``(1 + up - down + 2*important + comments +
    reports) / (age_hours + 2) ** 1.5``; the others are newest first."""
    where = ArticleFilter(
        status=status.value if status else None,
        symbol=symbol,
        category=category,
        language=language,
        source=source,
        direction=direction,
        important=important,
        view=view,
        stories=stories,
        sort=sort,
    )
    try:
        if q and q.strip():
            page = await store_of(request).search(q, where, limit=limit, cursor=cursor)
        else:
            page = await store_of(request).page(where, limit=limit, cursor=cursor)
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    return {"items": [views.summary(a) for a in page.items], "next_cursor": page.next_cursor}


@router.get("/articles/{ident}", response_model=ArticleDetail, summary="One article")
async def get_article(ident: Ident, request: Request) -> dict[str, Any]:
    return views.detail(await store_of(request).get(ident))


@router.get(
    "/articles/{ident}/status", response_model=PipelineStatus, summary="Per-stage pipeline status"
)
async def article_status(ident: Ident, request: Request) -> dict[str, Any]:
    return views.pipeline_status(await store_of(request).get(ident))


@router.get(
    "/articles/{ident}/similar",
    response_model=SimilarList,
    summary="Earlier stories similar to this one, with the evidence (shared terms, semantic "
    "similarity)",
)
async def similar(ident: Ident, request: Request) -> dict[str, Any]:
    store = store_of(request)
    article = await store.get(ident)
    found = article.analysis.similar if article.analysis else []
    known = await store.find(s.id for s in found)
    items = []
    for s in found:
        other = known.get(s.id)
        items.append(
            {
                "id": s.id,
                "short_id": short_id(s.id),
                "title": other.title if other else s.title,
                "published": s.published,
                "score": s.score,
                "shared": s.shared,
                "status": other.status.value if other else None,
                "method": s.method,
                "semantic": s.semantic,
                "evidence": s.evidence,
                "story": s.story,
            }
        )
    return {"items": items}


@router.post(
    "/articles/{ident}/votes",
    response_model=VoteResult,
    response_model_exclude_none=True,
    dependencies=[Depends(require_writer)],
    responses={**WRITE_ERRORS, 429: {"model": ErrorBody, "description": "too many votes"}},
    summary="Vote +1 (up), -1 (down) or important",
)
async def vote(ident: Ident, body: VoteRequest, request: Request) -> VoteResult:
    """A browser with a voter cookie (set by the article page) votes once per kind, and a
    second vote of a kind takes it back (``mine`` lists what it holds); a call without one
    (a script with the API token) adds to the tally. Every vote counts against a limit per
    address."""
    await check_vote_rate(request)
    store = store_of(request)
    aid = await store.resolve(ident)
    voter = await voter_of(request)
    if voter is None:
        counts, mine = await store.vote(aid, body.kind), None
    else:
        counts, held = await store.toggle_vote(aid, voter, body.kind)
        mine = [k for k in VOTE_KINDS if k in held]
    if mine is None or body.kind in mine:
        await announce(request, aid, body.kind)
    return VoteResult(**counts.model_dump(), mine=mine)


@router.get(
    "/articles/{ident}/votes/mine",
    response_model=MyVotes,
    summary="The counters, and the votes this browser holds",
)
async def my_votes(ident: Ident, request: Request) -> MyVotes:
    store = store_of(request)
    article = await store.get(ident)
    voter = await voter_of(request)
    held = await store.my_votes(article.id, voter) if voter else []
    return MyVotes(votes=article.votes, mine=[k for k in VOTE_KINDS if k in held])


async def announce(request: Request, aid: str, kind: str) -> None:
    """Tell the alerts about an important vote (what the API and the page's form both do)."""
    await announce_vote(
        aid,
        kind,
        redis=redis_of(request),
        store=store_of(request),
        streams=Streams(settings_of(request).stream_prefix),
    )


@router.get("/articles/{ident}/comments", response_model=CommentList, summary="Comments")
async def comments(
    ident: Ident, request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    store = store_of(request)
    aid = await store.resolve(ident)
    return {"items": await store.comments(aid, limit)}


@router.post(
    "/articles/{ident}/comments",
    response_model=CommentCreated,
    status_code=201,
    dependencies=[Depends(require_writer)],
    responses=WRITE_ERRORS,
    summary="Comment",
)
async def add_comment(ident: Ident, body: CommentRequest, request: Request) -> dict[str, Any]:
    store = store_of(request)
    aid = await store.resolve(ident)
    try:
        comment, counts = await store.add_comment(
            aid,
            body.text,
            author=body.author,
            max_chars=settings_of(request).reader_max_comment_chars,
        )
    except InvalidComment as exc:
        raise HTTPException(422, str(exc)) from None
    return {"comment": comment, "votes": counts}


@router.get("/pipeline", response_model=Pipeline, summary="Articles per status, stage backlogs")
async def pipeline(request: Request) -> dict[str, Any]:
    redis = redis_of(request)
    streams = Streams(settings_of(request).stream_prefix)
    backlog: dict[str, int] = {}
    for service, stream in streams.inputs().items():
        backlog[service] = int(await redis.xlen(stream))
    return {
        "statuses": await store_of(request).status_counts(),
        "backlog": backlog,
        "dead_letters": int(await redis.xlen(streams.dead)),
        "llm_usage": await store_of(request).ledger.totals(),
    }


@router.get(
    "/articles/{ident}/story",
    response_model=StoryDetail,
    summary="The article's story: its summary and its articles (at most 200)",
)
async def get_story(ident: Ident, request: Request) -> dict[str, Any]:
    store = store_of(request)
    article = await store.get(ident)
    story_id = article.story.id if article.story is not None else article.id
    summary = await store.stories.summary(story_id)
    if summary is None:  # not placed yet (still being fetched or extracted): a story of one
        summary = StorySummary(id=story_id, first_article=article.id, sources=[article.source])
    return {"story": summary, "members": await store.stories.members(story_id, limit=200)}


health_router = APIRouter()


#: How long /healthz waits for each store (seconds): a probe must get an answer in time.
HEALTH_TIMEOUT = 3.0


@health_router.get(
    "/healthz",
    response_model=Health,
    summary="Whether MongoDB and Redis answer",
    responses={503: {"model": Health, "description": "MongoDB or Redis does not answer"}},
)
async def healthz(request: Request) -> JSONResponse:
    """200 when MongoDB and Redis both answer within a few seconds, else 503 (load balancers
    and orchestrators read the status code); the body says which one."""
    # Any failure or a timeout means "not answering"; both are asked at once.
    mongo, redis = await asyncio.gather(
        answers(store_of(request).ping, HEALTH_TIMEOUT),
        answers(redis_of(request).ping, HEALTH_TIMEOUT),
    )
    ok = mongo and redis
    return JSONResponse({"ok": ok, "mongo": mongo, "redis": redis}, status_code=200 if ok else 503)
