"""A real HTTP/1.1 server on 127.0.0.1 that misbehaves on request, for the fetcher's tests.

It speaks raw HTTP over asyncio streams in a background thread (its own event loop), so a
route can do what no well-behaved framework allows: drip bytes, lie about the content type,
send a decompression bomb, close mid-response. Every request is counted per path in
``hits`` so tests can assert how many attempts reached the server.

Routes (``server.url("/path")``)::

    /page                 small UTF-8 HTML page
    /gbk                  GBK page with no charset anywhere
    /status/<code>        that status with a small HTML body
    /redirect?to=<url>    302 to ``to`` (relative or absolute)
    /chain/<n>            n redirects, then /page
    /loop                 redirects to itself forever
    /drip                 headers, then one byte every 0.2 s (for ~30 s)
    /stall                accepts, never answers
    /close                closes the connection without answering
    /gzip-bomb, /brotli-bomb, /deflate-bomb    16 MiB of zeros compressed (~16 KiB)
    /huge                 endless chunked HTML
    /huge-length          Content-Length of 1 GiB
    /pdf-as-html          a PDF served as text/html
    /zip-as-html          a ZIP served as text/html
    /gzip-as-html         gzip data served as text/html without Content-Encoding
    /no-type              HTML without Content-Type
    /no-type-binary       a PNG without Content-Type
    /pdf                  a PDF served as application/pdf
    /retry-after/<key>    429 with Retry-After: 1 the first time, then the page
    /unavailable/<key>    503 the first time, then the page
    /always-503           503 every time
    /cookie-set           sets a cookie and redirects to /cookie-check
    /cookie-check         the page if the cookie came back, else 403
    /headers              echoes the request headers as HTML
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import gzip
import ssl
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import parse_qs, urlsplit

import brotli

PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>Test page</title></head>"
    b"<body><article><h1>Headline</h1><p>Body text of the article \xe2\x80\x94 with a dash."
    b"</p></article></body></html>"
)
GBK_PAGE = (
    "<html><head><title>新闻标题</title></head><body><p>"
    + "中华人民共和国国务院新闻办公室今天举行新闻发布会，介绍经济运行情况。" * 20
    + "</p></body></html>"
).encode("gbk")
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"0" * 2000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 2000
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 2000
BOMB_SIZE = 16 * 1024 * 1024


@functools.cache
def bomb(coding: str) -> bytes:
    """``BOMB_SIZE`` zero bytes compressed with ``coding`` (gzip, deflate or br)."""
    chunk = b"\x00" * (1024 * 1024)
    if coding == "br":
        comp = brotli.Compressor(quality=5)
        parts = [comp.process(chunk) for _ in range(BOMB_SIZE // len(chunk))]
        return b"".join(parts) + comp.finish()
    wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
    zcomp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [zcomp.compress(chunk) for _ in range(BOMB_SIZE // len(chunk))]
    return b"".join(parts) + zcomp.flush()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Handler = Callable[["HostileServer", Request, asyncio.StreamWriter], Awaitable[None]]


def _head(status: int, headers: dict[str, str] | None = None, reason: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason or 'Whatever'}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")  # raw UTF-8, as some servers do


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    """Write a complete response with Content-Length."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    all_headers["Content-Length"] = str(len(body))
    writer.write(_head(status, all_headers) + body)
    await writer.drain()


