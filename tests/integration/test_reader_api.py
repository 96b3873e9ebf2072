"""The reader's JSON API and pages on a real Redis and SecantusDB (httpx + ASGITransport).

Every endpoint, with well-formed and malformed requests: nothing a client sends may give a
500. Articles are written straight into MongoDB in the shapes the stages store.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleFilter, ArticleStore
from newsflow.domain.pipeline import Streams
from newsflow.domain.urls import article_id, canonical_url, short_id, source_name
from newsflow.settings import Settings
from services.reader.main import create_app
from services.reader.voters import VOTES_PER_MINUTE
from tests.support.apps import reader_client

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
XSS = "<img src=x onerror=alert(1)>"


def article(
    url: str,
    *,
    status: str = "analyzed",
    created: datetime = T0,
    title: str = "A title",
    symbols: list[str] | None = None,
    category: str = "en_markets",
    language: str = "en",
    aid: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An article document as the four stages leave it."""
    aid = aid or article_id(canonical_url(url))
    doc: dict[str, Any] = {
        "_id": aid,
        "short_id": short_id(aid),
        "url": url,
        "submitted_url": url,
        "source": source_name(url),
        "status": status,
        "progress": 4,
        "generation": 1,
        "created_at": created,
        "updated_at": created,
        "times": {"queued_at": created},
        "votes": {"up": 0, "down": 0, "important": 0, "comments": 0},
    }
    if status in ("fetched", "extracted", "translated", "analyzed"):
        doc["fetch"] = {"status": "ok", "http_status": 200, "encoding": "utf-8", "attempts": 1}
        doc["times"]["fetched_at"] = created + timedelta(seconds=1)
    if status in ("extracted", "translated", "analyzed"):
        doc["extraction"] = {
            "status": "ok",
            "title": title,
            "text": "First paragraph.\nSecond paragraph.",
            "language": language,
            "word_count": 4,
            "method": "trafilatura",
            "published": created - timedelta(hours=1),
            "site_name": None,
        }
        doc["times"]["extracted_at"] = created + timedelta(seconds=2)
    if status in ("translated", "analyzed"):
        doc["translation"] = {
            "status": "not_needed",
            "target_language": "en",
            "source_language": language,
        }
        doc["times"]["translated_at"] = created + timedelta(seconds=3)
    if status == "analyzed":
        doc["analysis"] = {
            "status": "ok",
            "word_count": 4,
            "symbols": symbols or [],
            "keywords": ["paragraph"],
            "category": category,
            "similar": [],
            "impact": {"status": "skipped", "reason": "no impact provider configured"},
        }
        doc["times"]["analyzed_at"] = created + timedelta(seconds=4)
    doc.update(extra)
    return doc


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == response.status_code
    return str(body["error"]["message"]) + " " + " ".join(body["error"]["details"])


# --- publishing --------------------------------------------------------------------------------


async def test_publish_one_then_duplicate_then_refresh(
    client: httpx.AsyncClient, settings: Settings, redis: Redis, store: ArticleStore
) -> None:
    url = "https://news.example.org/markets/1?utm_source=x"
    r = await client.post("/api/articles", json={"url": url})
    assert r.status_code == 200, r.text
    body = r.json()
    aid = article_id(canonical_url(url))
    assert body["queued"] == 1 and body["duplicates"] == 0 and body["invalid"] == 0
    [res] = body["results"]
    assert res == {
        "url": url,
        "outcome": "queued",
        "new": True,
        "article_id": aid,
        "short_id": aid[:10],
        "canonical_url": "https://news.example.org/markets/1",
        "detail": None,
    }
    entries = await redis.xrange(Streams(settings.stream_prefix).urls)
    assert [e[1][b"url"].decode() for e in entries] == [url]
    assert entries[0][1][b"submitted_by"].decode().startswith("reader")
    # the fetcher creates the article; until then a second publish is queued again, so
    # create it as the fetcher would and publish again
    await store.import_documents([article(url, status="queued") | {"submissions": 1}])
    again = (await client.post("/api/articles", json={"urls": [url]})).json()
    assert again["results"][0]["outcome"] == "duplicate" and again["results"][0]["new"] is False
    assert again["results"][0]["detail"] == "queued"
    # not queued again, but counted as a report (the hot view's score; it was not counted)
    reported = await store.get(aid)
    assert reported.submissions == 2 and reported.submitted_by[-1].startswith("reader")
    refreshed = (await client.post("/api/articles", json={"url": url, "refresh": True})).json()
    assert refreshed["results"][0]["outcome"] == "refreshed"
    assert await redis.xlen(Streams(settings.stream_prefix).urls) == 2


