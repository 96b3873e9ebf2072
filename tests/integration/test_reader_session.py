"""The reader's browser session and login: per-login cookies that expire, Secure behind a TLS
proxy that is trusted, and a login rate limit per client address held in Redis.

Before: the cookie was one constant HMAC of the token for every login (a stolen cookie was
valid forever), never expired server-side, was never ``Secure`` behind a TLS proxy (proxy
headers were ignored), and ``/login`` could be tried without limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from services.reader.security import SESSION_COOKIE
from tests.integration.test_reader_api import article
from tests.support.apps import reader_client

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-the-reader"


def guarded(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"api_token": SecretStr(TOKEN), **extra})


def reader(
    settings: Settings, client: tuple[str, int] = ("127.0.0.1", 40000)
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return reader_client(settings, peer=client)


async def login(c: httpx.AsyncClient, token: str = TOKEN, **headers: str) -> httpx.Response:
    return await c.post("/login", data={"token": token}, headers=headers)


def cookie_of(r: httpx.Response) -> str:
    header = r.headers["set-cookie"]
    assert header.startswith(f"{SESSION_COOKIE}=")
    return header.split(";")[0].split("=", 1)[1]


async def vote(
    c: httpx.AsyncClient, aid: str, cookie: str | None = None, **headers: str
) -> httpx.Response:
    c.cookies.clear()  # only the session given here, not what the last login set
    if cookie is not None:
        headers = {**headers, "cookie": f"{SESSION_COOKIE}={cookie}"}
    return await c.post(f"/api/articles/{aid}/votes", json={"kind": "up"}, headers=headers)


@pytest.fixture
async def aid(store: ArticleStore) -> str:
    doc = article("https://a.example/session")
    await store.import_documents([doc])
    return str(doc["_id"])


async def test_each_login_gets_its_own_cookie_and_the_old_constant_one_is_refused(
    settings: Settings, aid: str
) -> None:
    async with reader(guarded(settings)) as c:
        first, second = cookie_of(await login(c)), cookie_of(await login(c))
        assert first != second and TOKEN not in first
        for cookie in (first, second):
            assert (await vote(c, aid, cookie)).status_code == 200
        # The value every login used to get (one HMAC of the token): no longer a session.
        constant = hmac.new(TOKEN.encode(), b"newsflow-reader-session", hashlib.sha256).hexdigest()
        assert (await vote(c, aid, constant)).status_code == 401
        # Tampered: another time or another nonce under the same MAC.
        parts = first.split(".")
        assert len(parts) >= 3
        for bad in (
            ".".join([parts[0], str(int(parts[1]) + 86400 * 30), *parts[2:]]),
            first[:-1] + ("0" if first[-1] != "0" else "1"),
            "",
            "garbage",
        ):
            assert (await vote(c, aid, bad)).status_code == 401, bad


async def test_sessions_expire_on_the_server(settings: Settings, aid: str) -> None:
    async with reader(guarded(settings, reader_session_max_age=1)) as c:
        r = await login(c)
        assert "max-age=1" in r.headers["set-cookie"].lower()
        cookie = cookie_of(r)
        assert (await vote(c, aid, cookie)).status_code == 200
        await asyncio.sleep(2.2)
        # Still sent by a client that ignores Max-Age (or replayed): refused all the same.
        assert (await vote(c, aid, cookie)).status_code == 401


async def test_the_cookie_is_secure_when_the_request_is_https(settings: Settings) -> None:
    https = {"x-forwarded-proto": "https"}
    cases = [
        ({}, {}, False),  # auto, plain http
        ({}, https, False),  # proxy headers from an untrusted address are ignored
        ({"reader_trusted_proxies": ["127.0.0.0/8"]}, https, True),  # a trusted TLS proxy
        ({"reader_trusted_proxies": ["10.0.0.0/8"]}, https, False),  # not from this proxy
        ({"reader_cookie_secure": "true"}, {}, True),
        ({"reader_cookie_secure": "false", "reader_trusted_proxies": ["127.0.0.1"]}, https, False),
    ]
    for extra, headers, secure in cases:
        async with reader(guarded(settings, **extra)) as c:
            r = await login(c, **headers)
            assert r.status_code == 303, (extra, r.text)
            attributes = [a.strip().lower() for a in r.headers["set-cookie"].split(";")]
            assert ("secure" in attributes) is secure, (extra, headers, attributes)
            assert "httponly" in attributes and "samesite=strict" in attributes


async def test_failed_logins_are_limited_per_client_address(
    settings: Settings, redis: Redis, aid: str
) -> None:
    limited = guarded(settings, reader_login_max_failures=5, reader_login_window_seconds=300)
    async with reader(limited) as c:
        for _ in range(5):
            assert (await login(c, "wrong")).status_code == 401
        r = await login(c, "wrong")
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= 300
        assert "too many failed" in r.text.lower()
        # Locked: even the right token is not tried (a guess must not be confirmed).
        assert (await login(c)).status_code == 429
        # So is a guess through the API's Bearer header.
        r = await vote(c, aid, None, authorization="Bearer wrong")
        assert r.status_code == 429 and "retry-after" in r.headers
    # Another address is not affected.
    async with reader(limited, client=("198.51.100.7", 40000)) as other:
        assert (await login(other)).status_code == 303
    # Another replica of the reader (another app on the same Redis) sees the same lock.
    async with reader(limited) as replica:
        assert (await login(replica)).status_code == 429


async def test_bearer_guesses_count_and_sessions_still_write_when_locked(
    settings: Settings, aid: str
) -> None:
    limited = guarded(settings, reader_login_max_failures=3)
    async with reader(limited) as c:
        cookie = cookie_of(await login(c))
        for _ in range(3):
            assert (await vote(c, aid, None, authorization="Bearer nope")).status_code == 401
        assert (await vote(c, aid, None, authorization="Bearer nope")).status_code == 429
        assert (await vote(c, aid, None, authorization=f"Bearer {TOKEN}")).status_code == 429
        # A session cookie is no guess (its MAC cannot be guessed): it keeps working.
        assert (await vote(c, aid, cookie)).status_code == 200


async def test_parallel_guesses_are_counted_before_they_are_compared(
    settings: Settings, aid: str
) -> None:
    # The count came after the comparison: 200 guesses sent at once were all compared
    # (outside review). Counted first, only the first 3 are.
    limited = guarded(settings, reader_login_max_failures=3)
    async with reader(limited) as c:
        answers = await asyncio.gather(
            *(vote(c, aid, None, authorization=f"Bearer guess-{i}") for i in range(30))
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [401] * 3 + [429] * 27
        logins = await asyncio.gather(*(login(c, f"guess-{i}") for i in range(5)))
        assert {r.status_code for r in logins} == {429}


async def test_a_right_bearer_token_is_no_failure(settings: Settings, aid: str) -> None:
    limited = guarded(settings, reader_login_max_failures=3)
    async with reader(limited) as c:
        for _ in range(10):  # an API client's calls never lock it out
            assert (await vote(c, aid, None, authorization=f"Bearer {TOKEN}")).status_code == 200
        for _ in range(3):
            assert (await vote(c, aid, None, authorization="Bearer nope")).status_code == 401
        assert (await vote(c, aid, None, authorization=f"Bearer {TOKEN}")).status_code == 429


async def test_log_out_forgets_the_browsers_session(settings: Settings) -> None:
    async with reader(guarded(settings)) as c:
        assert "Log out" not in (await c.get("/")).text
        cookie_of(await login(c))
        page = (await c.get("/alerts")).text
        assert 'action="/logout"' in page and 'id="add-rule"' in page
        out = await c.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/"
        assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"]
        page = (await c.get("/alerts")).text
        assert 'id="add-rule"' not in page and "Log in" in page


async def test_pages_do_not_tell_a_right_bearer_token_from_a_wrong_one(
    settings: Settings,
) -> None:
    # Pages count no guesses, so they must not answer one: only a session shows the writer's
    # page (before, the right Bearer token showed the rules and hid "Log in", uncounted).
    async with reader(guarded(settings)) as c:
        pages = [
            (await c.get(path, headers={"authorization": f"Bearer {token}"})).text
            for path in ("/", "/alerts")
            for token in ("nope", TOKEN)
        ]
        assert pages[0] == pages[1] and pages[2] == pages[3]
        assert 'id="add-rule"' not in pages[3]
        await login(c)
        assert 'id="add-rule"' in (await c.get("/alerts")).text


async def test_the_limit_follows_the_client_behind_a_trusted_proxy(settings: Settings) -> None:
    limited = guarded(
        settings, reader_login_max_failures=2, reader_trusted_proxies=["127.0.0.1/32"]
    )
    async with reader(limited) as c:
        one = {"x-forwarded-for": "203.0.113.5"}
        for _ in range(2):
            assert (await login(c, "wrong", **one)).status_code == 401
        assert (await login(c, "wrong", **one)).status_code == 429
        # Another client behind the same proxy is another address.
        assert (await login(c, **{"x-forwarded-for": "203.0.113.6"})).status_code == 303
    # Not trusted: X-Forwarded-For is the client's own claim, and is ignored.
    untrusted = guarded(settings, reader_login_max_failures=2)
    async with reader(untrusted, client=("192.0.2.44", 1)) as c:
        for address in ("203.0.113.7", "203.0.113.8"):
            assert (await login(c, "wrong", **{"x-forwarded-for": address})).status_code == 401
        assert (await login(c, "wrong", **{"x-forwarded-for": "203.0.113.9"})).status_code == 429
