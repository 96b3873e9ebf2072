"""PageFetcher: fetch one untrusted URL as decoded HTML, or fail with a clear reason."""

from __future__ import annotations

import asyncio
import email.utils
import http
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Self

import certifi
import httpx

from newsflow.settings import Settings
from newsflow.stages.decoding import decode_html
from newsflow.stages.fetching._backend import GuardedBackend, Resolver
from newsflow.stages.fetching._body import (
    ACCEPT_ENCODING,
    BoundedBody,
    BrokenBody,
    TooLarge,
    check_media_type,
    looks_like_html,
    media_type,
    sniff_binary,
)
from newsflow.stages.fetching._errors import FetchFailed, Refused, Unresolvable
from newsflow.stages.fetching._policy import AddressPolicy, vet_url
from newsflow.stages.fetching._transport import guarded_transport

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Bytes needed before the content checks (magic numbers, HTML sniffing) can decide.
_SNIFF_BYTES = 1024
#: Bodies larger than this are decoded in a worker thread.
_DECODE_INLINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class FetchedPage:
    """A fetched and decoded HTML page."""

    final_url: str
    http_status: int
    content_type: str | None
    #: Python codec the body was decoded with (``utf-8``, ``gb18030``...).
    encoding: str
    html: str
    #: Size of the decoded (decompressed) body in bytes.
    bytes: int
    #: Every URL redirected to, in order (the final one included).
    redirects: list[str] = field(default_factory=list)
    attempts: int = 1


@dataclass(frozen=True)
class Document:
    """A fetched document as raw bytes (a feed, a sitemap, robots.txt), or "not modified".

    ``fetch_document`` sends the caller's headers (``If-None-Match``...), so a ``304`` comes
    back as ``not_modified=True`` with an empty body instead of as a failure.
    """

    final_url: str
    http_status: int
    content_type: str | None
    #: The decoded (Content-Encoding undone, gzip files inflated) body; empty for 304.
    body: bytes
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    redirects: list[str] = field(default_factory=list)
    attempts: int = 1


@dataclass(frozen=True)
class _DocumentRequest:
    """Internal: what ``fetch_document`` asks of an attempt."""

    headers: dict[str, str]


#: What a document request accepts when the caller does not say.
DOCUMENT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1"
)


