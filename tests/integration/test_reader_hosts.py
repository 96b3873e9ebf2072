"""DNS rebinding: the reader answers only to the host names it is configured for.

An attacker's page on ``rebind.attacker.example`` whose name is re-pointed at 127.0.0.1 is,
for the browser, same-origin with itself: ``Origin`` and ``Host`` both say
``rebind.attacker.example``, so the cross-site check passes. Only the Host allow-list
(``NEWSFLOW_READER_ALLOWED_HOSTS``, loopback names and ``reader_host`` by default) stops it,
on every request, reads included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from services.reader.main import create_app
from services.reader.server import ReaderThread
from tests.integration.test_reader_api import article
from tests.support.apps import reader_client

pytestmark = pytest.mark.integration

FORGED = [
    "rebind.attacker.example",
    "rebind.attacker.example:8000",
    "127.0.0.1.nip.io",
    "localhost.attacker.example",
    "evil",
    "[::2]:8000",
    "127.0.0.2",
]
LOOPBACK = [
    "localhost",
    "localhost:8000",
    "LOCALHOST.",
    "127.0.0.1",
    "127.0.0.1:65000",
    "[::1]",
    "[::1]:8000",
]


@pytest.fixture
async def default_client(
    settings: Settings, store: ArticleStore
) -> AsyncIterator[httpx.AsyncClient]:
    async with reader_client(settings) as client:
        yield client


async def test_forged_hosts_are_refused_on_every_request(
    default_client: httpx.AsyncClient, store: ArticleStore
) -> None:
    doc = article("https://a.example/x")
    await store.import_documents([doc])
    for host in FORGED:
        headers = {"host": host, "origin": f"http://{host}"}
        for method, path, body in [
            ("GET", "/", None),
            ("GET", "/api/articles", None),
            ("GET", "/healthz", None),
            ("GET", f"/articles/{doc['_id']}", None),
            ("GET", "/static/reader.js", None),
            ("POST", "/api/articles", {"url": "https://a.example/new"}),
            ("POST", f"/api/articles/{doc['_id']}/votes", {"kind": "up"}),
        ]:
            r = await default_client.request(method, path, json=body, headers=headers)
            assert r.status_code == 400, (host, method, path, r.status_code)
            message = r.json()["error"]["message"]
            name = urlsplit(f"//{host}").hostname or ""
            assert name and name in message.lower(), message
            assert "NEWSFLOW_READER_ALLOWED_HOSTS" in message
    # Nothing was written.
    assert [a.id for a in await store.latest(10)] == [doc["_id"]]
    stored = await store.article(doc["_id"])
    assert stored is not None and stored.votes.up == 0


async def test_loopback_names_are_served_whatever_the_port(
    default_client: httpx.AsyncClient, store: ArticleStore
) -> None:
    for host in LOOPBACK:
        r = await default_client.get("/api/articles", headers={"host": host})
        assert r.status_code == 200, host
    r = await default_client.post(
        "/api/articles",
        json={"url": "https://a.example/ok"},
        headers={"host": "localhost:8000", "origin": "http://localhost:8000"},
    )
    assert r.status_code == 200


async def test_a_request_without_a_host_is_refused(settings: Settings, store: ArticleStore) -> None:
    app = create_app(settings)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/articles",
        "raw_path": b"/api/articles",
        "query_string": b"",
        "headers": [],
        "http_version": "1.0",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"no Host header" in sent[1]["body"]  # type: ignore[operator]


async def test_configured_names_and_the_wildcard(settings: Settings, store: ArticleStore) -> None:
    named = settings.model_copy(
        update={"reader_allowed_hosts": ["news.example.org", ".example.net"]}
    )
    async with reader_client(named) as client:
        for host, status in [
            ("news.example.org", 200),
            ("NEWS.EXAMPLE.ORG:443", 200),
            ("a.example.net", 200),
            ("example.net", 200),
            ("localhost", 200),
            ("example.org", 400),
            ("news.example.org.attacker.example", 400),
            ("badexample.net", 400),
        ]:
            r = await client.get("/api/articles", headers={"host": host})
            assert r.status_code == status, host
    anything = settings.model_copy(update={"reader_allowed_hosts": ["*"]})
    async with reader_client(anything) as client:
        assert (await client.get("/", headers={"host": "whatever.example"})).status_code == 200
    bound = settings.model_copy(update={"reader_host": "192.168.1.20"})
    async with reader_client(bound) as client:
        assert (await client.get("/", headers={"host": "192.168.1.20:8000"})).status_code == 200
        assert (await client.get("/", headers={"host": "192.168.1.21"})).status_code == 400


def test_a_real_server_refuses_a_forged_host(settings: Settings) -> None:
    with ReaderThread(settings) as reader:
        forged = httpx.get(f"{reader.url}/healthz", headers={"Host": "rebind.attacker.example"})
        assert forged.status_code == 400
        assert "rebind.attacker.example" in forged.json()["error"]["message"]
        assert httpx.get(f"{reader.url}/healthz").status_code == 200  # Host: 127.0.0.1:PORT
