"""Local webhook receivers on 127.0.0.1: Newsflow's signed JSON, and the request shapes of the
Telegram Bot API, Discord webhooks and Slack incoming webhooks.

- ``/hooks/<name>``: a Newsflow receiver. It verifies every request exactly as the README's
  recipe says (the timestamp within 5 minutes, HMAC-SHA256 over ``timestamp + "." + body``
  with the rule's secret, compared in constant time) and answers 401 when that fails.
- ``/bot<token>/sendMessage``: Telegram's ``sendMessage``: ``chat_id`` (integer or
  ``@channel``), ``text`` of 1-4096 characters once its entities are parsed, ``parse_mode``;
  with ``HTML`` only the tags Telegram supports, properly nested. Answers like the Bot API:
  ``{"ok": true, "result": {...}}`` or ``400 {"ok": false, "error_code", "description"}``.
- ``/api/webhooks/<id>/<token>``: Discord's "execute webhook": ``content`` (<= 2000) and/or
  ``embeds`` (<= 10, each with Discord's field limits, 6000 characters in all), valid
  ``allowed_mentions``; answers 204, or 400 with Discord's error codes.
- ``/services/T.../B.../...``: a Slack incoming webhook: ``text`` and/or ``blocks`` (<= 50,
  section/context/header/divider with their text limits); answers ``200 ok`` or ``400
  invalid_blocks`` / ``no_text`` / ``invalid_payload`` as plain text.

Each path misbehaves on demand (:meth:`WebhookServer.misbehave`): ``500``, ``503``,
``429`` / ``429:SECONDS`` (with Retry-After), ``404``, ``redirect``, ``slow:SECONDS``,
``close`` (drop the connection). Every request is recorded in :attr:`WebhookServer.requests`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

#: Seconds a receiver accepts between the signed timestamp and its clock (the README's 5 min).
TOLERANCE = 300


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> str | None:
    """The README's recipe; returns why the request is refused, or None when it is genuine."""
    timestamp = headers.get("x-newsflow-timestamp", "")
    signed = headers.get("x-newsflow-signature", "")
    if not timestamp.isdigit() or not signed.startswith("sha256="):
        return "missing or malformed signature headers"
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return "timestamp outside the 5-minute window"
    expected = (
        "sha256="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(expected, signed):
        return "signature does not match"
    return None


@dataclass
class Received:
    """One request as the receiver saw it."""

    kind: str  # newsflow, telegram, discord, slack, unknown
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    #: Why the receiver refused it (None when accepted or when it misbehaved on purpose).
    problem: str | None = None
    misbehaved: str | None = None
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")


# --- Telegram ---------------------------------------------------------------------------------

_TG_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}


