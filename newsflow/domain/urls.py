"""Canonical URLs and article ids.

The id of an article is the sha256 hex of its canonical URL; its first 10 hex digits are the
short id people see. Canonical means: lower-case scheme and host, no default port, no
fragment, no user-info, tracking parameters (utm_*, fbclid, gclid...) dropped, the remaining
query parameters sorted. Parameters that identify the article (``?story=123``) are kept.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url

SHORT_ID_LEN = 10


class InvalidUrl(ValueError):
    """A submitted URL that cannot be an article address; ``str(exc)`` is the reason."""


def check_submitted(url: str) -> str:
    """Return the stripped URL or raise :class:`InvalidUrl` with a human-readable reason."""
    url = url.strip()
    if not url:
        raise InvalidUrl("empty URL")
    if len(url) > 8192:
        raise InvalidUrl("URL longer than 8192 characters")
    if any(ord(c) < 0x21 for c in url):
        raise InvalidUrl("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidUrl(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if not parts.hostname:
        raise InvalidUrl("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("URL carries user-info (user:password@); refused")
    if port == 0:
        raise InvalidUrl("port 0 is not a valid port")
    return url


def canonical_url(url: str) -> str:
    """The canonical form of a checked URL (see the module docstring)."""
    url = check_submitted(url)
    normalized = normalize_url(url, strict=False, trailing_slash=True)
    parts = urlsplit(normalized)
    host = (parts.hostname or "").rstrip(".")
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}" if ":" not in host else f"[{host}]:{parts.port}"
    elif ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))


def article_id(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def short_id(full_id: str) -> str:
    return full_id[:SHORT_ID_LEN]


def source_name(url: str) -> str:
    """The site name shown for an article: its host without ``www.``."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host.removeprefix("www.")
