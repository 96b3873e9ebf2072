"""Wiring of the reader: the FastAPI app, its connections, middleware and error answers.

Every error is a clear 4xx (or 503 when Redis or MongoDB does not answer): JSON
``{"error": {"status", "message", "details"}}`` under ``/api`` and ``/healthz``, an HTML page
elsewhere. Nothing a client sends should reach the generic 500.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from newsflow.adapters.alerts import AlertStore
from newsflow.adapters.redis import connect_redis
from newsflow.adapters.sources import SourceStore
from newsflow.adapters.store import AmbiguousId, ArticleNotFound, ArticleStore
from newsflow.domain.pipeline import Streams
from newsflow.domain.validation import describe
from newsflow.runtime.gauges import refresh_loop
from newsflow.runtime.health import Health, MetricsServer, health_loop
from newsflow.settings import Settings, get_settings

from . import alerts, api, feeds, observe, pages, sources
from .security import GuardMiddleware, allowed_hosts

log = logging.getLogger("newsflow.reader")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api") or path in ("/healthz", "/openapi.json", "/asyncapi.json")


def _json_error(error: Mapping[str, Any]) -> Mapping[str, Any]:
    """FastAPI's error for a body that is not JSON, worded: its location holds the character
    position ("1: JSON decode error")."""
    if error.get("type") != "json_invalid":
        return error
    loc = error.get("loc") or ()
    at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
    why = (error.get("ctx") or {}).get("error")
    return {"loc": (), "msg": f"the body is not valid JSON{at}" + (f": {why}" if why else "")}


def _error(
    request: Request,
    status: int,
    message: str,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _wants_json(request):
        body = {"error": {"status": status, "message": message, "details": details or []}}
        return JSONResponse(body, status_code=status, headers=headers)
    shown = message + ("\n" + "\n".join(details) if details else "")
    response = pages.error_page(request, status, shown)
    if headers:
        response.headers.update(headers)
    return response


async def _backfill_search(store: ArticleStore) -> None:
    """Give articles stored before search their search terms and event time, in batches."""
    try:
        while True:
            if not await store.backfill_search(200):
                return
            await asyncio.sleep(0.05)  # let requests through between batches
    except PyMongoError as exc:
        log.warning("search backfill stopped: %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The reader app; connections open on startup and close on shutdown."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ArticleStore.connect(settings)
        redis = connect_redis(settings)
        app.state.store, app.state.redis = store, redis
        app.state.sources = SourceStore.connect(settings)  # /api/sources, /sources
        app.state.alerts = AlertStore.connect(settings)
        try:
            await store.ensure_indexes()
            await app.state.alerts.ensure_indexes()
        except PyMongoError as exc:  # the pages say so per request until it answers
            log.warning("MongoDB not ready at startup: %s", exc)
        # The gauges of every stream and group (an idle stage's lag included), and the
        # metrics port when one is set (compose scrapes every service there).
        health = Health()
        background = [
            asyncio.create_task(
                refresh_loop(
                    redis,
                    store,
                    Streams(settings.stream_prefix),
                    every=settings.metrics_interval,
                    articles_every=settings.metrics_articles_interval,
                )
            ),
            asyncio.create_task(health_loop(redis.ping, store.ping, health, None)),
            asyncio.create_task(_backfill_search(store)),  # search terms of older articles
        ]
        server = None
        if settings.metrics_port:
            server = MetricsServer(settings.metrics_port, settings.metrics_host, lambda: health)
            server.start()
        yield
        if server is not None:
            server.stop()
        for task in background:
            task.cancel()
        await asyncio.wait(background, timeout=5)
        await redis.aclose()
        store.close()
        app.state.sources.close()
        app.state.alerts.close()

    app = FastAPI(
        title="Newsflow reader",
        version="1",
        summary="Publish article URLs, read the analyzed articles, vote and comment.",
        description=(
            "Write calls (POST) need `Authorization: Bearer <NEWSFLOW_API_TOKEN>` when that "
            'token is set. Errors are JSON: `{"error": {"status", "message", "details"}}`.'
        ),
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    # Compresses what is worth it (the list, its rows, the API); added first, so it runs last.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(
        GuardMiddleware,
        max_body=settings.reader_max_body_bytes,
        allowed_hosts=allowed_hosts(settings),
    )
    if settings.reader_trusted_proxies:
        # Added last, so it runs first: the scheme and client address it takes from a trusted
        # proxy's X-Forwarded-Proto/For are what the guard, the cookie and the login limit see.
        trusted = [
            str(ipaddress.ip_network(p, strict=False)) for p in settings.reader_trusted_proxies
        ]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    # Outermost: every request is counted, those the guard refuses included.
    app.add_middleware(observe.RequestMetrics)
    app.include_router(api.router)
    app.include_router(api.health_router)
    app.include_router(observe.router)
    app.include_router(pages.router)
    app.include_router(sources.router)
    app.include_router(alerts.router)
    app.include_router(alerts.pages_router)
    app.include_router(feeds.router)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = describe(map(_json_error, exc.errors()), whole="body", skip=("body",))
        return _error(request, 422, "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _error(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(ArticleNotFound)
    async def not_found(request: Request, exc: ArticleNotFound) -> Response:
        return _error(request, 404, str(exc.args[0]) if exc.args else "no such article")

    @app.exception_handler(AmbiguousId)
    async def ambiguous(request: Request, exc: AmbiguousId) -> Response:
        return _error(request, 400, str(exc) + "; give more digits")

    @app.exception_handler(PyMongoError)
    async def mongo_down(request: Request, exc: PyMongoError) -> Response:
        log.warning("MongoDB error: %s", exc)
        return _error(request, 503, "MongoDB is not answering; try again shortly")

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> Response:
        log.warning("Redis error: %s", exc)
        return _error(request, 503, "Redis is not answering; try again shortly")

    return app
