"""An httpx transport whose every connection goes through the vetting backend.

What the fetcher uses for GETs, and what any other client of untrusted URLs (the alert
webhooks' POSTs) uses so that the same SSRF policy holds at connect time.
"""

from __future__ import annotations

import ssl

import httpcore
import httpx

from newsflow.stages.fetching._backend import GuardedBackend


def guarded_transport(
    backend: GuardedBackend, ssl_context: ssl.SSLContext, limits: httpx.Limits
) -> httpx.AsyncHTTPTransport:
    """``httpx.AsyncHTTPTransport`` that connects only through ``backend`` (HTTP/1.1)."""
    transport = httpx.AsyncHTTPTransport(
        verify=ssl_context, trust_env=False, limits=limits, retries=0
    )
    # httpx does not expose httpcore's ``network_backend``; swap the pool for one that
    # uses the vetting backend (same options as httpx's own).
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise TypeError("unsupported httpx version: AsyncHTTPTransport._pool changed")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=backend,
    )
    return transport
