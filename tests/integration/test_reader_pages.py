"""The reader's pages on a real Redis and SecantusDB: blocks, escaping, headers and forms."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from redis.asyncio import Redis

from newsflow.adapters.store import ArticleStore
from newsflow.domain.pipeline import Streams
from newsflow.settings import Settings
from services.reader.security import CSP
from tests.integration.test_reader_api import T0, XSS, article

pytestmark = pytest.mark.integration


def assert_secure_headers(r: httpx.Response) -> None:
    assert r.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def chinese_article() -> dict[str, object]:
    doc = article(
        "http://127.0.0.1:9/zh/1",
        title="苹果公司股价大涨",
        language="zh",
        category="zh_markets",
        symbols=["AAPL"],
    )
    doc["extraction"].update(
        text="苹果公司股价大涨。\n投资者很高兴。", word_count=14, site_name="新闻网", author="记者"
    )
    doc["translation"] = {
        "status": "translated",
        "provider": "openai",
        "model": "stand-in-translator",
        "source_language": "zh",
        "target_language": "en",
        "title": "Apple company share price surged",
        "text": "Apple shares surged.\nInvestors are happy.",
    }
    doc["analysis"]["impact"] = {
        "status": "ok",
        "provider": "openai",
        "model": "stand-in-analyst",
        "impact": {
            "summary": "Apple shares surged.",
            "direction": "bullish",
            "symbols": ["AAPL"],
            "confidence": 0.7,
            "rationale": "surged",
        },
    }
    return doc


async def test_article_page_shows_every_block(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    earlier = article(
        "https://a.example/earlier", title="Apple earlier", created=T0 - timedelta(days=2)
    )
    doc = chinese_article()
    doc["analysis"]["similar"] = [
        {
            "id": earlier["_id"],
            "title": "Apple earlier",
            "published": T0 - timedelta(days=2),
            "score": 0.9,
            "shared": ["AAPL"],
        }
    ]
    doc["votes"] = {"up": 3, "down": 1, "important": 2, "comments": 0}
    await store.import_documents([earlier, doc])
    r = await client.get(f"/articles/{doc['short_id']}")
    assert r.status_code == 200
    assert_secure_headers(r)
    html = r.text
    assert '<h1 id="title" class="title" lang="en">Apple company share price surged</h1>' in html
    assert '<span lang="zh">苹果公司股价大涨</span>' in html
    assert "新闻网" in html and 'datetime="2026-11-01T07:00:00+00:00"' in html
    assert "Automatically extracted by trafilatura" in html
    assert '<span id="word-count">14 characters</span>' in html  # Chinese counts characters
    # the provider by its name, not its host
    assert 'translated by <span id="translator">OpenAI (stand-in-translator)</span>' in html
    assert "<p>Investors are happy.</p>" in html and "<p>投资者很高兴。</p>" in html
    assert 'data-direction="bullish"' in html and "0.70" in html
    assert f'href="/articles/{earlier["_id"]}">Apple earlier</a>' in html
    raw = html[html.index('id="raw"') : html.index('id="comments"')]
    for needle in (
        doc["short_id"],
        "zh_markets",
        "Export category",
        ">markets<",
        "AAPL",
        '+<span data-count="up">3</span>',
        '-<span data-count="down">1</span>',
        'important <span data-count="important">2</span>',
        'href="http://127.0.0.1:9/zh/1"',
    ):
        assert needle in raw, needle
    assert "<script>" not in html and "<script " in html  # only the external file
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/reader.js" defer>']


async def test_pending_article_and_unspecified_symbols(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    doc = article("https://a.example/pending", status="translated")
    await store.import_documents([doc])
    html = (await client.get(f"/articles/{doc['_id']}")).text
    assert "Pending: the analyzer has not finished" in html
    assert 'data-final="false"' in html
    assert '<dd id="raw-symbols">unspecified</dd>' in html
    assert '<dd id="raw-category">unspecified</dd>' in html
    assert "no translation needed" in html


async def test_untrusted_text_is_escaped_and_bad_links_are_not_links(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    doc = article("javascript:alert(1)", aid="c" * 64, title=XSS)
    doc["extraction"]["text"] = f"{XSS}\n<script>alert(2)</script>"
    doc["extraction"]["language"] = '"><script>alert(3)</script>'
    doc["translation"]["source_language"] = "<b>"
    doc["source"] = XSS
    doc["analysis"]["symbols"] = ['"><b>x']
    await store.import_documents([doc])
    await store.add_comment(str(doc["_id"]), XSS, author=XSS)
    for path in ("/", f"/articles/{doc['_id']}", "/partials/articles"):
        html = (await client.get(path)).text
        assert "<img src=x" not in html and "<script>alert" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
        assert 'href="javascript:' not in html, path
    page = (await client.get(f"/articles/{doc['_id']}")).text
    assert 'lang="und"' in page  # a bogus language never reaches an attribute
    assert "<span>javascript:alert(1)</span>" in page


async def test_list_page_filters_by_symbol(client: httpx.AsyncClient, store: ArticleStore) -> None:
    await store.import_documents(
        [
            article("https://a.example/apple", title="Apple story", symbols=["AAPL"]),
            article("https://a.example/btc", title="Bitcoin story", symbols=["BTC"]),
        ]
    )
    r = await client.get("/")
    assert_secure_headers(r)
    assert "Apple story" in r.text and "Bitcoin story" in r.text
    r = await client.get("/", params={"symbol": "btc"})
    assert "Bitcoin story" in r.text and "Apple story" not in r.text
    assert (
        'href="/?symbol=BTC"' in r.text
        and 'data-refresh-url="/partials/articles?symbol=btc' in r.text
    )
    rows = (await client.get("/partials/articles", params={"symbol": "AAPL"})).text
    assert "Apple story" in rows and "<html" not in rows
    assert (await client.get("/", params={"symbol": "x" * 100})).status_code == 422


async def test_forms_publish_vote_and_comment(
    client: httpx.AsyncClient, store: ArticleStore, redis: Redis, settings: Settings
) -> None:
    r = await client.post("/publish", data={"urls": "https://a.example/p1\nftp://bad\nnot a url"})
    assert r.status_code == 200
    assert 'data-outcome="queued"' in r.text and r.text.count('data-outcome="invalid"') == 2
    assert await redis.xlen(Streams(settings.stream_prefix).urls) == 1
    doc = article("https://a.example/voted")
    await store.import_documents([doc])
    r = await client.post(f"/articles/{doc['short_id']}/vote", data={"kind": "important"})
    assert r.status_code == 303 and r.headers["location"] == f"/articles/{doc['_id']}#votes"
    r = await client.post(f"/articles/{doc['_id']}/comment", data={"text": "Nice", "author": "Bo"})
    assert r.status_code == 303
    page = (await client.get(f"/articles/{doc['_id']}")).text
    assert 'important <span data-count="important">1</span>' in page
    assert "<p>Nice</p>" in page and "Bo ·" in page
    # malformed forms: an error page, never a 500
    bad = [
        (f"/articles/{doc['_id']}/vote", {"kind": "love"}, 422),
        (f"/articles/{doc['_id']}/comment", {"text": " "}, 422),
        ("/publish", {"urls": "  "}, 422),
        ("/articles/" + "d" * 64 + "/vote", {"kind": "up"}, 404),
    ]
    for path, data, status in bad:
        r = await client.post(path, data=data)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("text/html") and 'class="message"' in r.text
    r = await client.post(
        "/publish", content=b'{"urls": "x"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 415
    r = await client.post(
        "/publish",
        content=b"urls=%ff%fe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (400, 422)


async def test_article_page_errors_are_html(client: httpx.AsyncClient) -> None:
    r = await client.get("/articles/zzzz")
    assert r.status_code == 404 and "&#39;zzzz&#39; is not an article id" in r.text
    assert_secure_headers(r)
    r = await client.get("/articles/" + "0" * 64)
    assert r.status_code == 404 and "no article" in r.text


async def test_static_files_are_served(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/reader.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    css = await client.get("/static/reader.css")
    assert "Noto Sans CJK SC" in css.text


async def test_a_very_long_article_is_rendered_whole_and_escaped(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    # Rendered in a thread above INLINE_RENDER_CHARS: the same page, all of it, escaped.
    doc = article("https://a.example/long", title="Long")
    paragraphs = [f"Paragraph {i} <b>not bold</b>." for i in range(12_000)]
    doc["extraction"].update(text="\n".join(paragraphs))
    await store.import_documents([doc])
    r = await client.get(f"/articles/{doc['_id']}")
    assert r.status_code == 200
    assert_secure_headers(r)
    assert "<p>Paragraph 11999 &lt;b&gt;not bold&lt;/b&gt;.</p>" in r.text
    assert "<b>" not in r.text


async def test_article_page_lists_the_assets_main_ones_first(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    doc = article("https://a.example/assets", title="Nvidia and TSMC", symbols=["NVDA", "2330.TW"])
    doc["analysis"]["assets"] = [
        {
            "symbol": "NVDA",
            "name": "Nvidia",
            "kind": "stock",
            "market": "NASDAQ",
            "where": ["title", "lead"],
            "count": 3,
            "salience": 8.0,
        },
        {
            "symbol": "2330.TW",
            "name": XSS,
            "kind": "stock",
            "market": "TWSE",
            "where": ["body"],
            "count": 1,
            "salience": 1.0,
        },
    ]
    await store.import_documents([doc])
    html = (await client.get(f"/articles/{doc['short_id']}")).text
    listed = html[html.index('<dd id="raw-assets">') :]
    listed = listed[: listed.index("</dd>")]
    assert listed.index(">NVDA</a>") < listed.index(">2330.TW</a>")
    assert "Nvidia" in listed and "title/lead" in listed and "&times;3" in listed
    assert 'href="/?symbol=2330.TW"' in listed
    assert "<img src=x" not in listed and "&lt;img src=x onerror=alert(1)&gt;" in listed


async def test_an_empty_search_says_so(client: httpx.AsyncClient, store: ArticleStore) -> None:
    # It said "No articles yet." (outside review).
    await store.import_documents([article("https://a.example/words", title="Bitcoin rises")])
    page = (await client.get("/", params={"q": "zzzznotthere"})).text
    assert "No articles match the search." in page and "No articles yet" not in page
    rows = (await client.get("/partials/articles", params={"q": "zzzznotthere"})).text
    assert "No articles match the search." in rows