async def test_publish_batch_reports_each_url(client: httpx.AsyncClient) -> None:
    urls = ["https://a.example/1", "ftp://a.example/file", "https://a.example/1#frag", "nope"]
    r = await client.post("/api/articles", json={"urls": urls})
    assert r.status_code == 200
    outcomes = [(x["outcome"], x["new"]) for x in r.json()["results"]]
    assert outcomes == [
        ("queued", True),
        ("invalid", False),
        ("duplicate", False),
        ("invalid", False),
    ]
    assert "scheme 'ftp'" in r.json()["results"][1]["detail"]


MALFORMED_PUBLISH: list[tuple[Any, str, int, str]] = [
    ({}, "application/json", 422, "give a URL"),
    ({"urls": []}, "application/json", 422, "give a URL"),
    ({"url": 5}, "application/json", 422, "url"),
    ({"urls": "https://a.example/"}, "application/json", 422, "urls"),
    ({"url": "https://a.example/", "extra": 1}, "application/json", 422, "extra"),
    ({"url": "javascript:alert(1)"}, "application/json", 422, "no valid URL"),
    ({"url": "http://user:pw@a.example/"}, "application/json", 422, "user-info"),
    ("{not json", "application/json", 422, "the body is not valid JSON at character 1: "),
    ("url=https://a.example/", "text/plain", 422, "not valid"),
    ([1, 2], "application/json", 422, "not valid"),
    ("null", "application/json", 422, "not valid"),
    ("[" * 30_000 + "]" * 30_000, "application/json", 400, "parsing the body"),  # deep nesting
    ('{"url": "\\ud800"}', "application/json", 422, "valid string"),  # lone surrogate
]


async def test_malformed_publish_is_a_clear_4xx(client: httpx.AsyncClient, redis: Redis) -> None:
    for body, content_type, expected, phrase in MALFORMED_PUBLISH:
        data = body if isinstance(body, str) else json.dumps(body)
        r = await client.post("/api/articles", content=data, headers={"content-type": content_type})
        assert r.status_code == expected, (body, r.text)
        assert phrase.lower() in error_of(r).lower(), (body, r.text)


