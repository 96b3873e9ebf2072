"""A local HTTP server for pages given as bytes by path (syndicated copies and the like).

Serves on a loopback address only, with ``Content-Type: text/html`` and no charset (pages
declare theirs in ``<meta charset>`` or a byte-order mark, as the corpus pages do).
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class PageServer:
    """``pages`` maps a path (``/c/x.html``) to the bytes served there; it may grow later."""

    def __init__(self, pages: dict[str, bytes], host: str = "127.0.0.1") -> None:
        if not host.startswith("127."):
            raise ValueError("the page server only listens on 127.0.0.0/8")
        self.pages = pages
        served = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = served.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.host = host
        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def second_loopback() -> str:
    """127.0.0.2 where it can be bound (Linux routes all of 127/8 to loopback), else 127.0.0.1:
    a second "site" for copies."""
    with suppress(OSError), socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    return "127.0.0.1"