class _TelegramHTML(HTMLParser):
    """Parses ``text`` as Telegram's HTML parse mode does, or records why it cannot."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text = ""
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TG_TAGS:
            self.problem = self.problem or f'Unsupported start tag "{tag}"'
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if not re.match(r"^(https?|tg)://", href):
                self.problem = self.problem or "Wrong HTTP URL"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'Unmatched end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text += data


def check_telegram(path: str, body: dict[str, Any]) -> str | None:
    if not re.fullmatch(r"/bot\d+:[A-Za-z0-9_-]{20,}/sendMessage", path):
        return "Not Found"
    chat = body.get("chat_id")
    if isinstance(chat, bool) or not (
        isinstance(chat, int)
        or (isinstance(chat, str) and re.fullmatch(r"@[A-Za-z0-9_]{5,32}|-?\d+", chat))
    ):
        return "Bad Request: chat_id is empty or invalid"
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return "Bad Request: message text is empty"
    mode = body.get("parse_mode")
    plain = text
    if mode is not None and mode not in ("HTML", "MarkdownV2", "Markdown"):
        return f"Bad Request: unsupported parse_mode {mode!r}"
    if mode == "HTML":
        if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
            return "Bad Request: can't parse entities: unsupported character entity"
        parser = _TelegramHTML()
        parser.feed(text)
        parser.close()
        if parser.problem or parser.stack:
            return f"Bad Request: can't parse entities: {parser.problem or 'unclosed tag'}"
        plain = parser.text
    if len(plain) > 4096:
        return "Bad Request: message is too long"
    preview = body.get("disable_web_page_preview")
    if preview is not None and not isinstance(preview, bool):
        return "Bad Request: disable_web_page_preview must be a boolean"
    return None


# --- Discord ----------------------------------------------------------------------------------


def check_discord(path: str, body: dict[str, Any]) -> str | None:
    if not re.fullmatch(r"/api/webhooks/\d+/[A-Za-z0-9_-]+", path):
        return "10015 Unknown Webhook"
    content = body.get("content")
    embeds = body.get("embeds") or []
    if content is not None and (not isinstance(content, str) or len(content) > 2000):
        return "50035 Invalid Form Body: content must be 2000 or fewer in length"
    if not content and not embeds:
        return "50006 Cannot send an empty message"
    if not isinstance(embeds, list) or len(embeds) > 10:
        return "50035 Invalid Form Body: embeds must be a list of at most 10"
    total = 0
    for embed in embeds:
        if not isinstance(embed, dict):
            return "50035 Invalid Form Body: embed must be an object"
        limits = {"title": 256, "description": 4096}
        for name, limit in limits.items():
            value = embed.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                return f"50035 Invalid Form Body: embeds.{name} must be {limit} or fewer in length"
            total += len(value or "")
        url = embed.get("url")
        if url is not None and not re.match(r"^https?://[^\s]+$", str(url)):
            return "50035 Invalid Form Body: embeds.url: Not a well formed URL"
        color = embed.get("color")
        if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
            return "50035 Invalid Form Body: embeds.color"
        if "timestamp" in embed:
            try:
                datetime.fromisoformat(str(embed["timestamp"]))
            except ValueError:
                return "50035 Invalid Form Body: embeds.timestamp: Could not parse"
        fields = embed.get("fields") or []
        if len(fields) > 25:
            return "50035 Invalid Form Body: embeds.fields must be 25 or fewer"
        for f in fields:
            name, value = f.get("name"), f.get("value")
            if not name or not value or len(name) > 256 or len(value) > 1024:
                return "50035 Invalid Form Body: embeds.fields name/value empty or too long"
            total += len(name) + len(value)
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            return "50035 Invalid Form Body: embeds.footer.text"
        total += len(footer)
    if total > 6000:
        return "50035 Invalid Form Body: embeds exceed 6000 characters"
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse", [])
        if not isinstance(parse, list) or not set(parse) <= {"roles", "users", "everyone"}:
            return "50035 Invalid Form Body: allowed_mentions.parse"
    return None


# --- Slack ------------------------------------------------------------------------------------


def _slack_text(obj: Any, limit: int, kinds: tuple[str, ...] = ("mrkdwn", "plain_text")) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") in kinds
        and isinstance(obj.get("text"), str)
        and 0 < len(obj["text"]) <= limit
    )


def check_slack(path: str, body: dict[str, Any]) -> str | None:
    if not re.fullmatch(r"/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+", path):
        return "no_service"
    text, blocks = body.get("text"), body.get("blocks")
    if not text and not blocks:
        return "no_text"
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "section":
            if "text" in block and not _slack_text(block["text"], 3000):
                return "invalid_blocks"
            if "text" not in block and not block.get("fields"):
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return "invalid_blocks"
            if not all(_slack_text(e, 3000) for e in elements):
                return "invalid_blocks"
        elif kind == "header":
            if not _slack_text(block.get("text"), 150, ("plain_text",)):
                return "invalid_blocks"
        elif kind != "divider":
            return "invalid_blocks"
    return None


# --- the server -------------------------------------------------------------------------------


def _kind(path: str) -> str:
    if path.startswith("/hooks/"):
        return "newsflow"
    if path.startswith("/bot"):
        return "telegram"
    if path.startswith("/api/webhooks/"):
        return "discord"
    if path.startswith("/services/"):
        return "slack"
    return "unknown"


class WebhookServer:
    """The receivers, in a background thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if not host.startswith("127."):
            raise ValueError("the test receivers only listen on 127.0.0.0/8")
        self.requests: list[Received] = []
        #: Secret of each Newsflow path (``/hooks/<name>``), to verify signatures with.
        self.secrets: dict[str, str] = {}
        self._script: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def misbehave(self, path: str, *behaviours: str) -> None:
        """Queue misbehaviours for ``path``, one per coming request, in order."""
        with self._lock:
            self._script[path].extend(behaviours)

    def _next(self, path: str) -> str | None:
        with self._lock:
            queue = self._script.get(path)
            return queue.popleft() if queue else None

    def received(self, path: str | None = None, *, accepted: bool | None = None) -> list[Received]:
        with self._lock:
            found = [r for r in self.requests if path is None or r.path == path]
        if accepted is not None:
            found = [r for r in found if (200 <= r.status < 300) == accepted]
        return found

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(
            self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            # BrokenPipe/ConnectionReset: the sender is gone (a killed notifier); what it
            # sent is recorded.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            kind = _kind(path)
            record = Received(kind, path, headers, body, 0)
            behaviour = server._next(path)
            if behaviour is not None:
                record.misbehaved = behaviour
                name, _, arg = behaviour.partition(":")
                if name == "slow":
                    time.sleep(float(arg or 5))
                elif name == "close":
                    record.status = -1
                    with server._lock:
                        server.requests.append(record)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                else:
                    status = {"redirect": 302}.get(name, int(name) if name.isdigit() else 500)
                    extra = {"Retry-After": arg} if name == "429" and arg else {}
                    if name == "redirect":
                        extra = {"Location": server.url("/hooks/elsewhere")}
                    record.status = status
                    with server._lock:
                        server.requests.append(record)
                    self._answer(
                        status,
                        b'{"error": "the receiver\'s own words, never stored"}',
                        "application/json",
                        extra,
                    )
                    return
            problem = self._check(kind, path, headers, body)
            record.problem = problem
            if kind == "telegram":
                status, answer, ctype = self._telegram(problem, body)
            elif kind == "discord":
                status, answer, ctype = (
                    (204, b"", "text/plain")
                    if problem is None
                    else (
                        400,
                        json.dumps(
                            {
                                "code": int(problem.split()[0]) if problem[0].isdigit() else 0,
                                "message": problem,
                            }
                        ).encode(),
                        "application/json",
                    )
                )
                if problem and problem.startswith("10015"):
                    status = 404
            elif kind == "slack":
                status = 200 if problem is None else (404 if problem == "no_service" else 400)
                answer, ctype = (b"ok" if problem is None else problem.encode()), "text/plain"
            elif kind == "newsflow":
                status = 200 if problem is None else 401
                answer = json.dumps({"received": problem is None, "problem": problem}).encode()
                ctype = "application/json"
            else:
                status, answer, ctype = 404, b"not found", "text/plain"
            record.status = status
            with server._lock:
                server.requests.append(record)
            self._answer(status, answer, ctype)

        def _check(self, kind: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
            if kind == "newsflow":
                secret = server.secrets.get(path)
                if secret is None:
                    return "no secret known for this path"
                return verify_signature(secret, headers, body)
            if not headers.get("content-type", "").startswith("application/json"):
                return "invalid_payload" if kind == "slack" else "Bad Request: wrong content type"
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return "invalid_payload" if kind == "slack" else "Bad Request: body is not JSON"
            if not isinstance(data, dict):
                return "invalid_payload"
            if kind == "telegram":
                return check_telegram(path, data)
            if kind == "discord":
                return check_discord(path, data)
            if kind == "slack":
                return check_slack(path, data)
            return "unknown receiver"

        def _telegram(self, problem: str | None, body: bytes) -> tuple[int, bytes, str]:
            if problem is not None:
                code = 404 if problem == "Not Found" else 400
                return (
                    code,
                    json.dumps({"ok": False, "error_code": code, "description": problem}).encode(),
                    "application/json",
                )
            data = json.loads(body)
            result = {
                "message_id": len(server.requests) + 1,
                "date": int(time.time()),
                "chat": {"id": data["chat_id"]},
            }
            return 200, json.dumps({"ok": True, "result": result}).encode(), "application/json"

    return Handler