@dataclass
class _Progress:
    """Where a fetch is, so that a deadline in the middle can say where it struck."""

    current_url: str
    attempts: int = 0
    http_status: int | None = None


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying."""

    def __init__(
        self,
        reason: str,
        *,
        http_status: int | None = None,
        final_url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.final_url = final_url
        self.retry_after = retry_after


class _Final(Exception):
    """Internal: an attempt failed in a way not worth retrying."""

    def __init__(
        self,
        reason: str,
        *,
        refused: bool = False,
        http_status: int | None = None,
        final_url: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused
        self.http_status = http_status
        self.final_url = final_url


def _status_text(code: int) -> str:
    try:
        return f"HTTP {code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _mib(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    return f"{n} bytes"


def _seconds(value: float) -> str:
    return f"{value:g} s"


class PageFetcher:
    """Fetches untrusted article URLs: SSRF-safe, bounded in time and size, with retries.

    One instance (and so one pooled ``httpx.AsyncClient``) per process; ``fetch`` may be
    called concurrently. ``resolver`` replaces DNS resolution and ``ssl_context`` the trusted
    CAs (tests; never needed in production).

    The deadline (``fetch_deadline``) bounds the whole call: every attempt, redirect, body
    read and backoff sleep, so a worker's handler never waits longer than that.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.policy = AddressPolicy(settings.fetch_allowed_networks)
        self.backend = GuardedBackend(self.policy, resolver)
        if ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=certifi.where())
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        transport = guarded_transport(self.backend, ssl_context, limits)
        timeout = httpx.Timeout(
            connect=settings.fetch_connect_timeout,
            read=settings.fetch_read_timeout,
            write=settings.fetch_read_timeout,
            pool=settings.fetch_connect_timeout,
        )
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            # Cookies must not travel between sites: the shared jar accepts none, each fetch
            # keeps its own (some sites set a cookie and redirect to check it).
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            headers={
                "User-Agent": settings.fetch_user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def fetch(self, url: str) -> FetchedPage:
        """Fetch ``url`` and return the decoded page; raises ``FetchFailed`` with a reason."""
        page = await self._fetch(url, None, self.settings.fetch_retries)
        assert isinstance(page, FetchedPage)
        return page

    async def fetch_document(
        self, url: str, headers: dict[str, str] | None = None, *, retries: int = 0
    ) -> Document:
        """Fetch ``url`` as raw bytes (feeds, sitemaps, robots.txt) under the same policy.

        Same address vetting on every hop, size cap, deadline and binary refusal as
        :meth:`fetch`, but any text type is accepted and nothing is decoded to text: the
        parser of the format decides. ``headers`` are sent as given (conditional GET);
        a ``304`` is a :class:`Document` with ``not_modified``. A 429/5xx raises
        ``FetchFailed`` carrying ``retry_after`` when the server sent one. No retries by
        default: a poller has its own backoff.
        """
        request = _DocumentRequest({"Accept": DOCUMENT_ACCEPT, **(headers or {})})
        document = await self._fetch(url, request, retries)
        assert isinstance(document, Document)
        return document

    async def _fetch(
        self, url: str, request: _DocumentRequest | None, retries: int
    ) -> FetchedPage | Document:
        settings = self.settings
        max_attempts = 1 + max(0, retries)
        started = time.monotonic()
        progress = _Progress(url)
        last: _Retryable | None = None
        deadline = asyncio.timeout(settings.fetch_deadline)
        try:
            async with deadline:
                while True:
                    progress.attempts += 1
                    try:
                        return await self._attempt(url, progress, request)
                    except _Final as exc:
                        raise FetchFailed(
                            exc.reason,
                            refused=exc.refused,
                            http_status=exc.http_status,
                            final_url=exc.final_url,
                            attempts=progress.attempts,
                        ) from None
                    except _Retryable as exc:
                        last = exc
                    if progress.attempts >= max_attempts:
                        break
                    delay = settings.fetch_backoff * 2 ** (progress.attempts - 1)
                    delay *= 1 + random.uniform(-0.1, 0.1)  # de-synchronise workers
                    if last.retry_after is not None:
                        if last.retry_after > settings.fetch_max_retry_after:
                            raise FetchFailed(
                                f"{last.reason} (Retry-After {_seconds(last.retry_after)} is "
                                f"longer than the {_seconds(settings.fetch_max_retry_after)} "
                                "honoured)",
                                http_status=last.http_status,
                                final_url=last.final_url,
                                attempts=progress.attempts,
                            )
                        delay = max(delay, last.retry_after)
                    remaining = settings.fetch_deadline - (time.monotonic() - started)
                    if delay >= remaining:
                        # Waiting would only end in the deadline: report the real cause now.
                        if last.retry_after is not None:
                            last.reason += (
                                f" (Retry-After {_seconds(last.retry_after)} goes past the "
                                f"{_seconds(settings.fetch_deadline)} deadline)"
                            )
                        break
                    await asyncio.sleep(delay)
        except TimeoutError:
            if not deadline.expired():
                raise  # not ours (a bug below): let it surface
            n = progress.attempts
            raise FetchFailed(
                f"timed out after {_seconds(settings.fetch_deadline)} "
                f"({n} attempt{'s' if n != 1 else ''})",
                http_status=progress.http_status,
                final_url=progress.current_url,
                attempts=n,
            ) from None
        assert last is not None
        n = progress.attempts
        raise FetchFailed(
            f"{last.reason} ({n} attempts)" if n > 1 else last.reason,
            http_status=last.http_status,
            final_url=last.final_url,
            attempts=n,
            retry_after=last.retry_after,
        )

    async def _attempt(
        self, url: str, progress: _Progress, document: _DocumentRequest | None = None
    ) -> FetchedPage | Document:
        """One attempt: follow redirects by hand, vetting every hop, then read the body."""
        settings = self.settings
        cookies = httpx.Cookies()
        redirects: list[str] = []
        current = url
        progress.http_status = None
        while True:
            progress.current_url = current
            try:
                target = vet_url(current, self.policy, settings.fetch_allowed_ports)
            except Refused as exc:
                raise _Final(exc.reason, refused=True, final_url=current) from None
            shown = str(target)
            try:
                request = self.client.build_request(
                    "GET", target, headers=document.headers if document else None
                )
                cookies.set_cookie_header(request)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                # Anything httpx refuses to send (odd URLs, header values): not a crash.
                raise _Final(f"request failed: {exc}", final_url=shown) from None
            try:
                response = await self.client.send(request, stream=True)
            except httpx.InvalidURL as exc:
                # The request was built: httpx raises this reading a redirect's Location
                # (``data:``, ``javascript:``, ``http:host`` without slashes).
                raise _Final(
                    f"refused: invalid redirect Location ({exc})", refused=True, final_url=shown
                ) from None
            except Refused as exc:
                raise _Final(exc.reason, refused=True, final_url=shown) from None
            except Unresolvable as exc:
                raise _Final(exc.reason, final_url=shown) from None
            except httpx.TimeoutException as exc:
                raise _Retryable(_timeout_reason(exc, settings), final_url=shown) from None
            except httpx.TransportError as exc:
                if (tls := _tls_failure(exc)) is not None:
                    raise _Final(tls, final_url=shown) from None
                if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc):
                    # httpx parses Location even when not following redirects.
                    raise _Final(
                        f"refused: invalid redirect Location ({exc})",
                        refused=True,
                        final_url=shown,
                    ) from None
                raise _Retryable(_network_reason(exc), final_url=shown) from None
            except httpx.HTTPError as exc:
                # Anything else httpx refuses to send: not a crash.
                raise _Final(f"request failed: {exc}", final_url=shown) from None
            try:
                cookies.extract_cookies(response)
                status = response.status_code
                progress.http_status = status
                if status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise _Final(
                            f"{_status_text(status)} without a Location header",
                            http_status=status,
                            final_url=shown,
                        )
                    if len(redirects) >= settings.fetch_max_redirects:
                        raise _Final(
                            f"too many redirects (more than {settings.fetch_max_redirects})",
                            http_status=status,
                            final_url=shown,
                        )
                    try:
                        current = str(target.join(location))
                    except (httpx.InvalidURL, ValueError) as exc:
                        raise _Final(
                            f"refused: invalid redirect Location ({exc})",
                            refused=True,
                            http_status=status,
                            final_url=shown,
                        ) from None
                    redirects.append(current)
                    continue
                if status == 429 or status >= 500:
                    raise _Retryable(
                        _status_text(status),
                        http_status=status,
                        final_url=shown,
                        retry_after=parse_retry_after(response.headers.get("retry-after")),
                    )
                if document is not None and status == 304:
                    return Document(
                        final_url=shown,
                        http_status=status,
                        content_type=response.headers.get("content-type"),
                        body=b"",
                        not_modified=True,
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                        redirects=list(redirects),
                        attempts=progress.attempts,
                    )
                if not 200 <= status < 300:
                    raise _Final(_status_text(status), http_status=status, final_url=shown)
                if document is not None:
                    return await self._read_document(response, shown, redirects, progress.attempts)
                return await self._read_page(response, shown, redirects, progress.attempts)
            finally:
                await response.aclose()

    async def _read_page(
        self, response: httpx.Response, final_url: str, redirects: list[str], attempt: int
    ) -> FetchedPage:
        settings = self.settings
        status = response.status_code
        content_type = response.headers.get("content-type")

        def refused(reason: str) -> _Final:
            return _Final(reason, refused=True, http_status=status, final_url=final_url)

        try:
            check_media_type(content_type)
        except Refused as exc:
            raise refused(exc.reason) from None
        length = response.headers.get("content-length", "")
        if (
            length.isdigit()
            and int(length) > settings.fetch_max_bytes
            and not response.headers.get("content-encoding")
        ):
            raise refused(f"page larger than {_mib(settings.fetch_max_bytes)}")
        try:
            body = BoundedBody(response.headers.get("content-encoding"), settings.fetch_max_bytes)
        except BrokenBody as exc:
            raise _Final(str(exc), http_status=status, final_url=final_url) from None
        sniffed = False
        try:
            async for chunk in response.aiter_raw():
                body.feed(chunk)
                if not sniffed and len(body.buffer) >= _SNIFF_BYTES:
                    self._sniff(bytes(body.buffer[:_SNIFF_BYTES]), content_type, refused)
                    sniffed = True
            data = body.finish()
        except TooLarge:
            raise refused(f"page larger than {_mib(settings.fetch_max_bytes)}") from None
        except BrokenBody as exc:
            raise _Final(str(exc), http_status=status, final_url=final_url) from None
        except httpx.TimeoutException as exc:
            raise _Retryable(
                _timeout_reason(exc, settings), http_status=status, final_url=final_url
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                _network_reason(exc), http_status=status, final_url=final_url
            ) from None
        except httpx.HTTPError as exc:
            raise _Final(f"reading the page failed: {exc}", final_url=final_url) from None
        if not sniffed:
            self._sniff(data[:_SNIFF_BYTES], content_type, refused)
        if not data.strip():
            raise _Final("empty page", http_status=status, final_url=final_url)
        if len(data) > _DECODE_INLINE_BYTES:
            # Detection on a large page takes tens of milliseconds: keep the loop responsive.
            html, codec = await asyncio.to_thread(decode_html, data, content_type)
        else:
            html, codec = decode_html(data, content_type)
        return FetchedPage(
            final_url=final_url,
            http_status=status,
            content_type=content_type,
            encoding=codec,
            html=html,
            bytes=len(data),
            redirects=list(redirects),
            attempts=attempt,
        )

    async def _read_document(
        self, response: httpx.Response, final_url: str, redirects: list[str], attempt: int
    ) -> Document:
        """The body as bytes, under the page's size cap; binary formats refused.

        A gzip file (``sitemap.xml.gz`` served as ``application/x-gzip``, no
        Content-Encoding) is inflated under the same cap.
        """
        settings = self.settings
        status = response.status_code
        content_type = response.headers.get("content-type")
        too_large = f"document larger than {_mib(settings.fetch_max_bytes)}"
        length = response.headers.get("content-length", "")
        if (
            length.isdigit()
            and int(length) > settings.fetch_max_bytes
            and not response.headers.get("content-encoding")
        ):
            raise _Final(too_large, refused=True, http_status=status, final_url=final_url)
        try:
            body = BoundedBody(response.headers.get("content-encoding"), settings.fetch_max_bytes)
            async for chunk in response.aiter_raw():
                body.feed(chunk)
            data = body.finish()
            if data[:2] == b"\x1f\x8b":
                inflated = BoundedBody("gzip", settings.fetch_max_bytes)
                inflated.feed(data)
                data = inflated.finish()
        except TooLarge:
            raise _Final(too_large, refused=True, http_status=status, final_url=final_url) from None
        except BrokenBody as exc:
            raise _Final(str(exc), http_status=status, final_url=final_url) from None
        except httpx.TimeoutException as exc:
            raise _Retryable(
                _timeout_reason(exc, settings), http_status=status, final_url=final_url
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                _network_reason(exc), http_status=status, final_url=final_url
            ) from None
        except httpx.HTTPError as exc:
            raise _Final(f"reading the document failed: {exc}", final_url=final_url) from None
        kind = sniff_binary(data[:_SNIFF_BYTES])
        if kind is not None:
            declared = media_type(content_type) or "no Content-Type"
            raise _Final(
                f"refused: {kind} served as {declared}",
                refused=True,
                http_status=status,
                final_url=final_url,
            )
        return Document(
            final_url=final_url,
            http_status=status,
            content_type=content_type,
            body=data,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            redirects=list(redirects),
            attempts=attempt,
        )

    @staticmethod
    def _sniff(head: bytes, content_type: str | None, refused: Callable[[str], _Final]) -> None:
        """Refuse binary formats whatever their declared type, and undeclared non-HTML."""
        kind = sniff_binary(head)
        if kind is not None:
            declared = media_type(content_type) or "no Content-Type"
            raise refused(f"not HTML: {kind} served as {declared}")
        if media_type(content_type) is None and head.strip():
            text, _ = decode_html(head, content_type)
            if not looks_like_html(text):
                raise refused("not HTML: no Content-Type and the body does not look like HTML")


def _timeout_reason(exc: httpx.TimeoutException, settings: Settings) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connection timed out after {_seconds(settings.fetch_connect_timeout)}"
    if isinstance(exc, httpx.PoolTimeout):
        return "no free connection in time"
    return f"no data for {_seconds(settings.fetch_read_timeout)}"


def _tls_failure(exc: BaseException) -> str | None:
    """A reason if ``exc`` was caused by a rejected certificate (permanent: not retried)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            detail = current.verify_message or current.reason or str(current)
            return f"TLS certificate rejected: {detail}"
        current = current.__cause__ or current.__context__
    return None


def _network_reason(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"broken HTTP response: {detail}"
    return f"network error: {detail}"