@dataclass
class HostileServer:
    """The server; use as a context manager or call ``start``/``stop``."""

    host: str = "127.0.0.1"
    port: int = 0
    #: Serve HTTPS with this context (e.g. from ``trustme``) instead of plain HTTP.
    tls: ssl.SSLContext | None = None
    hits: collections.Counter[str] = field(default_factory=collections.Counter)
    routes: dict[str, Handler] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, host: str | None = None) -> str:
        """The URL of ``path`` on this server, optionally under another host name."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen (per server)."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    def start(self) -> Self:
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._server = await asyncio.start_server(
                    self._handle, self.host, self.port, ssl=self.tls
                )
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()

            loop.run_until_complete(boot())
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="hostile-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("hostile server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            request_line, *header_lines = raw.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            parts = urlsplit(target)
            request = Request(method, parts.path, parse_qs(parts.query), headers)
            with self._lock:
                self.hits[parts.path] += 1
            await self._dispatch(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # server shutdown: end quietly
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _dispatch(self, req: Request, writer: asyncio.StreamWriter) -> None:
        path = req.path
        if path in self.routes:
            await self.routes[path](self, req, writer)
            return
        head, _, rest = path.lstrip("/").partition("/")
        handler = getattr(self, f"route_{head.replace('-', '_')}", None)
        if handler is None:
            await respond(writer, 404, b"<p>not found</p>")
            return
        await handler(req, writer, rest)

    # --- routes -----------------------------------------------------------------------------

    async def route_page(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, PAGE)

    async def route_gbk(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, GBK_PAGE, content_type="text/html")

    async def route_status(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, int(rest), b"<html><body><p>status page</p></body></html>")

    async def route_redirect(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 302, b"", headers={"Location": req.query["to"][0]})

    async def route_chain(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        n = int(rest)
        location = "/page" if n <= 1 else f"/chain/{n - 1}"
        await respond(w, 301, b"", headers={"Location": location})

    async def route_loop(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 302, b"", headers={"Location": "/loop"})

    async def route_drip(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        w.write(_head(200, {"Content-Type": "text/html", "Content-Length": "100000"}))
        w.write(b"<html><body>")
        await w.drain()
        for _ in range(150):
            await asyncio.sleep(0.2)
            w.write(b"x")
            await w.drain()

    async def route_stall(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await asyncio.sleep(30)

    async def route_close(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        return  # the connection is closed without a response

    async def _bomb(self, w: asyncio.StreamWriter, coding: str) -> None:
        await respond(w, 200, bomb(coding), headers={"Content-Encoding": coding})

    async def route_gzip_bomb(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await self._bomb(w, "gzip")

    async def route_brotli_bomb(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await self._bomb(w, "br")

    async def route_deflate_bomb(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await self._bomb(w, "deflate")

    async def route_compressed(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        """The page compressed with ``rest`` (gzip, deflate, raw-deflate, br)."""
        if rest == "br":
            body, coding = brotli.compress(PAGE), "br"
        elif rest == "raw-deflate":
            comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            body, coding = comp.compress(PAGE) + comp.flush(), "deflate"
        else:
            wbits = zlib.MAX_WBITS | 16 if rest == "gzip" else zlib.MAX_WBITS
            comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
            body, coding = comp.compress(PAGE) + comp.flush(), rest
        await respond(w, 200, body, headers={"Content-Encoding": coding})

    async def route_huge(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        w.write(_head(200, {"Content-Type": "text/html", "Transfer-Encoding": "chunked"}))
        chunk = b"<p>" + b"filler " * 9000 + b"</p>"
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range(20_000):  # ~1.2 GB at most; the client hangs up long before
            w.write(framed)
            await w.drain()

    async def route_huge_length(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        w.write(_head(200, {"Content-Type": "text/html", "Content-Length": str(1 << 30)}))
        w.write(b"<html>" + b"x" * 65536)
        await w.drain()
        await asyncio.sleep(5)

    async def route_pdf_as_html(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, PDF, content_type="text/html")

    async def route_zip_as_html(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, ZIP, content_type="text/html; charset=utf-8")

    async def route_gzip_as_html(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        """A .gz file served as text/html, without Content-Encoding."""
        await respond(w, 200, gzip.compress(PAGE), content_type="text/html")

    async def route_pdf(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, PDF, content_type="application/pdf")

    async def route_no_type(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, PAGE, content_type=None)

    async def route_no_type_binary(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 200, PNG, content_type=None)

    async def route_retry_after(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        if self.first_time(f"retry-after/{rest}"):
            seconds = req.query.get("s", ["1"])[0]
            await respond(w, 429, b"<p>slow down</p>", headers={"Retry-After": seconds})
        else:
            await respond(w, 200, PAGE)

    async def route_unavailable(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        if self.first_time(f"unavailable/{rest}"):
            await respond(w, 503, b"<p>try later</p>")
        else:
            await respond(w, 200, PAGE)

    async def route_always_503(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        await respond(w, 503, b"<p>down</p>")

    async def route_cookie_set(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        headers = {"Set-Cookie": "session=abc123; Path=/", "Location": "/cookie-check"}
        await respond(w, 302, b"", headers=headers)

    async def route_cookie_check(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        if "session=abc123" in req.headers.get("cookie", ""):
            await respond(w, 200, PAGE)
        else:
            await respond(w, 403, b"<p>no cookie</p>")

    async def route_headers(self, req: Request, w: asyncio.StreamWriter, rest: str) -> None:
        rows = "".join(f"<p>{k}: {v}</p>" for k, v in sorted(req.headers.items()))
        await respond(w, 200, f"<html><body>{rows}</body></html>".encode())
