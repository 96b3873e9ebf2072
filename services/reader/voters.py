"""Votes that count once per person: an anonymous signed voter id, and a rate limit.

A browser gets a random voter id in a signed cookie (``nf_voter``: ``<id>.<HMAC>``) when it
opens an article page; a vote from it is stored under that id and a second click on the same
button takes it back. The signing key is random, made once and kept in Redis (``<prefix>:
reader:voter-key``), so every reader replica accepts the same cookies and a restart keeps
them. A vote without a valid voter cookie (a script with the API token) counts as a tally,
as before. Every vote, with or without a cookie, counts against a per-address limit
(:data:`VOTES_PER_MINUTE`), kept in Redis like the login limit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request, Response
from redis.asyncio import Redis

from newsflow.settings import Settings

from .security import client_address, cookie_secure, count_in_window

VOTER_COOKIE = "nf_voter"
#: Votes one address may cast per minute.
VOTES_PER_MINUTE = 120
_MAX_AGE = 400 * 24 * 3600


async def _key(request: Request) -> bytes:
    cached: bytes | None = getattr(request.app.state, "voter_key", None)
    if cached:
        return cached
    redis: Redis = request.app.state.redis
    settings: Settings = request.app.state.settings
    name = f"{settings.stream_prefix}:reader:voter-key"
    await redis.set(name, secrets.token_hex(32), nx=True)
    stored = await redis.get(name)
    raw = stored.encode() if isinstance(stored, str) else (stored or b"")
    key = hashlib.sha256(b"newsflow-voter\x00" + raw).digest()
    request.app.state.voter_key = key
    return key


def _sign(key: bytes, voter: str) -> str:
    return hmac.new(key, voter.encode(), hashlib.sha256).hexdigest()[:32]


async def voter_of(request: Request) -> str | None:
    """The voter id of a valid signed cookie, else None."""
    value = request.cookies.get(VOTER_COOKIE, "")
    voter, _, mac = value.partition(".")
    if len(voter) != 32 or not mac or any(c not in "0123456789abcdef" for c in voter):
        return None
    expected = _sign(await _key(request), voter)
    return voter if hmac.compare_digest(mac, expected) else None


async def ensure_voter(request: Request, response: Response) -> str:
    """The request's voter id; a new one is set as a cookie on ``response`` when it has none."""
    voter = await voter_of(request)
    if voter is not None:
        return voter
    voter = secrets.token_hex(16)
    response.set_cookie(
        VOTER_COOKIE,
        f"{voter}.{_sign(await _key(request), voter)}",
        max_age=_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, request.app.state.settings),
    )
    return voter


async def check_vote_rate(request: Request) -> None:
    """Count a vote against the client's address; 429 past :data:`VOTES_PER_MINUTE`."""
    redis: Redis = request.app.state.redis
    settings: Settings = request.app.state.settings
    key = f"{settings.stream_prefix}:reader:votes:{client_address(request)}"
    count, ttl = await count_in_window(redis, key, 60)
    if count > VOTES_PER_MINUTE:
        wait = max(1, ttl)
        raise HTTPException(
            429,
            f"too many votes from your address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


__all__ = ["VOTER_COOKIE", "check_vote_rate", "ensure_voter", "voter_of"]
