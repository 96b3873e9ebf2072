"""Signatures and idempotency keys of webhook deliveries.

Every delivery carries::

    Idempotency-Key: <sha256 hex of "<rule id>:<article id>">     the same on every retry
    X-Newsflow-Timestamp: <unix seconds>                          when this attempt was signed
    X-Newsflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A receiver recomputes the HMAC over the timestamp header, a dot and the raw body bytes with
the rule's secret, compares it in constant time, and refuses a timestamp more than
:data:`TOLERANCE` seconds away from its clock (a replayed request is refused once it is that
old; within that window the idempotency key tells a retry from a new alert).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

#: Seconds a receiver accepts between the signed timestamp and its own clock.
TOLERANCE = 300
TIMESTAMP_HEADER = "X-Newsflow-Timestamp"
SIGNATURE_HEADER = "X-Newsflow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


def idempotency_key(rule_id: str, article_id: str) -> str:
    """The key of one (rule, article) alert: every attempt at it carries the same key."""
    return hashlib.sha256(f"{rule_id}:{article_id}".encode()).hexdigest()


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``timestamp + "." + body``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, key: str, *, now: float | None = None
) -> dict[str, str]:
    """The headers of one signed attempt (a fresh timestamp each time)."""
    timestamp = int(time.time() if now is None else now)
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        IDEMPOTENCY_HEADER: key,
    }


def verify(
    secret: str,
    timestamp: str | None,
    signed: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE,
) -> bool:
    """The receiver's check (the README's recipe): a fresh timestamp and a matching HMAC."""
    if not timestamp or not signed or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signed.strip())
