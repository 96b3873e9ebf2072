"""Generated feeds of every kind, and a local HTTP server that serves them like a site would.

``render(kind, title, items, base)`` writes RSS 0.91, RSS 1.0 (RDF), RSS 2.0, Atom, JSON Feed,
a sitemap, a Google News sitemap (a sitemap index takes child URLs instead). ``FeedServer``
serves routes on 127.0.0.1 with ETag / Last-Modified and answers conditional requests with
304, records every request's headers, and can misbehave (status codes, Retry-After, slow or
endless bodies) per route.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from xml.sax.saxutils import escape, quoteattr

KINDS = ("rss091", "rss10", "rss20", "atom", "json", "sitemap", "news_sitemap")


@dataclass(frozen=True)
class Item:
    url: str
    title: str
    published: datetime
    guid: str | None = None


def _rfc822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def render(kind: str, title: str, items: list[Item], base: str = "") -> tuple[bytes, str]:
    """(body, content type) of a feed of ``kind`` listing ``items``."""
    t = escape(title)
    if kind == "rss091":
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>{escape(i.url)}</link></item>"
            for i in items
        )
        body = (
            f'<?xml version="1.0"?><rss version="0.91"><channel><title>{t}</title>'
            f"<link>{escape(base)}/</link><description>d</description><language>en</language>"
            f"{entries}</channel></rss>"
        )
        return body.encode(), "application/rss+xml"
    if kind == "rss10":
        seq = "".join(f"<rdf:li resource={quoteattr(i.url)}/>" for i in items)
        entries = "".join(
            f"<item rdf:about={quoteattr(i.url)}><title>{escape(i.title)}</title>"
            f"<link>{escape(i.url)}</link><dc:date>{i.published.isoformat()}</dc:date></item>"
            for i in items
        )
        body = (
            '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{escape(base)}/rss"><title>{t}</title><link>{escape(base)}/</link>'
            f"<description>d</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>"
            f"{entries}</rdf:RDF>"
        )
        return body.encode(), "application/rdf+xml"
    if kind == "rss20":
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>{escape(i.url)}</link>"
            f"<guid>{escape(i.guid or i.url)}</guid><pubDate>{_rfc822(i.published)}</pubDate></item>"
            for i in items
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{t}</title>'
            f"<link>{escape(base)}/</link><description>d</description>{entries}</channel></rss>"
        )
        return body.encode(), "application/rss+xml; charset=utf-8"
    if kind == "atom":
        entries = "".join(
            f"<entry><title>{escape(i.title)}</title><link href={quoteattr(i.url)}/>"
            f"<id>{escape(i.guid or i.url)}</id><updated>{i.published.isoformat()}</updated></entry>"
            for i in items
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{t}</title><id>{escape(base)}/atom</id>"
            f"<updated>{datetime.now(UTC).isoformat()}</updated>{entries}</feed>"
        )
        return body.encode(), "application/atom+xml"
    if kind == "json":
        doc = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "home_page_url": f"{base}/",
            "items": [
                {
                    "id": i.guid or i.url,
                    "url": i.url,
                    "title": i.title,
                    "date_published": i.published.isoformat(),
                }
                for i in items
            ],
        }
        return json.dumps(doc, ensure_ascii=False).encode(), "application/feed+json"
    if kind in ("sitemap", "news_sitemap"):
        news_ns = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
        entries = []
        for i in items:
            extra = ""
            if kind == "news_sitemap":
                extra = (
                    f"<news:news><news:publication><news:name>{t}</news:name>"
                    "<news:language>en</news:language></news:publication>"
                    f"<news:publication_date>{i.published.isoformat()}</news:publication_date>"
                    f"<news:title>{escape(i.title)}</news:title></news:news>"
                )
            entries.append(
                f"<url><loc>{escape(i.url)}</loc>"
                f"<lastmod>{i.published.isoformat()}</lastmod>{extra}</url>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            f"{news_ns if kind == 'news_sitemap' else ''}>{''.join(entries)}</urlset>"
        )
        return body.encode(), "application/xml"
    raise ValueError(kind)


def sitemap_index(children: list[str]) -> tuple[bytes, str]:
    parts = "".join(f"<sitemap><loc>{escape(c)}</loc></sitemap>" for c in children)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{parts}</sitemapindex>'
    )
    return body.encode(), "application/xml"


@dataclass
class Route:
    """What one path answers. ``body`` may be replaced while the server runs."""

    body: bytes = b""
    content_type: str = "application/xml"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Validators sent with the body, and honoured on conditional requests.
    conditional: bool = True
    #: Seconds to wait before answering (timeouts).
    delay: float = 0.0
    #: Send the headers then bytes forever (until the client hangs up).
    endless: bool = False
    #: Called to build the body at request time instead of ``body``.
    make: Callable[[], bytes] | None = None
    last_modified: str = field(
        default_factory=lambda: format_datetime(datetime.now(UTC), usegmt=True)
    )


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int
    at: float


class FeedServer:
    """Serve ``routes`` on 127.0.0.1 in a background thread, remembering every request."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                route = server.routes.get(path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = 404 if route is None else route.status
                body = b""
                if route is not None and route.status == 200:
                    body = route.make() if route.make else route.body
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    if route.conditional and (
                        headers.get("if-none-match") == etag
                        or (
                            headers.get("if-modified-since") == route.last_modified
                            and "if-none-match" not in headers
                        )
                    ):
                        status = 304
                with server.lock:
                    server.requests.append(Seen(path, headers, status, time.monotonic()))
                if route is not None and route.delay:
                    time.sleep(route.delay)
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                extra = dict(route.headers)
                if status in (200, 304) and route.conditional and route.status == 200:
                    extra.update({"ETag": etag, "Last-Modified": route.last_modified})
                if status == 304:
                    self.send_response(304)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.endless:
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.end_headers()
                    chunk = b"<item><title>x</title></item>" * 2000
                    try:
                        self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                        while True:
                            self.wfile.write(chunk)
                    except OSError:
                        return
                self._send(status, body if status == 200 else b"", route.content_type, extra)

            def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        # Clients that hang up (the endless body, timeouts) are expected: no tracebacks.
        self.httpd.handle_error = lambda _request, _client_address: None  # type: ignore[method-assign]
        self.port = self.httpd.server_address[1]
        self.host = host
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def seen(self, path: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
