"""PageFetcher against a real, misbehaving HTTP server on 127.0.0.1.

Every socket the fetcher opens goes through ``loopback_only``, which fails the test if it is
asked for anything but 127.0.0.0/8: refusals must happen before that step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import certifi
import httpcore
import pytest
import trustme

from newsflow.settings import Settings
from newsflow.stages.fetching import FetchedPage, FetchFailed, PageFetcher
from tests.support.hostile_server import GBK_PAGE, PAGE, HostileServer, bomb

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    for coding in ("gzip", "deflate", "br"):
        bomb(coding)  # built once up front, not while a test measures time and memory
    with HostileServer() as srv:
        yield srv


class Connections:
    def __init__(self) -> None:
        self.hosts: list[str] = []


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Connections:
    """Let sockets open to 127.0.0.0/8 only, and record every one asked for."""
    seen = Connections()
    real_connect = httpcore.AnyIOBackend.connect_tcp

    async def connect_tcp(backend: Any, host: str, port: int, **kwargs: Any) -> Any:
        seen.hosts.append(host)
        if not host.startswith("127."):
            raise AssertionError(f"test tried to connect to {host}")
        return await real_connect(backend, host, port, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    return seen


@functools.cache
def default_tls() -> ssl.SSLContext:
    """The CA bundle, loaded once (~0.15 s) rather than by every fetcher of the tests."""
    return ssl.create_default_context(cafile=certifi.where())


def make_fetcher(server: HostileServer, **overrides: Any) -> PageFetcher:
    return PageFetcher(fetch_settings(server, **overrides), ssl_context=default_tls())


def fetch_settings(server: HostileServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "fetch_allowed_networks": ["127.0.0.0/8"],
        "fetch_allowed_ports": [server.port, 80, 443],
        # Generous per-step timeouts (a loaded CI machine must not turn into retries); the
        # tests of timeouts set short ones themselves.
        "fetch_deadline": 5.0,
        "fetch_connect_timeout": 2.0,
        "fetch_read_timeout": 2.0,
        "fetch_retries": 2,
        "fetch_backoff": 0.05,
        "fetch_max_retry_after": 1.5,
        "fetch_max_bytes": MiB,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def fetcher(server: HostileServer, loopback_only: Connections) -> AsyncIterator[PageFetcher]:
    async def resolve(host: str, port: int) -> list[str]:
        # Stand-in DNS: names of the tests, never a real query.
        table = {"news.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]}
        return table.get(host, ["169.254.169.254"])

    f = PageFetcher(fetch_settings(server), resolver=resolve, ssl_context=default_tls())
    yield f
    await f.aclose()


async def fail(fetcher: PageFetcher, url: str) -> FetchFailed:
    with pytest.raises(FetchFailed) as info:
        await fetcher.fetch(url)
    return info.value


# --- success --------------------------------------------------------------------------------


async def test_fetches_a_page(fetcher: PageFetcher, server: HostileServer) -> None:
    page = await fetcher.fetch(server.url("/page"))
    assert page == FetchedPage(
        final_url=server.url("/page"),
        http_status=200,
        content_type="text/html; charset=utf-8",
        encoding="utf-8",
        html=PAGE.decode("utf-8"),
        bytes=len(PAGE),
        redirects=[],
        attempts=1,
    )


async def test_gbk_page_without_charset_is_decoded(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    page = await fetcher.fetch(server.url("/gbk"))
    assert page.encoding == "gb18030"
    assert page.html == GBK_PAGE.decode("gbk")
    assert page.bytes == len(GBK_PAGE)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
async def test_compressed_pages(fetcher: PageFetcher, server: HostileServer, coding: str) -> None:
    page = await fetcher.fetch(server.url(f"/compressed/{coding}"))
    assert page.html == PAGE.decode("utf-8")
    assert page.bytes == len(PAGE)  # decoded size, not wire size


async def test_names_are_resolved_and_vetted(
    fetcher: PageFetcher, server: HostileServer, loopback_only: Connections
) -> None:
    page = await fetcher.fetch(f"http://news.test:{server.port}/page")
    assert page.final_url == f"http://news.test:{server.port}/page"
    assert loopback_only.hosts == ["127.0.0.1"]


async def test_sends_our_headers_and_no_cookies_between_sites(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    await fetcher.fetch(server.url("/cookie-set"))  # the site sets a cookie
    page = await fetcher.fetch(server.url("/headers"))
    assert "user-agent: Newsflow/" in page.html
    assert "accept-encoding: gzip, deflate, br" in page.html
    assert "cookie" not in page.html


async def test_concurrent_fetches_share_one_client(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    client = fetcher.client
    pages = await asyncio.gather(*(fetcher.fetch(server.url("/page")) for _ in range(20)))
    assert {p.html for p in pages} == {PAGE.decode("utf-8")}
    assert fetcher.client is client


# --- redirects ------------------------------------------------------------------------------


async def test_redirects_are_followed_and_listed(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    page = await fetcher.fetch(server.url("/chain/3"))
    assert page.redirects == [server.url("/chain/2"), server.url("/chain/1"), server.url("/page")]
    assert page.final_url == server.url("/page")


async def test_cookie_checking_redirects_work_within_one_fetch(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    page = await fetcher.fetch(server.url("/cookie-set"))
    assert page.final_url == server.url("/cookie-check")


async def test_redirect_loops_stop(fetcher: PageFetcher, server: HostileServer) -> None:
    failure = await fail(fetcher, server.url("/loop"))
    assert failure.reason == "too many redirects (more than 5)"
    assert (failure.refused, failure.attempts, failure.http_status) == (False, 1, 302)


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
        ("http://[::ffff:a9fe:a9fe]/", "carries 169.254.169.254"),
        ("http://2852039166/", "169.254.169.254 is a link-local"),
        ("http://0x0a000005/", "10.0.0.5 is a private address"),
        ("http://internal.test/", "10.0.0.5 is a private address (internal.test resolves to it)"),
        ("http://metadata.google.internal/", "169.254.169.254"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"),
        ("http://admin:admin@127.0.0.1/", "user name or password"),
        ("http://127.0.0.1:6379/", "port 6379 is not allowed"),
    ],
)
async def test_redirects_to_refused_targets_are_refused_before_connecting(
    fetcher: PageFetcher,
    server: HostileServer,
    loopback_only: Connections,
    target: str,
    why: str,
) -> None:
    failure = await fail(fetcher, server.url(f"/redirect?to={target}"))
    assert failure.refused
    assert why in failure.reason
    assert failure.attempts == 1
    assert loopback_only.hosts == ["127.0.0.1"]  # only the first hop connected
    assert failure.final_url is not None


async def test_loopback_is_refused_unless_allowed(
    server: HostileServer, loopback_only: Connections
) -> None:
    strict = make_fetcher(server, fetch_allowed_networks=["127.0.0.1/32"])
    try:
        assert (await strict.fetch(server.url("/page"))).http_status == 200
        for url in (
            f"http://127.0.0.2:{server.port}/page",
            f"http://2130706434:{server.port}/page",
            f"http://0x7f.2:{server.port}/page",
            f"http://127.2:{server.port}/page",
            f"http://0177.0.0.2:{server.port}/page",
        ):
            failure = await fail(strict, url)
            assert failure.refused, url
            assert "127.0.0.2 is a loopback address" in failure.reason
        # The redirect case: allowed first hop, refused second.
        failure = await fail(strict, server.url(f"/redirect?to=http://127.2:{server.port}/page"))
        assert failure.refused
        assert failure.reason == "refused: 127.0.0.2 is a loopback address"
    finally:
        await strict.aclose()
    assert set(loopback_only.hosts) == {"127.0.0.1"}


# --- time -----------------------------------------------------------------------------------


async def test_a_dripping_server_trips_the_deadline(
    server: HostileServer, loopback_only: Connections
) -> None:
    f = make_fetcher(server, fetch_deadline=1.5)
    try:
        started = time.monotonic()
        failure = await fail(f, server.url("/drip"))
        elapsed = time.monotonic() - started
    finally:
        await f.aclose()
    assert failure.reason == "timed out after 1.5 s (1 attempt)"
    assert (failure.refused, failure.http_status) == (False, 200)
    assert failure.final_url == server.url("/drip")
    assert 1.45 <= elapsed < 2.5  # each byte arrives well within the 2 s read timeout


async def test_a_silent_server_trips_the_read_timeout_and_is_retried(
    server: HostileServer, loopback_only: Connections
) -> None:
    f = make_fetcher(server, fetch_read_timeout=0.2, fetch_deadline=5.0)
    try:
        hits = server.hits["/stall"]
        failure = await fail(f, server.url("/stall"))
    finally:
        await f.aclose()
    assert failure.reason == "no data for 0.2 s (3 attempts)"
    assert failure.attempts == 3
    assert server.hits["/stall"] - hits == 3


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A loopback port whose listen queue is full: the kernel drops new SYNs (connect hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for s in [*fillers, listener]:
        s.close()


async def test_a_connect_that_hangs_trips_the_connect_timeout(
    server: HostileServer, full_backlog: int, loopback_only: Connections
) -> None:
    f = PageFetcher(
        fetch_settings(server, fetch_connect_timeout=0.3, fetch_allowed_ports=[full_backlog]),
        ssl_context=default_tls(),
    )
    try:
        failure = await fail(f, f"http://127.0.0.1:{full_backlog}/")
    finally:
        await f.aclose()
    assert failure.reason == "connection timed out after 0.3 s (3 attempts)"
    assert failure.attempts == 3


async def test_connection_dropped_is_retried(fetcher: PageFetcher, server: HostileServer) -> None:
    hits = server.hits["/close"]
    failure = await fail(fetcher, server.url("/close"))
    assert failure.reason.startswith("broken HTTP response: Server disconnected")
    assert failure.reason.endswith("(3 attempts)")
    assert server.hits["/close"] - hits == 3


# --- size -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/gzip-bomb", "/brotli-bomb", "/deflate-bomb"])
async def test_decompression_bombs_are_stopped_early(
    fetcher: PageFetcher, server: HostileServer, path: str
) -> None:
    await fetcher.fetch(server.url("/page"))  # warm up (imports, pool)
    hits = server.hits[path]
    tracemalloc.start()
    try:
        started = time.monotonic()
        failure = await fail(fetcher, server.url(path))
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failure.reason == "page larger than 1 MiB"
    assert failure.refused
    assert server.hits[path] - hits == 1  # not retried
    assert peak < 8 * MiB  # the 16 MiB inflated would show here
    assert elapsed < 3.0


@pytest.mark.parametrize("path", ["/huge", "/huge-length"])
async def test_huge_bodies_are_refused(
    fetcher: PageFetcher, server: HostileServer, path: str
) -> None:
    started = time.monotonic()
    failure = await fail(fetcher, server.url(path))
    assert failure.reason == "page larger than 1 MiB"
    assert failure.refused
    assert failure.http_status == 200
    assert time.monotonic() - started < 3.0  # not the 1 GiB


# --- statuses and retries -------------------------------------------------------------------


async def test_429_honours_retry_after(fetcher: PageFetcher, server: HostileServer) -> None:
    started = time.monotonic()
    page = await fetcher.fetch(server.url("/retry-after/a"))
    assert page.attempts == 2
    assert time.monotonic() - started >= 0.95


async def test_429_with_a_retry_after_too_long_is_not_waited_for(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    started = time.monotonic()
    failure = await fail(fetcher, server.url("/retry-after/b?s=3600"))
    assert failure.reason == (
        "HTTP 429 Too Many Requests (Retry-After 3600 s is longer than the 1.5 s honoured)"
    )
    assert (failure.http_status, failure.attempts, failure.refused) == (429, 1, False)
    assert time.monotonic() - started < 2.0


async def test_429_with_a_retry_after_past_the_deadline_fails_at_once(
    server: HostileServer, loopback_only: Connections
) -> None:
    f = make_fetcher(server, fetch_deadline=1.0, fetch_max_retry_after=30.0)
    try:
        started = time.monotonic()
        failure = await fail(f, server.url("/retry-after/c?s=20"))
    finally:
        await f.aclose()
    assert failure.reason == (
        "HTTP 429 Too Many Requests (Retry-After 20 s goes past the 1 s deadline)"
    )
    assert failure.attempts == 1
    assert time.monotonic() - started < 0.9


async def test_503_is_retried(fetcher: PageFetcher, server: HostileServer) -> None:
    page = await fetcher.fetch(server.url("/unavailable/a"))
    assert page.attempts == 2
    assert page.http_status == 200


async def test_persistent_5xx_gives_up_after_the_retries(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    hits = server.hits["/always-503"]
    failure = await fail(fetcher, server.url("/always-503"))
    assert failure.reason == "HTTP 503 Service Unavailable (3 attempts)"
    assert (failure.http_status, failure.attempts) == (503, 3)
    assert server.hits["/always-503"] - hits == 3


@pytest.mark.parametrize(
    ("code", "reason"),
    [(404, "HTTP 404 Not Found"), (403, "HTTP 403 Forbidden"), (410, "HTTP 410 Gone")],
)
async def test_other_4xx_are_not_retried(
    fetcher: PageFetcher, server: HostileServer, code: int, reason: str
) -> None:
    hits = server.hits[f"/status/{code}"]
    failure = await fail(fetcher, server.url(f"/status/{code}"))
    assert (failure.reason, failure.http_status, failure.attempts) == (reason, code, 1)
    assert server.hits[f"/status/{code}"] - hits == 1


async def test_the_deadline_bounds_the_retries(
    server: HostileServer, loopback_only: Connections
) -> None:
    f = make_fetcher(server, fetch_backoff=5.0, fetch_deadline=1.0)
    try:
        started = time.monotonic()
        failure = await fail(f, server.url("/always-503"))
    finally:
        await f.aclose()
    # The 5 s backoff would overrun the deadline: report the real cause at once.
    assert failure.reason == "HTTP 503 Service Unavailable"
    assert failure.attempts == 1
    assert time.monotonic() - started < 2.0


# --- content checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/pdf-as-html", "not HTML: a PDF document served as text/html"),
        ("/zip-as-html", "not HTML: a ZIP archive (or Office/EPUB document) served as text/html"),
        ("/gzip-as-html", "not HTML: gzip data served as text/html"),
        ("/pdf", "not HTML: application/pdf"),
        ("/no-type-binary", "not HTML: a PNG image served as no Content-Type"),
    ],
)
async def test_non_html_is_refused_and_not_retried(
    fetcher: PageFetcher, server: HostileServer, path: str, reason: str
) -> None:
    hits = server.hits[path]
    failure = await fail(fetcher, server.url(path))
    assert failure.reason == reason
    assert failure.refused
    assert server.hits[path] - hits == 1


async def test_html_without_content_type_is_sniffed(
    fetcher: PageFetcher, server: HostileServer
) -> None:
    page = await fetcher.fetch(server.url("/no-type"))
    assert page.content_type is None
    assert page.html == PAGE.decode("utf-8")


# --- TLS: connected to the vetted IP, verified against the host name ------------------------


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(tls_ca: trustme.CA) -> Iterator[HostileServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("news.test").configure_cert(context)
    with HostileServer(tls=context) as srv:
        yield srv


@pytest.fixture
async def tls_fetcher(
    tls_server: HostileServer, tls_ca: trustme.CA, loopback_only: Connections
) -> AsyncIterator[PageFetcher]:
    async def resolve(host: str, port: int) -> list[str]:
        return {"news.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}[host]

    client_context = ssl.create_default_context()
    tls_ca.configure_trust(client_context)
    f = PageFetcher(fetch_settings(tls_server), resolver=resolve, ssl_context=client_context)
    yield f
    await f.aclose()


async def test_https_verifies_the_host_name_while_connecting_to_the_ip(
    tls_fetcher: PageFetcher, tls_server: HostileServer, loopback_only: Connections
) -> None:
    page = await tls_fetcher.fetch(tls_server.url("/page", host="news.test"))
    assert page.html == PAGE.decode("utf-8")
    assert page.final_url.startswith("https://news.test:")
    assert loopback_only.hosts == ["127.0.0.1"]


async def test_a_certificate_for_another_name_is_rejected_without_retry(
    tls_fetcher: PageFetcher, tls_server: HostileServer
) -> None:
    hits = sum(tls_server.hits.values())
    failure = await fail(tls_fetcher, tls_server.url("/page", host="other.test"))
    assert failure.reason.startswith("TLS certificate rejected: ")
    assert "other.test" in failure.reason
    assert (failure.refused, failure.attempts) == (False, 1)
    assert sum(tls_server.hits.values()) == hits  # no request was sent


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://[::1", "refused: invalid redirect Location (Invalid URL in location header: Invalid port"),
        ("http://exa mple.com/", "refused: invalid host name 'exa%20mple.com'"),
        ("////169.254.169.254/", "refused: invalid redirect Location (Invalid URL in location header: Relative URLs"),
        ("http:169.254.169.254", "refused: invalid redirect Location (For absolute URLs, path"),
        ("data:text/html,<p>hi</p>", "refused: invalid redirect Location (For absolute URLs, path"),
        ("javascript:alert(1)", "refused: invalid redirect Location (For absolute URLs, path"),
        # a relative path on the same server, which has no such page
        ("\\\\169.254.169.254\\x", "HTTP 404 Not Found"),
        ("http://%00/", "refused: invalid host name '%00'"),
        # the test's resolver answers the metadata address for any other name
        ("http://" + "a" * 300 + ".test/", "refused: 169.254.169.254 is a link-local (cloud metadata) address"),
        ("https://ＥＸＡＭＰＬＥ.com/", "refused: invalid redirect Location (Invalid URL in location header: Invalid IDNA"),
    ],
)  # fmt: skip
async def test_hostile_locations_fail_with_a_reason(
    fetcher: PageFetcher,
    server: HostileServer,
    loopback_only: Connections,
    location: str,
    reason: str,
) -> None:
    failure = await fail(fetcher, server.url(f"/redirect?to={quote(location, safe='')}"))
    assert failure.reason.startswith(reason), failure.reason
    assert failure.attempts == 1
    assert set(loopback_only.hosts) == {"127.0.0.1"}
