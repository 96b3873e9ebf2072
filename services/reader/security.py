"""Protections of the reader: the write token, body limits, cross-site refusal, headers.

- Write calls need ``Authorization: Bearer <NEWSFLOW_API_TOKEN>`` when a token is set, or the
  session cookie that ``/login`` gives a browser for that token (compared in constant time).
- Request bodies are read up to ``NEWSFLOW_READER_MAX_BODY_BYTES``; a larger one is refused
  with 413 before the application sees it, whether or not it declared its length.
- A write that a browser sends from another site (``Origin`` or ``Sec-Fetch-Site`` says so)
  is refused: pages of other sites cannot vote or publish with a visitor's session.
- Every response carries a strict Content-Security-Policy (scripts and styles only from our
  own ``/static`` files, no inline script), ``X-Content-Type-Options: nosniff``, a
  same-origin ``Referrer-Policy`` and ``frame-ancestors 'none'``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsflow.settings import Settings

SESSION_COOKIE = "newsflow_session"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Not no-referrer: with it Chromium sends "Origin: null" on our own form posts, which the
    # cross-site check must refuse. same-origin leaks nothing to other sites either.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def session_value(token: str) -> str:
    """The cookie value that stands for ``token`` (a keyed hash, not the token itself)."""
    return hmac.new(token.encode(), b"newsflow-reader-session", hashlib.sha256).hexdigest()


def is_writer(request: Request, settings: Settings) -> bool:
    """True when the request may write: no token is set, or it carries the token or session."""
    token = settings.api_token.get_secret_value()
    if not token:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def require_writer(request: Request) -> None:
    """FastAPI dependency of every write call."""
    settings: Settings = request.app.state.settings
    if not is_writer(request, settings):
        raise HTTPException(
            status_code=401,
            detail="this call needs 'Authorization: Bearer <token>' (NEWSFLOW_API_TOKEN is set)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def cross_site_reason(scope: Scope) -> str | None:
    """Why a write from a browser is refused as cross-site, or None when it may go on."""
    if scope.get("method") not in _UNSAFE:
        return None
    if (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site":
        return "cross-site request refused"
    origin = _header(scope, b"origin")
    if origin is None:
        return None  # not from a browser page (curl, scripts) or a same-origin form of old
    host = _header(scope, b"host") or ""
    try:
        origin_host = urlsplit(origin).netloc
    except ValueError:
        origin_host = ""
    if origin == "null" or origin_host.lower() != host.lower():
        return f"cross-site request refused (Origin {origin[:100]!r} is not this site)"
    return None


async def _send_json(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"status": status, "message": message, "details": []}}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS],
    })
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Security headers on every response; body limit and cross-site refusal on requests."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if reason := cross_site_reason(scope):
            await _send_json(send, 403, reason)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, "Content-Length is not a number")
                return
            if int(declared) > self.max_body:
                await _send_json(send, 413, f"request body larger than {self.max_body} bytes")
                return
        receive = await self._bounded(scope, receive, send)
        if receive is None:
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(k, v) for k, v in SECURITY_HEADERS if k not in names],
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the whole body (it is small by definition) and replay it, or refuse it."""
        if scope.get("method") not in _UNSAFE:
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _send_json(send, 413, f"request body larger than {self.max_body} bytes")
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def client_label(request: Request) -> str:
    """Who submitted, for the audit trail: ``reader`` plus the client address."""
    client = request.client
    return f"reader:{client.host}" if client else "reader"
