"""Fetching untrusted article URLs: SSRF-safe, bounded in time and size, decoded to text.

The fetcher worker needs only this::

    fetcher = PageFetcher(settings)          # one per process (one pooled httpx client)
    page = await fetcher.fetch(url)          # FetchedPage, or raises FetchFailed(reason)
    doc = await fetcher.fetch_document(url, {"If-None-Match": etag})   # raw bytes, or 304
    outcome = fetch_outcome(page)            # Done(FetchResult) or Failed(reason, FetchResult)
    await fetcher.aclose()
"""

from newsflow.stages.fetching._errors import FetchFailed
from newsflow.stages.fetching._fetcher import Document, FetchedPage, PageFetcher
from newsflow.stages.fetching._outcome import fetch_outcome
from newsflow.stages.fetching._policy import AddressPolicy, vet_url

__all__ = [
    "AddressPolicy", "Document", "FetchFailed", "FetchedPage", "PageFetcher", "fetch_outcome",
    "vet_url",
]