async def test_batch_and_body_limits(settings: Settings, store: ArticleStore) -> None:
    limited = settings.model_copy(update={"reader_max_batch": 3, "reader_max_body_bytes": 2048})
    app = create_app(limited)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c,
    ):
        urls = [f"https://a.example/{i}" for i in range(4)]
        r = await c.post("/api/articles", json={"urls": urls})
        assert r.status_code == 422 and "at most 3" in error_of(r)
        big = {"url": "https://a.example/" + "x" * 3000}
        r = await c.post("/api/articles", json=big)
        assert r.status_code == 413 and "2048 bytes" in error_of(r)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(5):
                yield b" " * 1000

        r = await c.post(
            "/api/articles", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert await store.status_counts() == {}


async def test_write_calls_need_the_token_when_set(settings: Settings, store: ArticleStore) -> None:
    guarded = settings.model_copy(update={"api_token": SecretStr("s3cret-token")})
    app = create_app(guarded)
    await store.import_documents([article("https://a.example/voted")])
    aid = article_id(canonical_url("https://a.example/voted"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c,
    ):
        for headers in (
            {},
            {"authorization": "Bearer wrong"},
            {"authorization": "s3cret-token"},
            {"authorization": "Basic s3cret-token"},
        ):
            r = await c.post(f"/api/articles/{aid}/votes", json={"kind": "up"}, headers=headers)
            assert r.status_code == 401 and "Bearer" in error_of(r)
            assert r.headers["www-authenticate"] == "Bearer"
            r = await c.post("/api/articles", json={"url": "https://a.example/x"}, headers=headers)
            assert r.status_code == 401
        ok = {"authorization": "Bearer s3cret-token"}
        r = await c.post(f"/api/articles/{aid}/votes", json={"kind": "up"}, headers=ok)
        assert r.status_code == 200 and r.json()["up"] == 1
        assert (await c.get(f"/api/articles/{aid}")).status_code == 200  # reads stay open
        # a browser logs in once and gets a session cookie instead
        assert (await c.post("/login", data={"token": "nope"})).status_code == 401
        r = await c.post("/login", data={"token": "s3cret-token"})
        assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        assert "s3cret-token" not in r.headers["set-cookie"]
        r = await c.post(f"/api/articles/{aid}/votes", json={"kind": "important"})
        assert r.status_code == 200 and r.json()["important"] == 1


# --- reading -----------------------------------------------------------------------------------


async def test_list_filters_and_cursor_pagination(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    docs = [
        article(
            f"https://site{i % 3}.example/{i}",
            created=T0 + timedelta(minutes=i // 2),
            symbols=["AAPL"] if i % 2 else ["BTC"],
            category="en_crypto" if i % 2 == 0 else "en_markets",
            language="zh" if i == 7 else "en",
            status="analyzed" if i != 4 else "queued",
        )
        for i in range(11)
    ]
    await store.import_documents(docs)
    # newest first, ties broken by id: walk pages of 4 and get every article once, in order
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/articles", params=params)).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = [
        d["_id"] for d in sorted(docs, key=lambda d: (d["created_at"], d["_id"]), reverse=True)
    ]
    assert seen == expected
    by = lambda **p: client.get("/api/articles", params=p)  # noqa: E731
    assert {x["id"] for x in (await by(symbol="aapl")).json()["items"]} == {
        d["_id"] for d in docs if d.get("analysis", {}).get("symbols") == ["AAPL"]
    }
    assert [x["status"] for x in (await by(status="queued")).json()["items"]] == ["queued"]
    assert {x["language"] for x in (await by(language="zh")).json()["items"]} == {"zh"}
    assert {x["source"] for x in (await by(source="site1.example")).json()["items"]} == {
        "site1.example"
    }
    assert {x["category"] for x in (await by(category="en_crypto")).json()["items"]} == {
        "en_crypto"
    }
    assert (await by(symbol="NOPE")).json() == {"items": [], "next_cursor": None}
    first = (await by(limit=1)).json()["items"][0]
    assert first["votes"] == {"up": 0, "down": 0, "important": 0, "comments": 0}
    assert first["title"] == "A title" and first["published"].startswith("2026-11-01T")


async def test_newest_first_pages_through_every_window_of_receive_time(
    store: ArticleStore,
) -> None:
    """The newest-first list reads windows of receive time (an hour, a day, a week, a month,
    a year, the rest), whatever the filter: pages that cross each window's edge, ties included,
    give every article once, in the order of one sorted query over the whole collection."""
    at = datetime.now(UTC)
    ages = [-1, 0.5, 0.5, 0.5, 0.9, 1.1, 23.9, 24.1, 30, 24 * 6.9, 24 * 7.1, 24 * 29, 24 * 31, 24 * 200,
            24 * 364, 24 * 366, 24 * 900, 24 * 900]  # hours; negative: a clock ahead  # fmt: skip
    docs = [article(f"https://w.example/{i}", created=at - timedelta(hours=h),
                    symbols=["BTC", "ETH"] if i % 3 else ["SOL"])
            for i, h in enumerate(ages)]  # fmt: skip
    undated = article("https://w.example/undated")
    del undated["created_at"]
    await store.import_documents([*docs, undated])
    expected = [d["_id"] for d in sorted(docs, key=lambda d: (d["created_at"], d["_id"]))][::-1]

    async def walk(limit: int, where: ArticleFilter | None = None) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.page(where, limit=limit, cursor=cursor)
            seen += [a.id for a in page.items]
            if (cursor := page.next_cursor) is None:
                return seen

    for limit in (1, 2, 3, 5):
        assert await walk(limit) == expected, limit
    # Each window read through the index of the filter (a hint): the status one, the plain one.
    for where in (ArticleFilter(status="analyzed"), ArticleFilter(category="en_markets"),
                  ArticleFilter(source="w.example")):  # fmt: skip
        assert await walk(2, where) == expected, where
    btc = [aid for aid in expected if aid in {d["_id"] for i, d in enumerate(docs) if i % 3}]
    assert await walk(2, ArticleFilter(symbol="btc")) == btc
    assert len(await walk(1, ArticleFilter(symbol="SOL"))) == len(docs) - len(btc)
    # A first page that reaches the end holds the article without a receive time, last.
    assert [a.id for a in (await store.page(limit=50)).items] == [*expected, undated["_id"]]
    by_event = [await walk(limit, ArticleFilter(sort="published")) for limit in (1, 4)]
    # The same pages as one sorted query without windows.
    store.list_windows = ()
    assert await walk(3) == expected
    assert [a.id for a in (await store.page(limit=50)).items] == [*expected, undated["_id"]]
    # By publication time (``event_at``): the same windows, the same order as one query.
    assert by_event[0] == by_event[1] == await walk(3, ArticleFilter(sort="published"))
    assert len(by_event[0]) == len(docs) + 1 and by_event[0][0] == docs[0]["_id"]


MALFORMED_LIST: list[tuple[dict[str, Any], int, str]] = [
    ({"status": "done"}, 422, "status"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 1000}, 422, "limit"),
    ({"limit": "ten"}, 422, "limit"),
    ({"cursor": "not-a-cursor"}, 400, "cursor"),
    ({"cursor": "eyJ0IjoxfQ"}, 400, "cursor"),  # base64 of {"t":1}
    ({"symbol": "x" * 500}, 422, "symbol"),
]


async def test_malformed_list_queries(client: httpx.AsyncClient) -> None:
    for params, status, phrase in MALFORMED_LIST:
        r = await client.get("/api/articles", params=params)
        assert r.status_code == status, (params, r.text)
        assert phrase in error_of(r), (params, r.text)
    for raw in ("/api/articles?symbol=%ED%A0%80", "/api/articles?source=%00", "/?symbol=%ff%fe"):
        r = await client.get(raw)  # undecodable or odd bytes: read as text, matched as text
        assert r.status_code == 200, (raw, r.text)


async def test_get_article_by_full_short_and_ambiguous_id(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    a = article("https://a.example/1", aid="abcd" + "1" * 60, title=XSS)
    b = article("https://a.example/2", aid="abcd" + "2" * 60)
    await store.import_documents([a, b])
    r = await client.get(f"/api/articles/{a['_id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == a["_id"] and body["title"] == XSS  # JSON carries the text as it is
    assert (
        body["extraction"]["method"] == "trafilatura"
        and body["analysis"]["category"] == "en_markets"
    )
    assert body["export_category"] == "markets" and "intake_entry" not in body
    assert (await client.get(f"/api/articles/{a['_id'][:10]}")).json()["id"] == a["_id"]
    assert (await client.get(f"/api/articles/{a['_id'][:10].upper()}")).json()["id"] == a["_id"]
    r = await client.get("/api/articles/abcd")
    assert r.status_code == 400 and "ambiguous" in error_of(r)
    assert "abcd111111" in error_of(r) and "abcd222222" in error_of(r)
    r = await client.get("/api/articles/" + "f" * 64)
    assert r.status_code == 404 and "no article" in error_of(r)
    for bad in ("abc", "xyz123", "g" * 64, "a" * 65, "%00abcd"):
        r = await client.get(f"/api/articles/{bad}")
        assert r.status_code == 422, (bad, r.text)


async def test_pipeline_status_per_stage(client: httpx.AsyncClient, store: ArticleStore) -> None:
    done = article("https://a.example/done")
    failed = article(
        "https://a.example/failed",
        status="failed",
        failure={"stage": "extracted", "reason": "paywalled: 2 paragraphs", "at": T0},
        fetch={"status": "ok"},
        times={"queued_at": T0, "fetched_at": T0, "failed_at": T0},
    )
    queued = article("https://a.example/queued", status="queued")
    await store.import_documents([done, failed, queued])
    states = lambda r: [(s["stage"], s["state"]) for s in r.json()["stages"]]  # noqa: E731
    r = await client.get(f"/api/articles/{done['_id']}/status")
    assert states(r) == [
        ("fetch", "done"),
        ("extraction", "done"),
        ("translation", "done"),
        ("analysis", "done"),
    ]
    assert r.json()["stages"][3]["detail"] == "ok; impact skipped"
    r = await client.get(f"/api/articles/{failed['_id']}/status")
    assert states(r) == [
        ("fetch", "done"),
        ("extraction", "failed"),
        ("translation", "skipped"),
        ("analysis", "skipped"),
    ]
    assert r.json()["failure"]["reason"] == "paywalled: 2 paragraphs"
    assert r.json()["stages"][1]["detail"] == "paywalled: 2 paragraphs"
    r = await client.get(f"/api/articles/{queued['_id'][:8]}/status")
    assert r.json()["status"] == "queued" and {s for _, s in states(r)} == {"pending"}
    assert (await client.get("/api/articles/" + "e" * 64 + "/status")).status_code == 404


async def test_similar_articles(client: httpx.AsyncClient, store: ArticleStore) -> None:
    old = article(
        "https://a.example/old", title="Earlier Apple story", created=T0 - timedelta(days=3)
    )
    gone = "9" * 64
    new = article("https://a.example/new", created=T0)
    new["analysis"]["similar"] = [
        {
            "id": old["_id"],
            "title": "stale title",
            "published": T0 - timedelta(days=3),
            "score": 0.8,
            "shared": ["AAPL", "iphone"],
        },
        {"id": gone, "title": "deleted since", "published": None, "score": 0.3, "shared": ["x"]},
    ]
    await store.import_documents([old, new])
    r = await client.get(f"/api/articles/{new['_id']}/similar")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["id"], i["title"], i["status"]) for i in items] == [
        (old["_id"], "Earlier Apple story", "analyzed"),
        (gone, "deleted since", None),
    ]
    assert items[0]["shared"] == ["AAPL", "iphone"] and items[0]["score"] == 0.8
    r = await client.get(f"/api/articles/{old['_id']}/similar")
    assert r.json() == {"items": []}


async def test_similar_events_carry_their_evidence(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    old = article("https://a.example/old2", title="Stadia launches", created=T0 - timedelta(days=3))
    new = article("https://a.example/new2", created=T0)
    new["analysis"]["similar"] = [
        {
            "id": old["_id"],
            "title": "Stadia launches",
            "published": T0 - timedelta(days=3),
            "score": 0.42,
            "shared": ["stadia", "google"],
            "method": "both",
            "semantic": 0.83,
            "evidence": "shared: stadia, google; semantic similarity 0.83",
            "story": old["_id"],
        },
    ]
    await store.import_documents([old, new])
    items = (await client.get(f"/api/articles/{new['_id']}/similar")).json()["items"]
    assert items[0]["method"] == "both" and items[0]["semantic"] == 0.83
    assert items[0]["evidence"] == "shared: stadia, google; semantic similarity 0.83"
    assert items[0]["story"] == old["_id"]
    page = (await client.get(f"/articles/{new['_id']}")).text
    assert '<span class="evidence">shared: stadia, google; semantic similarity 0.83</span>' in page
    assert "similarity of their embeddings" in page


# --- votes and comments ------------------------------------------------------------------------


async def test_votes_are_counted_atomically(client: httpx.AsyncClient, store: ArticleStore) -> None:
    doc = article("https://a.example/popular")
    await store.import_documents([doc])
    aid = doc["_id"]
    ups = [client.post(f"/api/articles/{aid[:10]}/votes", json={"kind": "up"}) for _ in range(25)]
    results = await asyncio.gather(*ups)
    assert {r.status_code for r in results} == {200}
    assert sorted(r.json()["up"] for r in results) == list(range(1, 26))
    await client.post(f"/api/articles/{aid}/votes", json={"kind": "down"})
    r = await client.post(f"/api/articles/{aid}/votes", json={"kind": "important"})
    assert r.json() == {"up": 25, "down": 1, "important": 1, "comments": 0}
    stored = await store.article(aid)
    assert stored is not None
    assert stored.votes.model_dump() == {"up": 25, "down": 1, "important": 1, "comments": 0}


async def test_malformed_votes(client: httpx.AsyncClient, store: ArticleStore) -> None:
    doc = article("https://a.example/v")
    await store.import_documents([doc])
    bodies: list[tuple[Any, str]] = [
        ({}, "kind"),
        ({"kind": "UP"}, "kind"),
        ({"kind": "love"}, "kind"),
        ({"kind": 1}, "kind"),
        ({"kind": "up", "n": 100}, "n: Extra inputs"),
        ([], "not valid"),
    ]
    for body, phrase in bodies:
        r = await client.post(f"/api/articles/{doc['_id']}/votes", json=body)
        assert r.status_code == 422, (body, r.text)
        assert phrase in error_of(r), (body, r.text)
    stored = await store.article(doc["_id"])
    assert stored is not None and stored.votes.up == 0


async def test_votes_are_limited_per_address(settings: Settings, store: ArticleStore) -> None:
    doc = article("https://a.example/limited")
    await store.import_documents([doc])
    url = f"/api/articles/{doc['_id']}/votes"
    async with reader_client(settings, peer=("198.51.100.7", 4000)) as one:
        codes = [(await one.post(url, json={"kind": "up"})).status_code for _ in range(122)]
        assert codes == [200] * VOTES_PER_MINUTE + [429, 429]
    # another address has its own count
    async with reader_client(settings, peer=("198.51.100.8", 4000)) as two:
        assert (await two.post(url, json={"kind": "up"})).status_code == 200
    stored = await store.article(doc["_id"])
    assert stored is not None and stored.votes.up == VOTES_PER_MINUTE + 1


async def test_vote_on_unknown_article_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/articles/" + "a" * 64 + "/votes", json={"kind": "up"})
    assert r.status_code == 404 and "no article" in error_of(r)


async def test_comments(client: httpx.AsyncClient, store: ArticleStore, settings: Settings) -> None:
    doc = article("https://a.example/c")
    await store.import_documents([doc])
    aid = doc["_id"]
    r = await client.post(
        f"/api/articles/{aid}/comments", json={"text": f"  {XSS}\n2nd line ", "author": "ann"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["comment"]["text"] == f"{XSS}\n2nd line" and r.json()["votes"]["comments"] == 1
    assert '<span class="v-comments">1 comment</span>' in (await client.get("/?all=1")).text
    await client.post(f"/api/articles/{aid}/comments", json={"text": "later"})
    assert '<span class="v-comments">2 comments</span>' in (await client.get("/?all=1")).text
    listed = (await client.get(f"/api/articles/{aid}/comments")).json()["items"]
    assert [c["text"] for c in listed] == ["later", f"{XSS}\n2nd line"]
    assert listed[1]["author"] == "ann" and listed[0]["author"] is None
    limit = settings.reader_max_comment_chars
    for body, phrase in [
        ({"text": "x" * (limit + 1)}, f"longer than {limit}"),
        ({"text": "   "}, "empty"),
        ({"text": ""}, "text"),
        ({"text": "bell\x07"}, "control"),
        ({"text": "ok", "author": "a" * 81}, "author"),
        ({"comment": "ok"}, "text"),
    ]:
        r = await client.post(f"/api/articles/{aid}/comments", json=body)
        assert r.status_code == 422 and phrase in error_of(r), (body, r.text)
    stored = await store.article(aid)
    assert stored is not None and stored.votes.comments == 2
    assert (await client.get("/api/articles/" + "b" * 64 + "/comments")).status_code == 404
    assert (
        await client.get(f"/api/articles/{aid}/comments", params={"limit": -1})
    ).status_code == 422


# --- pipeline, health, errors ------------------------------------------------------------------


async def test_status_counts_count_each_status(store: ArticleStore) -> None:
    """Every status is counted; ``analyzed`` is the rest of the collection (no command reads
    every article), so the figures must add up to what was stored."""
    plan = {"queued": 3, "fetched": 1, "extracted": 2, "translated": 1, "analyzed": 4, "failed": 2}
    await store.import_documents(
        [article(f"https://c.example/{s}/{i}", status=s) for s, n in plan.items() for i in range(n)]
    )
    assert await store.status_counts() == plan


async def test_pipeline_and_health(
    client: httpx.AsyncClient, store: ArticleStore, redis: Redis, settings: Settings
) -> None:
    await store.import_documents(
        [article("https://a.example/1"), article("https://a.example/2", status="queued")]
    )
    await client.post("/api/articles", json={"url": "https://a.example/3"})
    r = (await client.get("/api/pipeline")).json()
    assert r["statuses"] == {"analyzed": 1, "queued": 1}
    assert r["backlog"]["fetcher"] == 1 and r["dead_letters"] == 0
    assert (await client.get("/healthz")).json() == {"ok": True, "mongo": True, "redis": True}


async def test_unknown_routes_and_methods_answer_json_under_api(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/nothing-here")
    assert r.status_code == 404 and error_of(r)
    r = await client.delete("/api/articles")
    assert r.status_code == 405 and error_of(r)
    r = await client.get("/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


async def test_cross_site_writes_are_refused(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    doc = article("https://a.example/x")
    await store.import_documents([doc])
    for headers in (
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},
    ):
        r = await client.post(
            f"/api/articles/{doc['_id']}/votes", json={"kind": "up"}, headers=headers
        )
        assert r.status_code == 403 and "cross-site" in error_of(r)
    same = {"origin": "http://localhost"}
    r = await client.post(f"/api/articles/{doc['_id']}/votes", json={"kind": "up"}, headers=same)
    assert r.status_code == 200


async def test_openapi_document(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert set(paths) >= {
        "/api/articles",
        "/api/articles/{ident}",
        "/api/articles/{ident}/status",
        "/api/articles/{ident}/similar",
        "/api/articles/{ident}/votes",
        "/api/articles/{ident}/comments",
        "/api/pipeline",
    }
    assert "401" in paths["/api/articles"]["post"]["responses"]


async def test_forged_cursors_get_400_not_500_or_503(client: httpx.AsyncClient) -> None:
    # An outside review: a 10^30 offset and a year-1 time reached the generic 500, a boolean
    # offset a 503 "MongoDB is not answering".
    def b64(data: str) -> str:
        return base64.urlsafe_b64encode(data.encode()).decode()

    forged = [
        ("votes", b64('{"o":' + "1" * 31 + "}")),
        ("votes", b64('{"o":true}')),
        ("impact", b64('{"o":4611686018427387904}')),
        ("received", b64('{"t":"0001-01-01T00:00:00+14:00","id":"x"}')),
        ("published", b64('{"e":"9999-12-31T23:59:59-12:00","id":"x"}')),
    ]
    for sort, cursor in forged:
        r = await client.get("/api/articles", params={"sort": sort, "cursor": cursor})
        assert r.status_code == 400 and "next_cursor" in error_of(r), (sort, r.text)
        page = await client.get("/", params={"sort": sort, "cursor": cursor})
        assert page.status_code == 400, (sort, page.status_code)
