"""What a fetch comes to for the article: the stored ``fetch`` result, or the failure."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.domain.contracts import FetchResult
from newsflow.domain.pipeline import Done, Failed, StageOutcome
from newsflow.stages.fetching._errors import FetchFailed
from newsflow.stages.fetching._fetcher import FetchedPage


def fetch_outcome(fetched: FetchedPage | FetchFailed) -> StageOutcome:
    """A fetched page goes on to extraction; a failed fetch stops the article with its reason
    (``HTTP 404 Not Found``, ``refused: 10.0.0.5 is a private address``)."""
    at = datetime.now(UTC)
    if isinstance(fetched, FetchFailed):
        return Failed(
            fetched.reason,
            FetchResult(
                status="failed",
                http_status=fetched.http_status,
                final_url=fetched.final_url,
                attempts=fetched.attempts,
                fetched_at=at,
                error=fetched.reason,
            ),
        )
    return Done(
        FetchResult(
            status="ok",
            http_status=fetched.http_status,
            final_url=fetched.final_url,
            content_type=fetched.content_type,
            encoding=fetched.encoding,
            bytes=fetched.bytes,
            redirects=fetched.redirects,
            attempts=fetched.attempts,
            fetched_at=at,
        ),
        page=fetched.html,
    )
