"""A local HTTP server for the real news pages of ``../shared/corpus``.

``/scrapinghub/<id>.html`` serves the gunzipped original bytes, ``/zh_cwced/<id>.html`` the
original bytes with no charset in the header (as the corpus README says a server must).
``/feeds/<set>.xml?n=10`` is an RSS 2.0 feed (title "Corpus: <set>") of the set's first
``n`` pages, to try sources (`newsflow sources add http://127.0.0.1:8765/feeds/scrapinghub.xml`).
Pages are read from the shared folder, never copied into the repository.
Run standalone: ``python -m tests.support.corpus_server --port 8765``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from xml.sax.saxutils import escape

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


class Corpus:
    def __init__(self, root: Path = DEFAULT_CORPUS) -> None:
        self.root = root

    @cached_property
    def scrapinghub_truth(self) -> dict[str, str]:
        data = json.loads((self.root / "scrapinghub" / "ground-truth.json").read_text("utf-8"))
        return {k: v.get("articleBody") or "" for k, v in data.items()}

    def ids(self, set_name: str) -> list[str]:
        folder = self.root / set_name / "html"
        return sorted(p.name.split(".")[0] for p in folder.iterdir())

    def page(self, set_name: str, page_id: str) -> bytes | None:
        if set_name == "scrapinghub":
            path = self.root / "scrapinghub" / "html" / f"{page_id}.html.gz"
            return gzip.decompress(path.read_bytes()) if path.exists() else None
        if set_name == "zh_cwced":
            path = self.root / "zh_cwced" / "html" / f"{page_id}.html"
            return path.read_bytes() if path.exists() else None
        return None

    def feed(self, set_name: str, base: str, count: int) -> bytes | None:
        """An RSS 2.0 feed of the set's first ``count`` pages (links under ``base``)."""
        if set_name not in ("scrapinghub", "zh_cwced"):
            return None
        items = "".join(
            f"<item><title>Corpus page {escape(p)}</title><link>{escape(base)}/{set_name}/{escape(p)}.html</link>"
            f"<guid>{set_name}/{escape(p)}</guid></item>"
            for p in self.ids(set_name)[:count]
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Corpus: {set_name}</title><link>{escape(base)}/</link>"
            f"<description>pages of ../shared/corpus</description>{items}</channel></rss>"
        ).encode()

    def truth(self, set_name: str, page_id: str) -> str:
        if set_name == "scrapinghub":
            return self.scrapinghub_truth.get(page_id, "")
        return (self.root / "zh_cwced" / "truth" / f"{page_id}.txt").read_text("utf-8")


class CorpusServer:
    """Serve the corpus on 127.0.0.1 in a background thread."""

    def __init__(self, corpus: Corpus | None = None, port: int = 0) -> None:
        self.corpus = corpus or Corpus()
        corpus_ = self.corpus

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                parts = path.strip("/").split("/")
                body = None
                ctype = "text/html"
                if len(parts) == 2 and parts[1].endswith(".html"):
                    body = corpus_.page(parts[0], parts[1][: -len(".html")])
                elif len(parts) == 2 and parts[0] == "feeds" and parts[1].endswith(".xml"):
                    count = int(query[2:]) if query.startswith("n=") and query[2:].isdigit() else 10
                    host = self.headers.get("Host", "127.0.0.1")
                    body = corpus_.feed(parts[1][: -len(".xml")], f"http://{host}", count)
                    ctype = "application/rss+xml; charset=utf-8"
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, set_name: str, page_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{set_name}/{page_id}.html"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    server = CorpusServer(Corpus(args.corpus), args.port)
    print(f"serving {args.corpus} on http://127.0.0.1:{server.port}/", flush=True)
    server.httpd.serve_forever()
