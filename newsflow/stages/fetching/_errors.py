"""Why a fetch failed.

::

    FetchFailed                  raised by PageFetcher.fetch, stored on the article as a reason
    ├── refused=True             policy: scheme, userinfo, port, address (SSRF), content type,
    │                            size, magic bytes; never retried
    └── refused=False            network, timeout, HTTP status, redirects, broken body
"""

from __future__ import annotations

from newsflow.domain.redact import mask_secrets, strip_userinfo


class FetchFailed(Exception):
    """A page could not be fetched; ``reason`` is a human-readable sentence for the article.

    Attributes:
        reason: what went wrong, e.g. ``"HTTP 404 Not Found"``.
        refused: True for a policy refusal (never retried, never worth retrying later).
        http_status: the last HTTP status seen, if any.
        final_url: the last URL tried (after redirects), if any.
        attempts: how many attempts were made.
        retry_after: seconds the server asked to wait (429/503 ``Retry-After``), if it did.
    """

    def __init__(
        self,
        reason: str,
        *,
        refused: bool = False,
        http_status: int | None = None,
        final_url: str | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        # Stored on the article and shown to readers: a redirect may have named a URL with
        # user:password@ (refused, but it is the last URL tried), and an error text may quote
        # one. Neither is kept.
        reason = mask_secrets(reason)
        super().__init__(reason)
        self.reason = reason
        self.refused = refused
        self.http_status = http_status
        self.final_url = strip_userinfo(final_url)
        self.attempts = attempts
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"FetchFailed({self.reason!r}, refused={self.refused}, "
            f"http_status={self.http_status}, attempts={self.attempts})"
        )


class Refused(Exception):
    """Internal: a policy refusal raised deep in the stack (e.g. in the network backend).

    It travels through httpx/httpcore unchanged (they only map their own exceptions) and is
    turned into ``FetchFailed(refused=True)`` by the fetcher.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unresolvable(Exception):
    """Internal: the host name does not exist (permanent DNS failure, not worth retrying)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
