"""Sending alert webhooks: signed POSTs to untrusted URLs, with retries and reasons in words.

A webhook URL is untrusted input (anyone who may add a rule chooses it), so it gets the
fetcher's SSRF policy: the URL is vetted first (scheme, userinfo, port, address literals in
any spelling) and every connection goes through the same connect-time vetting backend, so a
name that resolves to a private, loopback, link-local or metadata address is refused and
DNS rebinding does not help. Redirects are not followed.

What goes wrong is said in words that name the host and never hold a secret (the URL's path,
which carries chat services' tokens) or the receiver's answer body::

    "hooks.example.com answered HTTP 404 Not Found"
    "hooks.example.com: no answer within 10 s"
    "refused: 10.0.0.5 is a private address (hooks.example.com resolves to it)"
"""

from __future__ import annotations

import asyncio
import http
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import certifi
import httpx

from newsflow.settings import Settings
from newsflow.stages.alerts import (
    AlertRule,
    Subject,
    backoff_delay,
    idempotency_key,
    redact_url,
    render,
    signed_headers,
)
from newsflow.stages.fetching import (
    AddressPolicy,
    GuardedBackend,
    Refused,
    Resolver,
    Unresolvable,
    guarded_transport,
    vet_url,
)

_RETRYABLE_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Attempt:
    """What one POST came to."""

    ok: bool
    status: int | None = None
    #: Why it failed, in words (None when it succeeded).
    reason: str | None = None
    #: Whether the same request may succeed later (network, timeout, 408/425/429, 5xx).
    retryable: bool = False
    #: Seconds the receiver asked to wait (``Retry-After``).
    retry_after: float | None = None


@dataclass(frozen=True)
class Delivery:
    """What a delivery (every attempt at one webhook) came to."""

    ok: bool
    attempts: int
    status: int | None = None
    reason: str | None = None
    #: True when it gave up on a failure that a later try may get past.
    retryable: bool = False


def _status_text(code: int) -> str:
    try:
        return f"HTTP {code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _tls_rejected(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _host_of(url: str) -> str:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return "the webhook host"
    host = parsed.host or "the webhook host"
    return f"{host}:{parsed.port}" if parsed.port else host


class WebhookSender:
    """POSTs webhook bodies under the fetcher's SSRF policy. One per process.

    ``resolver`` replaces DNS resolution and ``ssl_context`` the trusted CAs (tests only).
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
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=10)
        timeout = httpx.Timeout(settings.alert_timeout)
        self.client = httpx.AsyncClient(
            transport=guarded_transport(self.backend, ssl_context, limits),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.fetch_user_agent},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def check(self, url: str) -> str | None:
        """Why ``url`` would be refused before any connection (None: it may be tried).

        A syntactic check (scheme, port, address literals); names are vetted at connect time.
        """
        try:
            vet_url(url, self.policy, self.settings.fetch_allowed_ports)
        except Refused as exc:
            return exc.reason
        return None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        """One POST of ``body``; never raises for anything the network or receiver does."""
        host = _host_of(url)
        try:
            target = vet_url(url, self.policy, self.settings.fetch_allowed_ports)
        except Refused as exc:
            return Attempt(False, reason=exc.reason)
        request_headers = {"Content-Type": "application/json", **headers}
        try:
            request = self.client.build_request(
                "POST", target, content=body, headers=request_headers
            )
            response = await self.client.send(request, stream=True)
        except Refused as exc:
            return Attempt(False, reason=exc.reason)
        except Unresolvable:
            return Attempt(False, reason=f"cannot resolve host {host}")
        except httpx.TimeoutException:
            return Attempt(
                False,
                reason=f"{host}: no answer within {self.settings.alert_timeout:g} s",
                retryable=True,
            )
        except httpx.TransportError as exc:
            if _tls_rejected(exc):
                return Attempt(False, reason=f"{host}: TLS certificate rejected")
            if isinstance(exc, httpx.ConnectError):
                words = (
                    "connection refused" if "refused" in str(exc).lower() else "connection failed"
                )
            elif isinstance(exc, httpx.RemoteProtocolError):
                words = "broken HTTP response"
            else:
                words = "network error"
            return Attempt(False, reason=f"{host}: {words}", retryable=True)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError):
            return Attempt(False, reason=f"{host}: the request could not be sent")
        # The answer's body is never read: it is the receiver's, and not ours to store.
        await response.aclose()
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(True, status=status)
        words = f"{host} answered {_status_text(status)}"
        if 300 <= status < 400:
            return Attempt(False, status=status, reason=f"{words} (redirects are not followed)")
        if status in _RETRYABLE_STATUS or status >= 500:
            return Attempt(
                False,
                status=status,
                reason=words,
                retryable=True,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        return Attempt(False, status=status, reason=words)

    async def deliver(
        self,
        url: str,
        body: bytes,
        headers: Callable[[], dict[str, str]],
        *,
        deadline: float | None = None,
    ) -> Delivery:
        """POST until it succeeds, fails for good, or ``1 + alert_retries`` attempts are made.

        ``headers`` is called before each attempt (a fresh signature timestamp each time).
        No attempt starts after ``deadline`` (``time.monotonic()``), nor does a backoff sleep
        run past it: a delivery stays within the lease its caller holds.
        """
        settings = self.settings
        attempts = 0
        last = Attempt(False, reason="not attempted")
        while True:
            attempts += 1
            last = await self.post(url, body, headers())
            if last.ok or not last.retryable or attempts > settings.alert_retries:
                break
            delay = backoff_delay(
                attempts,
                base=settings.alert_backoff,
                cap=settings.alert_backoff_max,
                retry_after=last.retry_after,
            )
            if (
                deadline is not None
                and time.monotonic() + delay + settings.alert_timeout > deadline
            ):
                break
            await asyncio.sleep(delay)
        reason = last.reason
        if not last.ok and attempts > 1 and reason:
            reason = f"{reason} ({attempts} attempts)"
        return Delivery(
            ok=last.ok,
            attempts=attempts,
            status=last.status,
            reason=reason,
            retryable=not last.ok and last.retryable,
        )


def page_base(settings: Settings) -> str:
    """The reader's address for the article links in alerts."""
    return (settings.public_url or f"http://{settings.reader_host}:{settings.reader_port}").rstrip(
        "/"
    )


async def send_test(settings: Settings, rule: AlertRule, subject: Subject) -> tuple[bool, str]:
    """Send one signed delivery of ``subject`` to ``rule``'s webhook (nothing is recorded)."""
    key = idempotency_key(rule.id, subject.article_id)
    payload = render(
        rule, subject, page_url=f"{page_base(settings)}/articles/{subject.article_id}", key=key
    )
    sender = WebhookSender(settings)
    try:
        result = await sender.deliver(
            rule.url, payload.body, lambda: signed_headers(rule.secret, payload.body, key)
        )
    finally:
        await sender.aclose()
    if result.ok:
        return True, f"delivered: HTTP {result.status} from {redact_url(rule.url)}"
    return False, f"failed: {result.reason}"
