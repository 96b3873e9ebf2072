"""End to end: URL in, analyzed article in MongoDB, through the real worker processes.

Real redis-server, real SecantusDB, the four workers as `python -m services.<name>`, real
corpus pages over local HTTP, and the translation/impact provider against the local
chat-completions stand-in. Published with the `newsflow` command and with a raw XADD.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.domain.pipeline import STAGES
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from newsflow.stages.analysis import word_count
from newsflow.stages.extraction import count_words
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.e2e import IMPACT_MODEL, TRANSLATE_MODEL, settled, worker_settings
from tests.support.llm_server import LLMServer
from tests.support.workers import WorkerProcesses, run_newsflow

pytestmark = pytest.mark.integration

#: A GBK page (declared gb2312 in a meta tag, no HTTP charset) and an English news article.
GBK_PAGE = "05e98007-d810-4036-b154-2ef2fe68c2af"
CORPUS = Corpus()


def english_article_ids() -> list[str]:
    return CORPUS.ids("scrapinghub")


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="e2e-key") as server:
        yield server


@pytest.fixture(scope="module")
def e2e_settings(
    redis_server: Any, mongo_server: Any, corpus_server: CorpusServer, llm: LLMServer
) -> Settings:
    return worker_settings(
        redis_server, mongo_server, db="e2e", prefix="e2e", fetch_ports=[corpus_server.port],
        llm=llm, api_key="e2e-key",
    )  # fmt: skip


@pytest.fixture(scope="module")
def workers(
    e2e_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(e2e_settings, tmp_path_factory.mktemp("workers"))
    procs.start_all()
    procs.wait_ready()
    yield procs
    procs.stop_all()


@pytest.fixture
async def e2e_store(e2e_settings: Settings) -> AsyncIterator[ArticleStore]:
    store = ArticleStore.connect(e2e_settings)
    yield store
    store.close()


async def settled_doc(store: ArticleStore, aid: str) -> dict[str, Any]:
    """The stored document once the article is analyzed or failed."""
    return (await settled(store, aid)).document()


async def test_published_gbk_page_comes_out_chinese_translated_and_analyzed(
    workers: WorkerProcesses,
    corpus_server: CorpusServer,
    e2e_settings: Settings,
    e2e_store: ArticleStore,
    llm: LLMServer,
) -> None:
    url = corpus_server.url("zh_cwced", GBK_PAGE)
    run = run_newsflow(e2e_settings, "publish", url)
    assert run.returncode == 0, run.stderr
    aid = article_id(canonical_url(url))
    assert f"queued     {aid[:10]}" in run.stdout
    doc = await settled_doc(e2e_store, aid)
    assert doc["status"] == "analyzed", doc.get("failure")
    assert doc["fetch"]["encoding"] == "gb18030"
    ex = doc["extraction"]
    assert ex["language"] == "zh" and "\ufffd" not in ex["text"]
    assert "我是怎样卷入八九民运的" in ex["text"]  # from the page's ground truth
    tr = doc["translation"]
    assert tr["status"] == "translated" and tr["provider"] and tr["model"] == TRANSLATE_MODEL
    assert tr["source_language"] == "zh" and tr["target_language"] == "en"
    assert tr["text"] and "\u6211" not in tr["text"]  # Latin script out
    an = doc["analysis"]
    assert an["status"] == "ok" and an["category"].startswith("zh_")
    assert an["word_count"] > 0 and an["keywords"]
    assert [a["symbol"] for a in an["assets"]] == an["symbols"]  # same assets, same order
    assert an["impact"]["status"] == "ok" and an["impact"]["model"] == IMPACT_MODEL
    assert an["impact"]["impact"]["direction"] in ("bullish", "bearish", "neutral")
    # both the translator and the analyzer called the provider, each with the key
    assert len(llm.requests) >= 2
    assert {r.headers.get("authorization") for r in llm.requests} == {"Bearer e2e-key"}
    # every stage left its timestamp
    assert set(doc["times"]) >= {
        "queued_at",
        "fetched_at",
        "extracted_at",
        "translated_at",
        "analyzed_at",
    }
    # the person-readable view, by short id
    shown = run_newsflow(e2e_settings, "show", aid[:10])
    assert shown.returncode == 0 and ex["title"] in shown.stdout and "analyzed" in shown.stdout
    # publishing again is a duplicate of the same article, not a second one
    again = run_newsflow(e2e_settings, "publish", url + "#comments")
    assert f"duplicate  {aid[:10]}" in again.stdout, again.stdout


async def test_raw_xadd_and_english_page(
    workers: WorkerProcesses,
    corpus_server: CorpusServer,
    e2e_settings: Settings,
    e2e_store: ArticleStore,
) -> None:
    redis_cli = Path(sys.executable).parent / "redis-cli"
    port = e2e_settings.redis_url.rsplit(":", 1)[1].split("/")[0]
    urls = [corpus_server.url("scrapinghub", pid) for pid in english_article_ids()[:6]]
    for url in urls:
        await asyncio.to_thread(
            subprocess.run,
            [str(redis_cli), "-p", port, "XADD", "e2e:urls", "*", "url", url + "?utm_source=x"],
            check=True,
            capture_output=True,
            timeout=10,
        )
    docs = [await settled_doc(e2e_store, article_id(canonical_url(u))) for u in urls]
    analyzed = [d for d in docs if d["status"] == "analyzed"]
    assert analyzed, [d.get("failure") for d in docs]
    for d in docs:
        assert d["submitted_url"].endswith("?utm_source=x") and "utm_source" not in d["url"]
        if d["status"] == "failed":  # an honest reason, e.g. a paywalled page
            assert d["failure"]["reason"]
    for d in analyzed:
        assert d["extraction"]["language"] == "en"
        assert d["translation"]["status"] == "not_needed"
        # untranslated: the analyzer counted the whole extracted text, as the extractor did
        text = d["extraction"]["text"]
        assert d["extraction"]["word_count"] == count_words(text) > 0
        assert d["analysis"]["word_count"] == word_count(text, "en") > 0


async def test_bad_input_is_reported_not_dropped(
    workers: WorkerProcesses,
    corpus_server: CorpusServer,
    e2e_settings: Settings,
    e2e_store: ArticleStore,
) -> None:
    run = run_newsflow(e2e_settings, "publish", "ftp://example.org/x", "not a url")
    assert run.returncode == 1
    assert "scheme 'ftp' is not http or https" in run.stderr
    missing = f"http://127.0.0.1:{corpus_server.port}/zh_cwced/no-such-page.html"
    assert run_newsflow(e2e_settings, "publish", missing).returncode == 0
    doc = await settled_doc(e2e_store, article_id(canonical_url(missing)))
    assert doc["status"] == "failed" and "404" in doc["failure"]["reason"]
    assert doc["fetch"]["http_status"] == 404
    status = run_newsflow(e2e_settings, "status")
    assert status.returncode == 0 and "e2e:urls" in status.stdout
    # one process per stage here: one replica each (its "-reclaim" name is the same process)
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines() if line.strip()}
    assert [rows[s.name][4] for s in STAGES] == ["1"] * len(STAGES)
