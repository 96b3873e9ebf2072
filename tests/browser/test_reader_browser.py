"""The reader in real headless Chromium, over the whole real pipeline.

Real redis-server and SecantusDB, the four stage workers running in this process, real
corpus pages served on 127.0.0.1 (a GBK page of ``zh_cwced`` and an English one), the
chat-completions stand-in for translation and impact, the reader on a real uvicorn, and
Debian's ``chromium`` driven by Playwright. Screenshots go to ``artifacts/screenshots/``.

Setup: ``bash tests/browser/setup.sh`` (chromium + fonts-noto-cjk; ``make test`` runs it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server
from newsflow.domain.article import Article
from newsflow.domain.pipeline import TERMINAL
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from services.reader.display import length_words, provider_name
from services.reader.server import ReaderThread
from services.reader.views import export_category
from tests.support.browser import BROWSER_TESTS, shot, text
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.llm_server import LLMServer
from tests.support.workers import WorkerProcesses

#: A GBK page (gb2312 declared in a meta tag only) and an English news article.
GBK_PAGE = "05e98007-d810-4036-b154-2ef2fe68c2af"
ENGLISH_PAGE = "098bb3e96c0acdf36efdcde45fb9cca3f8c82c7cb2071b76097a1b96155f1eb2"
XSS = "<img src=x onerror=alert(1)>"

pytestmark = BROWSER_TESTS
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright wheel missing")


# --- the system under test ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[CorpusServer]:
    with CorpusServer(Corpus()) as server:
        yield server


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="browser-key") as server:
        yield server


@pytest.fixture(scope="module")
def system_settings(
    redis_server: Server,
    mongo_server: Server,
    corpus_server: CorpusServer,
    llm: LLMServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    key = SecretStr("browser-key")
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
        mongo_url=f"mongodb://127.0.0.1:{mongo_server.port}",
        mongo_db="browser",
        stream_prefix="browser",
        fetch_allowed_networks=["127.0.0.0/8"],
        fetch_allowed_ports=[corpus_server.port],
        poll_interval_ms=100,
        claim_idle_ms=45_000,
        handler_timeout=40,
        extract_processes=1,
        translate_provider="openai",
        translate_base_url=llm.url,
        translate_model="stand-in-translator",
        translate_api_key=key,
        impact_provider="openai",
        impact_base_url=llm.url,
        impact_model="stand-in-analyst",
        impact_api_key=key,
        reader_refresh_seconds=0.5,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="module")
async def store(system_settings: Settings) -> AsyncIterator[ArticleStore]:
    s = ArticleStore.connect(system_settings)
    await s.drop()
    yield s
    await s.drop()
    s.close()


@pytest.fixture(scope="module")
def workers(
    system_settings: Settings, store: ArticleStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    """The four stage workers as `python -m services.<name>` processes."""
    procs = WorkerProcesses(system_settings, tmp_path_factory.mktemp("workers"))
    procs.start_all()
    procs.wait_ready(timeout=120)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def reader(system_settings: Settings) -> Iterator[ReaderThread]:
    with ReaderThread(system_settings) as server:
        yield server


# --- checks of the article page against what the stages stored ---------------------------------


async def check_article_page(page: Any, doc: dict[str, Any]) -> None:
    """Every block of the article page is present and shows what MongoDB holds."""
    ex, tr, an = doc["extraction"], doc["translation"], doc["analysis"]
    translated = tr["status"] == "translated"
    title = page.locator("#title")
    if translated:
        assert await text(page, "#title") == " ".join(tr["title"].split())
        assert await title.get_attribute("lang") == tr["target_language"]
        original = page.locator("#original-title span")
        assert await text(page, "#original-title span") == " ".join(ex["title"].split())
        assert await original.get_attribute("lang") == ex["language"]
    else:
        assert await text(page, "#title") == " ".join(ex["title"].split())
        assert await title.get_attribute("lang") == ex["language"]
        assert await page.locator("#original-title").count() == 0
    source = Article.from_document(doc).site  # the site's own name when it is plausible
    assert await text(page, "#source") == " ".join(source.split())
    if ex.get("published"):
        published = ex["published"]
        assert (await page.locator("#published").get_attribute("datetime")).startswith(
            published.strftime("%Y-%m-%dT%H:%M")
        )
        assert await text(page, "#raw-published") == published.strftime("%Y-%m-%d %H:%M UTC")
    else:
        assert "publish time unknown" in await text(page, ".byline")
        assert await text(page, "#raw-published") == "unknown"
    provenance = await text(page, "#provenance")
    # the method that produced the text: trafilatura, or readability when it did better
    assert f"Automatically extracted by {ex.get('method') or 'trafilatura'}" in provenance
    assert "trafilatura" in provenance
    assert length_words(ex["word_count"], ex["language"]) in provenance and ex["word_count"] > 0
    body = tr["text"] if translated else ex["text"]
    first = next(p.strip() for p in body.splitlines() if p.strip())
    assert " ".join(first.split()) in await text(page, "#text")
    if translated:
        name = provider_name(tr["provider"], tr["model"])
        assert f"translated by {name} ({tr['model']})" in provenance
        assert tr["provider"] not in provenance  # a name, not host:port
        assert await page.locator("#text").get_attribute("lang") == "en"
        zh_first = next(p.strip() for p in ex["text"].splitlines() if p.strip())
        assert " ".join(zh_first.split()) in await text(page, "#original-text")
        assert await page.locator("#original-text .text").get_attribute("lang") == "zh"
    else:
        assert "no translation needed" in provenance
    impact = an["impact"]
    assert impact["status"] == "ok"
    assert await text(page, "#direction") == impact["impact"]["direction"]
    assert await text(page, "#impact-summary") == " ".join(impact["impact"]["summary"].split())
    if an["similar"]:
        links = page.locator("#similar li a")
        assert await links.count() == len(an["similar"])
        for i, s in enumerate(an["similar"]):
            assert await links.nth(i).get_attribute("href") == f"/articles/{s['id']}"
            assert (
                await page.locator("#similar li .evidence").nth(i).text_content() == s["evidence"]
            )
    else:
        assert "No earlier story" in await text(page, "#similar")
    assert await text(page, "#raw-id") == doc["short_id"]
    assert await text(page, "#raw-source") == " ".join(source.split())
    assert await text(page, "#raw-category") == an["category"]
    assert await text(page, "#raw-export-category") == export_category(an["category"])
    symbols = await text(page, "#raw-symbols")
    assert symbols == (" ".join(an["symbols"]) if an["symbols"] else "unspecified")
    votes = doc["votes"]
    assert await text(page, "#raw-votes") == (
        f"+{votes['up']} / -{votes['down']} / important {votes['important']} / "
        f"comments {votes['comments']}"
    )
    assert await page.locator("#raw-link a").get_attribute("href") == doc["url"]


async def wait_analyzed_in_list(page: Any, store: ArticleStore, aid: str) -> None:
    """Wait until the list (refreshing itself) shows the article as analyzed.

    Generous: on a loaded machine a stage's entry can wait for its reclaim (claim_idle_ms).
    """
    row = page.locator(f'#news li[data-id="{aid}"][data-status="analyzed"]')
    try:
        await row.wait_for(timeout=150_000)
    except playwright_api.TimeoutError:
        article = await store.article(aid)
        stored = (article.status, article.failure) if article else None
        raise AssertionError(f"{aid[:10]} not shown as analyzed; stored: {stored}") from None


async def settled(store: ArticleStore, aid: str, generation: int = 1) -> dict[str, Any]:
    for _ in range(600):
        article = await store.article(aid)
        if article and article.status in TERMINAL and article.generation >= generation:
            return article.document()
        await asyncio.sleep(0.2)
    raise AssertionError(f"{aid[:10]} did not settle")


# --- the tests ----------------------------------------------------------------------------------


async def test_publish_watch_read_and_vote(
    page: Any,
    reader: ReaderThread,
    workers: WorkerProcesses,
    store: ArticleStore,
    corpus_server: CorpusServer,
    system_settings: Settings,
) -> None:
    zh_url = corpus_server.url("zh_cwced", GBK_PAGE)
    en_url = corpus_server.url("scrapinghub", ENGLISH_PAGE)
    zh_id, en_id = (article_id(canonical_url(u)) for u in (zh_url, en_url))

    # publish both through the page's form
    response = await page.goto(reader.url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await page.fill("#urls", f"{zh_url}\n{en_url}")
    await page.click("form.publish button[type=submit]")
    await page.locator('#published li[data-outcome="queued"]').nth(1).wait_for()
    # the list updates itself as both move through the stages
    await wait_analyzed_in_list(page, store, zh_id)
    await wait_analyzed_in_list(page, store, en_id)
    zh_doc = await settled(store, zh_id)
    assert zh_doc["fetch"]["encoding"] == "gb18030" and zh_doc["extraction"]["language"] == "zh"
    row = page.locator(f'#news li[data-id="{zh_id}"]')
    assert await text(page, f'#news li[data-id="{zh_id}"] .title') == " ".join(
        zh_doc["translation"]["title"].split()
    )
    assert "0 comments" in " ".join((await row.text_content() or "").split())
    await shot(page, "news-list")

    # the Chinese article, opened from the list
    await row.locator("a.title").click()
    await page.wait_for_url(f"**/articles/{zh_id}")
    await check_article_page(page, zh_doc)
    await shot(page, "article-zh")

    # votes change the counts in place, and in MongoDB; once per person: a second +1 takes
    # the first back, a third casts it again
    for button in ("#vote-up", "#vote-up", "#vote-up", "#vote-down", "#vote-important"):
        await page.click(button)
        await page.wait_for_timeout(150)
    # A function, not an expression: Playwright compiles a function once, while it polls an
    # expression with eval(), which the page's CSP (no 'unsafe-eval') rightly refuses.
    await page.wait_for_function(
        "() => document.querySelector('#vote-up .count').textContent === '1'"
        " && document.querySelector('#vote-important .count').textContent === '1'"
    )
    assert await text(page, "#vote-down .count") == "1"
    for _ in range(50):
        zh_article = await store.article(zh_id)
        stored = zh_article.votes.model_dump() if zh_article else {}
        if stored.get("important") == 1:
            break
        await asyncio.sleep(0.1)
    assert stored == {"up": 1, "down": 1, "important": 1, "comments": 0}
    await page.fill("#comments textarea[name=text]", "值得关注 <b>not bold</b>")
    await page.click("#comment-submit")
    await page.wait_for_url(f"**/articles/{zh_id}#comments")
    assert "值得关注 <b>not bold</b>" in await text(page, ".comment-list")
    assert await page.locator(".comment-list b").count() == 0
    zh_doc = await settled(store, zh_id)
    await check_article_page(page, zh_doc)  # the raw block shows the new counts
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot(page, "article-zh-phone")

    # the English article; seed an earlier one sharing its terms, re-process it from the
    # page, and its "historical similar events" lists that earlier article
    en_doc = await settled(store, en_id)
    assert en_doc["status"] == "analyzed", en_doc.get("failure")
    keywords = en_doc["analysis"]["keywords"][:5]
    earlier_id = "e" * 64
    await store.import_documents(
        [
            {
                "_id": earlier_id,
                "short_id": earlier_id[:10],
                "url": "https://earlier.example/1",
                "source": "earlier.example",
                "status": "analyzed",
                "generation": 1,
                "progress": 4,
                "created_at": en_doc["created_at"].replace(year=2001),
                "extraction": {
                    "status": "ok",
                    "title": "An earlier event",
                    "published": en_doc["created_at"].replace(year=2001),
                },
                "analysis": {
                    "status": "ok",
                    "keywords": keywords,
                    "symbols": en_doc["analysis"]["symbols"][:2],
                },
                "votes": {"up": 0, "down": 0, "important": 0, "comments": 0},
            }
        ]
    )
    # stored as an article analyzed before the similar-events index: the upgrade command
    # indexes it (what `newsflow similar refresh` does)
    from newsflow.cli.similar import refresh

    assert await refresh(system_settings, store, limit=10) == 1
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(reader.url + "/")
    await page.fill("#urls", en_url)
    await page.check("form.publish input[name=refresh]")
    await page.click("form.publish button[type=submit]")
    assert await text(page, "#published li .badge") == "refreshed"
    en_doc = await settled(store, en_id, generation=2)
    assert [s["id"] for s in en_doc["analysis"]["similar"]][:1] == [earlier_id]
    await page.goto(f"{reader.url}/articles/{en_id[:10]}")
    await check_article_page(page, en_doc)
    assert "An earlier event" in await text(page, "#similar")
    await shot(page, "article-en")
    assert page.dialogs == []


async def test_injected_title_renders_as_text(
    page: Any, reader: ReaderThread, store: ArticleStore
) -> None:
    aid = "d" * 64
    newest = await store.latest(1)
    await store.import_documents(
        [
            {
                "_id": aid,
                "short_id": aid[:10],
                "url": "javascript:alert(1)",
                "source": XSS,
                "status": "analyzed",
                "generation": 1,
                "progress": 4,
                "created_at": newest[0].created_at if newest else None,
                "extraction": {
                    "status": "ok",
                    "title": XSS,
                    "text": f"{XSS}\n<script>alert(2)</script>",
                    "language": "en",
                    "word_count": 5,
                    "method": "trafilatura",
                },
                "translation": {"status": "not_needed", "target_language": "en"},
                "analysis": {
                    "status": "ok",
                    "symbols": [],
                    "keywords": [],
                    "category": "en_news",
                    "similar": [],
                    "impact": {"status": "skipped", "reason": XSS},
                },
                "votes": {"up": 0, "down": 0, "important": 0, "comments": 0},
            }
        ]
    )
    await page.goto(f"{reader.url}/?symbol=")
    row = page.locator(f'#news li[data-id="{aid}"] .title')
    assert await row.text_content() == XSS
    assert await page.locator("#news img").count() == 0
    await page.goto(f"{reader.url}/articles/{aid}")
    assert await page.locator("#title").text_content() == XSS
    assert await page.locator("#article img, #article script").count() == 0
    assert "<script>alert(2)</script>" in await text(page, "#text")
    assert await page.locator("#raw-link a").count() == 0  # javascript: is never a link
    await page.wait_for_timeout(300)
    assert page.dialogs == []
    await shot(page, "article-injected-title")
