"""Health of a worker (Redis and MongoDB answer) and the small HTTP server of its metrics.

A worker checks both of its stores every few seconds (:func:`health_loop`): it writes its
heartbeat file only when both answered (``newsflow healthcheck`` reads it), sets
``newsflow_dependency_up`` and keeps the result for ``/healthz``. With
``NEWSFLOW_METRICS_PORT`` set, :class:`MetricsServer` serves on that port:

- ``/metrics``: every series of the process (:mod:`newsflow.metrics`), in the
  Prometheus text format (or OpenMetrics, gzip, as the scraper asks);
- ``/healthz``: ``200 {"ok": true, "redis": true, "mongo": true, "age": 1.2}`` while the last
  check is fresh and both answered, else ``503`` with the same fields (compose's health check
  and orchestrators read the status code).

The server runs in a thread of its own, so a scrape never waits for the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import socketserver
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from newsflow import metrics

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger("newsflow.runtime.health")

#: How often a worker checks Redis and MongoDB (seconds).
CHECK_EVERY = 5.0
#: How long one check may wait for an answer (seconds).
CHECK_TIMEOUT = 3.0
#: A check older than this does not count as healthy (the event loop is stuck).
FRESH_FOR = 30.0


@dataclass
class Health:
    """The last check: which store answered, and when (monotonic seconds)."""

    redis: bool = False
    mongo: bool = False
    checked_at: float | None = None

    @property
    def age(self) -> float | None:
        return None if self.checked_at is None else time.monotonic() - self.checked_at

    @property
    def ok(self) -> bool:
        age = self.age
        return self.redis and self.mongo and age is not None and age < FRESH_FOR

    def report(self) -> dict[str, Any]:
        age = self.age
        return {
            "ok": self.ok,
            "redis": self.redis,
            "mongo": self.mongo,
            "age": None if age is None else round(age, 1),
        }


async def answers(ping: Callable[[], Awaitable[Any]], timeout: float = CHECK_TIMEOUT) -> bool:
    """Whether ``ping`` answers truthfully within ``timeout`` seconds (any error: no)."""
    try:
        return bool(await asyncio.wait_for(ping(), timeout))
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


async def check(
    redis_ping: Callable[[], Awaitable[Any]],
    mongo_ping: Callable[[], Awaitable[Any]],
    health: Health,
    timeout: float = CHECK_TIMEOUT,
) -> Health:
    """Ask both stores at once; update ``health`` and ``newsflow_dependency_up``."""
    redis_ok, mongo_ok = await asyncio.gather(
        answers(redis_ping, timeout), answers(mongo_ping, timeout)
    )
    health.redis, health.mongo, health.checked_at = redis_ok, mongo_ok, time.monotonic()
    metrics.DEPENDENCY_UP.labels("redis").set(1 if redis_ok else 0)
    metrics.DEPENDENCY_UP.labels("mongo").set(1 if mongo_ok else 0)
    return health


async def health_loop(
    redis_ping: Callable[[], Awaitable[Any]],
    mongo_ping: Callable[[], Awaitable[Any]],
    health: Health,
    heartbeat_file: str | None,
    every: float = CHECK_EVERY,
) -> None:
    """Check both stores every ``every`` seconds; touch the heartbeat (if any) only when both
    answer."""
    beat = pathlib.Path(heartbeat_file) if heartbeat_file else None
    task = asyncio.current_task()
    while task is None or not task.cancelling():  # a swallowed cancellation still stops it
        await check(redis_ping, mongo_ping, health)
        if beat is not None and health.redis and health.mongo:
            try:
                beat.write_text(str(time.time()))
            except OSError as exc:
                log.warning("cannot write the heartbeat %s: %s", beat, exc)
        await asyncio.sleep(every)


class _Quiet(WSGIRequestHandler):
    """No access log line per scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def metrics_app(
    health: Callable[[], Health] | None,
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """The WSGI app of the metrics port: ``/metrics`` and ``/healthz``."""
    exposition = make_wsgi_app(metrics.registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            if health is None:
                body, status = {"ok": True, "detail": "no health check in this process"}, "200 OK"
            else:
                state = health()
                body = state.report()
                status = "200 OK" if state.ok else "503 Service Unavailable"
            raw = json.dumps(body).encode()
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))]
            )
            return [raw]
        if path in ("/metrics", "/"):
            return exposition(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics and /healthz are served here\n"]

    return app


class MetricsServer:
    """``/metrics`` and ``/healthz`` on ``host:port``, in a daemon thread.

    ``with MetricsServer(9100, "127.0.0.1", lambda: health): ...``, or start/stop.
    """

    def __init__(
        self, port: int, host: str = "127.0.0.1", health: Callable[[], Health] | None = None
    ) -> None:
        self._server = make_server(
            host, port, metrics_app(health), server_class=_ThreadingServer, handler_class=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="newsflow-metrics",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
