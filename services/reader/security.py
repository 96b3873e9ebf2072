"""Protections of the reader: allowed hosts, the write token, body limits, cross-site refusal,
headers.

- Every request must name, in its ``Host`` header, a host the reader serves (loopback names,
  ``reader_host``, ``NEWSFLOW_READER_ALLOWED_HOSTS``); others get 400. This is what stops DNS
  rebinding: a page on an attacker's name re-pointed at this machine is same-origin with
  itself, so ``Origin`` matches ``Host`` and only the name itself gives it away.
- Write calls need ``Authorization: Bearer <NEWSFLOW_API_TOKEN>`` when a token is set, or the
  session cookie that ``/login`` gives a browser for that token (compared in constant time).
  A session is ``v1.<issued>.<nonce>.<HMAC>``: a random nonce per login, its issue time, both
  signed with a key derived from the token; the server refuses it after
  ``reader_session_max_age`` (and every session ends when the token changes). The cookie is
  ``Secure`` when the request came over https (``reader_cookie_secure``); behind a reverse
  proxy, https is what a trusted proxy (``reader_trusted_proxies``) says in X-Forwarded-Proto.
- Guessing the token is rate limited per client address: after ``reader_login_max_failures``
  wrong tokens (login form or Bearer header) within ``reader_login_window_seconds``, the
  address gets 429 with Retry-After until the window ends, whatever it sends; the count is in
  Redis, shared by every reader replica. Valid session cookies are not guesses and still work.
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
import secrets
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from redis.asyncio import Redis
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


_SESSION_VERSION = "v1"


def _session_mac(token: str, payload: str) -> str:
    key = hashlib.sha256(b"newsflow-reader-session\x00" + token.encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def new_session(token: str, now: float | None = None) -> str:
    """A session cookie value for one login: ``v1.<issued>.<nonce>.<HMAC of the three>``."""
    issued = int(time.time() if now is None else now)
    payload = f"{_SESSION_VERSION}.{issued}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_session_mac(token, payload)}"


def session_valid(value: str, token: str, max_age: int, now: float | None = None) -> bool:
    """Whether ``value`` is a session signed for ``token`` and younger than ``max_age`` s."""
    parts = value.split(".")
    if len(value) > 200 or len(parts) != 4 or parts[0] != _SESSION_VERSION:
        return False
    if not parts[1].isdigit():
        return False
    payload = value.rpartition(".")[0]
    if not hmac.compare_digest(parts[3].encode(), _session_mac(token, payload).encode()):
        return False
    age = (time.time() if now is None else now) - int(parts[1])
    return -60 <= age < max_age  # a minute of clock skew between replicas


def _bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def _has_session(request: Request, settings: Settings, token: str) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return bool(cookie) and session_valid(cookie, token, settings.reader_session_max_age)


def is_writer(request: Request, settings: Settings) -> bool:
    """True when the pages may offer writes: no token is set, or the browser has a session.

    For showing what a visitor may do; a write itself goes through :func:`check_writer`. A
    Bearer header is not looked at here: pages do not count wrong tokens, so a page that showed
    the difference would let anyone test guesses past the login limit (outside review).
    """
    token = settings.api_token.get_secret_value()
    if not token:
        return True
    return _has_session(request, settings, token)


def client_address(request: Request) -> str:
    """The client's address: the connection's, or what a trusted proxy says it is."""
    return request.client.host if request.client else "unknown"


async def count_in_window(redis: Redis, key: str, window: int) -> tuple[int, int]:
    """Count one more under ``key`` in a fixed window of ``window`` seconds that the first
    count starts, in one transaction (so parallel requests each see their own number):
    (the count, the seconds left in the window)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = await pipe.execute()
    return int(count), int(ttl)


