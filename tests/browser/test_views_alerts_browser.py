"""The list views, filters, feeds and alert rules in real headless Chromium.

Articles as the stages leave them are stored directly; the reader runs on a real uvicorn and
the notifier as a `python -m services.notifier` process, sending to a local receiver that
verifies signatures with the README's recipe. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from newsflow.adapters.alerts import AlertStore
from newsflow.adapters.store import ArticleStore
from newsflow.cli.embedded import Server
from newsflow.settings import Settings
from services.reader.server import ReaderThread
from tests.support.articles import analyzed
from tests.support.browser import BROWSER_TESTS, shot, text
from tests.support.webhook_server import WebhookServer
from tests.support.workers import WorkerProcesses

pytestmark = BROWSER_TESTS

NOW = datetime.now(UTC)
DOCS = {
    "bull": analyzed(
        "https://coindesk.com/btc-etf",
        title="Bitcoin ETF inflows hit a record",
        symbols=["BTC"],
        direction="bullish",
        category="en_crypto",
        created=NOW - timedelta(hours=1),
        published=NOW - timedelta(hours=1),
        votes={"up": 1},
    ),
    "bear": analyzed(
        "https://www.reuters.com/hack",
        title="Exchange hack drains bitcoin",
        symbols=["BTC"],
        direction="bearish",
        category="en_crypto",
        created=NOW - timedelta(hours=2),
        published=NOW - timedelta(hours=2),
        votes={"up": 9, "important": 4},
    ),
    "zh": analyzed(
        "https://news.example.cn/nvda",
        title="Nvidia results beat forecasts",
        original_title="英伟达财报超预期",
        symbols=["NVDA"],
        direction="bullish",
        category="zh_news",
        language="zh",
        created=NOW - timedelta(hours=3),
        published=NOW - timedelta(hours=30),
    ),
    "wrap": analyzed(
        "https://www.reuters.com/wrap",
        title="Market wrap: stocks drift",
        symbols=["AAPL"],
        created=NOW - timedelta(hours=4),
        published=NOW - timedelta(hours=4),
    ),
}
TITLE = {k: d["translation"].get("title") or d["extraction"]["title"] for k, d in DOCS.items()}


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture(scope="module")
def module_settings(redis_server: Server, mongo_server: Server, hooks: WebhookServer) -> Settings:
    return Settings(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
        mongo_url=f"mongodb://127.0.0.1:{mongo_server.port}",
        mongo_db="browser_views",
        stream_prefix="browser-views",
        fetch_allowed_networks=["127.0.0.0/8"],
        fetch_allowed_ports=[int(hooks.base.rsplit(":", 1)[1])],
        poll_interval_ms=100,
        claim_idle_ms=10_000,
        handler_timeout=6,
        alert_timeout=2.0,
        reader_refresh_seconds=0.5,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return list(DOCS.values())


@pytest.fixture(scope="module")
def notifier(
    module_settings: Settings, store: ArticleStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(module_settings, tmp_path_factory.mktemp("notifier"))
    procs.start("notifier")
    procs.wait_ready(timeout=120)
    yield procs
    procs.stop_all()


async def shown_titles(page: Any) -> list[str]:
    return [
        " ".join((t or "").split())
        for t in await page.locator("#news li .title").all_text_contents()
    ]


async def test_views_filters_and_feeds_by_clicking(page: Any, reader: ReaderThread) -> None:
    await page.goto(reader.url + "/")
    # newest publication first: zh was received 3 h ago but published 30 h ago
    assert await shown_titles(page) == [TITLE[k] for k in ("bull", "bear", "wrap", "zh")]
    await page.click('#views a[data-view="bullish"]')
    await page.wait_for_url("**/?view=bullish")
    assert await shown_titles(page) == [TITLE["bull"], TITLE["zh"]]
    assert await page.locator('#views a[aria-current="page"]').text_content() == "Bullish"
    await shot(page, "view-bullish")

    # the list refreshes itself with the same view (it would show every article otherwise)
    await page.wait_for_timeout(1500)
    assert await shown_titles(page) == [TITLE["bull"], TITLE["zh"]]

    await page.click('#views a[data-view="hot"]')
    await page.wait_for_url("**/?view=hot")
    # (1 + up - down + 2 * important) / (age_hours + 2) ** 1.5: the bearish story's nine up and
    # four important votes outweigh its extra hour (2.25 against 0.38); the unvoted wrap (0.07)
    # comes before the Chinese story, received 3 h ago but published 30 h ago (0.006)
    assert await shown_titles(page) == [TITLE[k] for k in ("bear", "bull", "wrap", "zh")]

    # per source, from a row's source link, within the hot view's filters
    await page.goto(reader.url + "/?view=important")
    assert await shown_titles(page) == [TITLE["bear"]]
    await page.goto(reader.url + "/")
    await page.locator(f'#news li:has-text("{TITLE["wrap"]}") a.source').click()
    await page.wait_for_url("**/?source=reuters.com")
    assert await shown_titles(page) == [TITLE["bear"], TITLE["wrap"]]
    assert "source: reuters.com" in await text(page, "#filters")
    await page.click('#views a[data-view="bearish"]')
    await page.wait_for_url("**/?source=reuters.com&view=bearish")
    assert await shown_titles(page) == [TITLE["bear"]]
    # the page's feed link carries the same view and filters, and validates
    href = await page.locator("#feed-atom").get_attribute("href")
    assert href == "/feeds/atom.xml?view=bearish&source=reuters.com"
    feed = await page.request.get(reader.url + href)
    parsed = feedparser.parse(await feed.body())
    assert not parsed.bozo and [e.title for e in parsed.entries] == [TITLE["bear"]]
    # removing the filter keeps the view
    await page.click('#filters [data-filter="source"] a')
    await page.wait_for_url("**/?view=bearish")
    assert await shown_titles(page) == [TITLE["bear"]]
    # a symbol from a row, then the direction badge
    await page.goto(reader.url + "/")
    await page.locator(f'#news li:has-text("{TITLE["zh"]}") a.symbol').click()
    await page.wait_for_url("**/?symbol=NVDA")
    assert await shown_titles(page) == [TITLE["zh"]]
    await page.locator("#news li a.direction").click()
    await page.wait_for_url("**/?direction=bullish")
    assert await shown_titles(page) == [TITLE["bull"], TITLE["zh"]]
    assert page.dialogs == []


async def test_an_alert_rule_from_the_page_fires_on_important_votes(
    page: Any,
    reader: ReaderThread,
    notifier: WorkerProcesses,
    hooks: WebhookServer,
    module_settings: Settings,
) -> None:
    await page.goto(reader.url + "/alerts")
    form = page.locator("#add-rule")
    await form.locator("input[name=name]").fill("BTC, important")
    await form.locator("input[name=symbols]").fill("btc")
    await form.locator("input[name=min_important]").fill("5")
    await form.locator("input[name=url]").fill(hooks.url("/hooks/browser"))
    await form.locator("button[type=submit]").click()
    secret = (await page.locator("#created .secret").text_content() or "").strip()
    assert secret.startswith("whsec_")
    hooks.secrets["/hooks/browser"] = secret
    row = page.locator("#rules tbody tr").first
    assert "symbol BTC; important votes >= 5" in " ".join((await row.text_content() or "").split())
    await shot(page, "alerts")

    # the bearish BTC story has four important votes: one more, cast from its page, fires it
    aid = DOCS["bear"]["_id"]
    await page.goto(f"{reader.url}/articles/{aid}")
    await page.click("#vote-important")
    await page.wait_for_function(
        "() => document.querySelector('#vote-important .count').textContent === '5'"
    )
    for _ in range(300):
        if hooks.received("/hooks/browser"):
            break
        await asyncio.sleep(0.1)
    [got] = hooks.received("/hooks/browser")
    assert got.problem is None  # signed with the secret the page showed
    assert got.json()["article"]["id"] == aid and got.json()["article"]["votes"]["important"] == 5

    alerts = AlertStore.connect(module_settings)
    try:
        for _ in range(100):
            [rule] = await alerts.rules()
            if rule.deliveries == 1:
                break
            await asyncio.sleep(0.1)
    finally:
        alerts.close()
    await page.goto(reader.url + "/alerts")
    row = page.locator("#rules tbody tr").first
    assert await row.locator("td.delivered").get_attribute("data-deliveries") == "1"
    assert await row.locator("td.failures").get_attribute("data-failures") == "0"
    assert "never" not in await text(page, "#rules td.delivered")
    assert secret not in await page.content()
    await page.locator("#rules tbody tr form[action$='/remove'] button").click()
    await page.wait_for_url("**/alerts")
    assert "No alert rules yet" in await text(page, "#rules")
    assert page.dialogs == []
