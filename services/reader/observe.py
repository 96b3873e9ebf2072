"""What the reader tells operators: Prometheus metrics, request counts, the AsyncAPI document.

- ``/metrics``: every series of the process (:mod:`newsflow.metrics`): the reader's HTTP
  requests by route template and status, the stream, consumer-group and article gauges of
  the whole pipeline (:mod:`newsflow.runtime.gauges`), the process's own.
- ``/asyncapi.json``: the streams, their messages and who consumes and produces each
  (:mod:`newsflow.runtime.asyncapi`, the same document as ``docs/asyncapi.json``).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsflow import metrics

router = APIRouter()

#: Methods counted by name; any other is counted as ``other`` (a label of bounded values).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request that matched no route (404s, refused Host names).
UNMATCHED = "<unmatched>"


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    """The Prometheus text format of every series of this process."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@cache
def _asyncapi() -> dict[str, Any]:
    from newsflow.runtime.asyncapi import document

    return document()


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi() -> JSONResponse:
    """The pipeline's AsyncAPI document: streams, messages, consumers and producers."""
    return JSONResponse(_asyncapi())


class RequestMetrics:
    """Counts and times every HTTP request by method, route template and status code.

    The route is the template FastAPI matched (``/api/articles/{ident}``, never the path with
    an id in it), so the number of series stays bounded.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if nothing is sent (an unhandled error)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope.get("method", "GET")
            metrics.http_request(
                method if method in _METHODS else "other",
                route,
                status,
                time.perf_counter() - started,
            )
