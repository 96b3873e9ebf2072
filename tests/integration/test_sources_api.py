"""Sources through the reader: the JSON API, the token on writes, the /sources page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from newsflow.settings import Settings
from services.reader.main import create_app
from tests.support.feeds import FeedServer, Item, Route, render

pytestmark = pytest.mark.integration

HOSTILE = '<script>alert("x")</script> [bold]News'


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        body, ctype = render(
            "atom", HOSTILE, [Item("http://127.0.0.1/a/1", "one", datetime.now(UTC))]
        )
        server.routes["/feeds/atom.xml"] = Route(body, ctype)
        server.routes["/"] = Route(
            b"<!doctype html><html><head><title>Site</title>"
            b'<link rel="alternate" type="application/atom+xml" href="/feeds/atom.xml"></head>'
            b"<body><p>home</p></body></html>",
            "text/html",
        )
        server.routes["/plain"] = Route(
            b"<!doctype html><html><body>no feed</body></html>", "text/html"
        )
        yield server


@pytest.fixture
def settings(settings: Settings, feeds: FeedServer) -> Settings:
    return settings.model_copy(update={"fetch_allowed_ports": [feeds.port], "fetch_retries": 0})


async def test_add_list_pause_resume_remove_through_the_api(
    client: httpx.AsyncClient,
    feeds: FeedServer,
) -> None:
    r = await client.post("/api/sources", json={"url": feeds.url("/"), "category": "crypto"})
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["created"] is True
    src = added["source"]
    assert src["url"] == feeds.url("/feeds/atom.xml") and src["kind"] == "atom"
    assert src["name"] == HOSTILE and src["health"] == "new" and src["category"] == "crypto"
    again = await client.post("/api/sources", json={"url": feeds.url("/feeds/atom.xml")})
    assert again.status_code == 200 and again.json()["created"] is False

    listed = (await client.get("/api/sources")).json()["sources"]
    assert [s["id"] for s in listed] == [src["id"]]
    one = await client.get(f"/api/sources/{src['short_id']}")
    assert one.status_code == 200 and one.json()["url"] == src["url"]
    # a prefix of 4 digits, and one longer than the short id
    for prefix in (src["id"][:4], src["id"][:14]):
        assert (await client.get(f"/api/sources/{prefix}")).json()["id"] == src["id"]

    paused = await client.post(f"/api/sources/{src['short_id']}/pause")
    assert paused.json()["health"] == "paused" and paused.json()["paused"] is True
    resumed = await client.post(f"/api/sources/{src['short_id']}/resume")
    assert resumed.json()["paused"] is False
    gone = await client.delete(f"/api/sources/{src['short_id']}")
    assert gone.status_code == 200
    missing = await client.get(f"/api/sources/{src['short_id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"no source with id {src['short_id']}"


async def test_a_page_without_feeds_is_refused_with_the_reason(
    client: httpx.AsyncClient,
    feeds: FeedServer,
) -> None:
    r = await client.post("/api/sources", json={"url": feeds.url("/plain")})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert message.startswith(
        f"no feed found: {feeds.url('/plain')} is an HTML page, it names no feed"
    )
    unchecked = await client.post("/api/sources", json={"url": feeds.url("/plain"), "check": False})
    assert unchecked.status_code == 201 and unchecked.json()["source"]["kind"] is None
    bad = await client.post("/api/sources", json={"url": "ftp://example.org/feed", "check": False})
    assert bad.status_code == 422 and "is not http or https" in bad.json()["error"]["message"]
    private = await client.post("/api/sources", json={"url": f"http://10.0.0.5:{feeds.port}/feed"})
    assert private.status_code == 422
    assert "refused: 10.0.0.5 is a private address" in private.json()["error"]["message"]


async def test_writes_need_the_token_when_one_is_set(settings: Settings, feeds: FeedServer) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"api_token": SecretStr("s3cret")}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            denied = await c.post("/api/sources", json={"url": feeds.url("/feeds/atom.xml")})
            assert denied.status_code == 401
            assert (await c.get("/api/sources")).json() == {"sources": []}
            ok = await c.post(
                "/api/sources",
                json={"url": feeds.url("/feeds/atom.xml")},
                headers={"Authorization": "Bearer s3cret"},
            )
            assert ok.status_code == 201
            sid = ok.json()["source"]["short_id"]
            assert (await c.delete(f"/api/sources/{sid}")).status_code == 401
            assert (await c.post(f"/api/sources/{sid}/pause")).status_code == 401
            form = await c.post("/sources", data={"url": feeds.url("/")})
            assert form.status_code == 401


async def test_the_sources_page_lists_them_escaped_and_its_form_adds(
    client: httpx.AsyncClient,
    feeds: FeedServer,
) -> None:
    empty = await client.get("/sources")
    assert empty.status_code == 200 and "No sources yet" in empty.text
    added = await client.post("/sources", data={"url": feeds.url("/"), "name": ""})
    assert added.status_code == 303 and added.headers["location"].startswith("/sources#s-")
    page = (await client.get("/sources")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; [bold]News" in page
    assert "<script>alert" not in page
    assert 'data-health="new"' in page
    sid = (await client.get("/api/sources")).json()["sources"][0]["id"]
    paused = await client.post(f"/sources/{sid}/pause", data={})
    assert paused.status_code == 303
    assert 'data-health="paused"' in (await client.get("/sources")).text
    refused = await client.post("/sources", data={"url": feeds.url("/plain")})
    assert refused.status_code == 422 and "no feed found" in refused.text