class LoginLimiter:
    """Failed logins per client address, in Redis (shared by every reader replica)."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.stream_prefix}:reader:login-failures:"
        self.max_failures = settings.reader_login_max_failures
        self.window = settings.reader_login_window_seconds

    async def attempt(self, address: str) -> int | None:
        """Count one try of a token *before* it is compared: None when it may be compared,
        else the seconds until ``address`` may try again (then it is not compared at all).

        Counted first, so that parallel tries cannot all pass a check made before any of them
        was counted (200 at once were all compared when the count came after: outside
        review). The window starts at the first try; a right token takes its try back
        (:meth:`right`).
        """
        count, ttl = await count_in_window(self.redis, self.prefix + address, self.window)
        if count <= self.max_failures:
            return None
        return ttl if ttl > 0 else self.window

    async def right(self, address: str) -> None:
        """The try was the right token: it is no failure (the wrong ones stay counted). Only
        while the count exists: a DECR after it expired would leave a key with no expiry."""
        await self.redis.eval(_TAKE_BACK, 1, self.prefix + address)

    async def succeeded(self, address: str) -> None:
        """A login: the address starts afresh."""
        await self.redis.delete(self.prefix + address)


#: DECR the key only if it exists (one key: fine on a Redis Cluster).
_TAKE_BACK = (
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"
)


def too_many_failures(wait: int) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail=f"too many failed logins from your address; try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )


def limiter_of(request: Request) -> LoginLimiter:
    return LoginLimiter(request.app.state.redis, request.app.state.settings)


async def check_writer(request: Request, refusal: str) -> None:
    """Let a write through (no token set, a valid session, or the right Bearer token), or raise.

    Raises:
        HTTPException: 429 while the client's address is locked out for wrong tokens (its
            Bearer token is then not even compared), 401 otherwise, with ``refusal``.
    """
    settings: Settings = request.app.state.settings
    token = settings.api_token.get_secret_value()
    if not token or _has_session(request, settings, token):
        return
    given = _bearer(request)
    if given is not None:
        limiter = limiter_of(request)
        address = client_address(request)
        if (wait := await limiter.attempt(address)) is not None:
            raise too_many_failures(wait)
        if hmac.compare_digest(given.encode(), token.encode()):
            await limiter.right(address)
            return
    raise HTTPException(status_code=401, detail=refusal, headers={"WWW-Authenticate": "Bearer"})


async def require_writer(request: Request) -> None:
    """FastAPI dependency of every write call of the API."""
    await check_writer(
        request, "this call needs 'Authorization: Bearer <token>' (NEWSFLOW_API_TOKEN is set)"
    )


def cookie_secure(request: Request, settings: Settings) -> bool:
    """The session cookie's Secure attribute (``reader_cookie_secure``)."""
    if settings.reader_cookie_secure == "auto":
        return request.url.scheme == "https"
    return settings.reader_cookie_secure == "true"


#: Names a rebinding attack cannot make a browser send for its own origin: always served.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_ANY_ADDRESS = ("0.0.0.0", "::")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_IPV6_CHARS = frozenset("0123456789abcdef:.")


def host_name(value: str) -> str | None:
    """The host of a ``Host`` header or setting entry: lower case, no port, no brackets, no
    trailing dot; None when it is malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :]
        if end == -1 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        name = value[1:end]
    elif value.count(":") > 1:
        name = value  # an IPv6 address written without brackets (settings)
    else:
        name, _, port = value.partition(":")
        if port and not port.isdigit():
            return None
    name = name.rstrip(".")
    # A name is letters, digits, dots and hyphens (an IPv6 literal: hex digits, colons, dots);
    # anything else ("evil.com/.example.org") is no host, whatever it ends with.
    allowed = _IPV6_CHARS if ":" in name else _NAME_CHARS
    if not name or not set(name) <= allowed:
        return None
    return name


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names the reader serves, or None when it serves any (``*``)."""
    entries = list(settings.reader_allowed_hosts)
    if "*" in entries:
        return None
    names = set(LOOPBACK_HOSTS)
    bound = host_name(settings.reader_host)
    if bound and bound not in _ANY_ADDRESS:
        names.add(bound)
    names.update(n for n in (host_name(e) for e in entries) if n)
    return frozenset(names)


def host_allowed(host: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a ``Host`` header names a host in ``allowed`` (any port; ``.domain`` entries
    match the domain and its subdomains)."""
    if allowed is None:
        return True
    name = host_name(host) if host else None
    if name is None:
        return False
    return name in allowed or any(
        a.startswith(".") and (name == a[1:] or name.endswith(a)) for a in allowed
    )


def host_refusal(scope: Scope, allowed: frozenset[str] | None) -> str | None:
    """Why the request is refused for its ``Host`` header, or None when it is served."""
    host = _header(scope, b"host")
    if host_allowed(host, allowed):
        return None
    if not host:
        return "the request has no Host header"
    shown = "".join(c for c in (host_name(host) or host)[:100] if c.isprintable())
    return (
        f"this reader does not serve the host {shown!r}: set NEWSFLOW_READER_ALLOWED_HOSTS "
        "to the names it is reached by"
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
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Security headers on every response; Host allow-list, body limit and cross-site refusal
    on requests."""

    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.allowed_hosts = frozenset(allowed_hosts) if allowed_hosts is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if reason := host_refusal(scope, self.allowed_hosts):
            await _send_json(send, 400, reason)
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
        bounded = await self._bounded(scope, receive, send)
        if bounded is None:
            return
        receive = bounded

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
