"""PageFetcher.fetch_document: the fetcher's policy for feeds, with conditional GET."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from newsflow.settings import Settings
from newsflow.stages.fetching import FetchFailed, PageFetcher
from tests.support.feeds import FeedServer, Route

pytestmark = pytest.mark.integration


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def doc_settings(feeds: FeedServer) -> Settings:
    return Settings(
        fetch_allowed_networks=["127.0.0.0/8"], fetch_allowed_ports=[feeds.port], _env_file=None
    )  # type: ignore[call-arg]


async def test_conditional_headers_go_out_and_304_is_not_modified(
    feeds: FeedServer,
    doc_settings: Settings,
) -> None:
    feeds.routes["/feed"] = Route(b"<rss version='2.0'><channel/></rss>", "application/rss+xml")
    async with PageFetcher(doc_settings) as fetcher:
        first = await fetcher.fetch_document(feeds.url("/feed"))
        assert first.http_status == 200 and first.body.startswith(b"<rss")
        assert first.etag and first.last_modified and not first.not_modified
        second = await fetcher.fetch_document(
            feeds.url("/feed"),
            {"If-None-Match": first.etag, "If-Modified-Since": first.last_modified},
        )
    assert second.not_modified and second.http_status == 304 and second.body == b""
    assert second.etag == first.etag
    sent = feeds.seen("/feed")[1].headers
    assert sent["if-none-match"] == first.etag and sent["if-modified-since"] == first.last_modified
    assert "application/rss+xml" in sent["accept"]


async def test_gzip_sitemap_file_inflated_under_the_cap_and_binary_refused(
    feeds: FeedServer,
    doc_settings: Settings,
) -> None:
    xml = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>'
    feeds.routes["/sitemap.xml.gz"] = Route(gzip.compress(xml), "application/x-gzip")
    bomb = gzip.compress(b"<" + b" " * (20 * 1024 * 1024))
    feeds.routes["/bomb.xml.gz"] = Route(bomb, "application/x-gzip")
    feeds.routes["/image"] = Route(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "application/xml")
    feeds.routes["/busy"] = Route(b"", "text/plain", status=503, headers={"Retry-After": "120"})
    small = doc_settings.model_copy(update={"fetch_max_bytes": 1024 * 1024})
    async with PageFetcher(small) as fetcher:
        doc = await fetcher.fetch_document(feeds.url("/sitemap.xml.gz"))
        assert doc.body == xml
        with pytest.raises(FetchFailed) as big:
            await fetcher.fetch_document(feeds.url("/bomb.xml.gz"))
        assert big.value.reason == "document larger than 1 MiB" and big.value.refused
        with pytest.raises(FetchFailed) as image:
            await fetcher.fetch_document(feeds.url("/image"))
        assert image.value.reason == "refused: a PNG image served as application/xml"
        with pytest.raises(FetchFailed) as busy:
            await fetcher.fetch_document(feeds.url("/busy"))
    assert busy.value.reason == "HTTP 503 Service Unavailable"
    assert busy.value.retry_after == 120 and busy.value.attempts == 1
