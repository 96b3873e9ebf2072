"""End to end: a syndicated copy joins its original's story and costs no LLM request.

The four workers as processes, real Redis and SecantusDB, the pages over local HTTP (the
original on 127.0.0.1, its copy on another loopback "site"), translation and impact analysis
against the stand-in chat-completions server, which records every request it receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from tests.support.corpus_server import Corpus
from tests.support.e2e import TRANSLATE_MODEL, settled, worker_settings
from tests.support.llm_server import LLMServer
from tests.support.pages_server import PageServer, second_loopback
from tests.support.variants import syndicated_copy
from tests.support.workers import WorkerProcesses, run_newsflow

pytestmark = pytest.mark.integration

CORPUS = Corpus()
#: A Chinese news page of eight paragraphs, and another, unrelated one.
ORIGINAL = "b828b656-d89a-4f13-951f-4dab63df6351"
OTHER = "500b350d-d38d-4fb0-9e81-75e0c95e95a8"


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[PageServer, PageServer]]:
    original = CORPUS.page("zh_cwced", ORIGINAL)
    other = CORPUS.page("zh_cwced", OTHER)
    assert original is not None and other is not None
    # the copy: other chrome and title suffix, its last paragraph trimmed, in GBK
    copy = syndicated_copy(
        original, seed=3, text=CORPUS.truth("zh_cwced", ORIGINAL), trim_last=True,
        encoding="gbk",
    )  # fmt: skip
    with (
        PageServer({"/news/1.html": original, "/news/2.html": other}) as first,
        PageServer({"/wire/copy.html": copy}, second_loopback()) as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="stories-key") as server:
        yield server


@pytest.fixture(scope="module")
def stories_settings(
    redis_server: Any, mongo_server: Any, sites: tuple[PageServer, PageServer], llm: LLMServer
) -> Settings:
    return worker_settings(
        redis_server, mongo_server, db="e2e_stories", prefix="e2e-stories",
        fetch_ports=[s.port for s in sites], llm=llm, api_key="stories-key",
        llm_prices={TRANSLATE_MODEL: {"input": 0.3, "output": 2.5}},
    )  # fmt: skip


@pytest.fixture(scope="module")
def workers(
    stories_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(stories_settings, tmp_path_factory.mktemp("workers"))
    procs.start_all()
    procs.wait_ready()
    yield procs
    procs.stop_all()


@pytest.fixture
async def store(stories_settings: Settings) -> AsyncIterator[ArticleStore]:
    store = ArticleStore.connect(stories_settings)
    yield store
    store.close()


async def settled_doc(store: ArticleStore, aid: str, generation: int = 1) -> dict[str, Any]:
    """The stored document once the article is analyzed or failed in ``generation``."""
    return (await settled(store, aid, generation=generation)).document()


async def test_a_copy_joins_the_story_and_reuses_its_results_without_a_request(
    workers: WorkerProcesses, sites: tuple[PageServer, PageServer], stories_settings: Settings,
    store: ArticleStore, llm: LLMServer,
) -> None:  # fmt: skip
    first_site, second_site = sites
    original_url = first_site.url("/news/1.html")
    run = run_newsflow(stories_settings, "publish", original_url)
    assert run.returncode == 0, run.stderr
    original_id = article_id(canonical_url(original_url))
    original = await settled_doc(store, original_id)
    assert original["status"] == "analyzed", original.get("failure")
    assert original["translation"]["status"] == "translated"
    assert original["analysis"]["impact"]["status"] == "ok"
    assert original["story"]["id"] == original_id and original["story"]["first"] is True
    usage = original["translation"]["usage"]
    chunks = original["translation"]["chunks"]
    # every chunk and the title sent once, and one impact analysis: all the requests made
    assert usage["calls"] == chunks + 1 and usage["cached"] == 0
    assert len(llm.requests) == chunks + 2
    assert usage["cost"] is not None and usage["cost"] > 0  # priced
    assert original["analysis"]["impact"]["usage"]["cost"] is None  # no price for the analyst
    sent = len(llm.requests)

    # the copy, published after its original, from another site
    copy_url = second_site.url("/wire/copy.html")
    assert run_newsflow(stories_settings, "publish", copy_url).returncode == 0
    copy_id = article_id(canonical_url(copy_url))
    copy = await settled_doc(store, copy_id)
    assert copy["status"] == "analyzed", copy.get("failure")
    assert copy["fetch"]["encoding"] == "gb18030"
    story = copy["story"]
    assert (story["id"], story["first"], story["matched"]) == (original_id, False, original_id)
    assert 0.5 <= story["similarity"] < 1.0 and story["containment"] >= 0.9
    assert copy["translation"]["reused"]["article_id"] == original_id
    assert copy["translation"]["text"] == original["translation"]["text"]
    impact = copy["analysis"]["impact"]
    assert impact["reused"]["article_id"] == original_id
    assert impact["impact"] == original["analysis"]["impact"]["impact"]
    assert len(llm.requests) == sent  # no LLM request for the copy

    # a refresh of the original: the same text, every answer from the cache
    assert run_newsflow(stories_settings, "publish", "--refresh", original_url).returncode == 0
    refreshed = await settled_doc(store, original_id, generation=2)
    assert refreshed["status"] == "analyzed"
    assert refreshed["translation"]["usage"]["cached"] == chunks + 1
    assert refreshed["analysis"]["impact"]["usage"]["cached"] == 1
    assert len(llm.requests) == sent

    # a materially different article stands alone and gets its own results
    other_url = first_site.url("/news/2.html")
    assert run_newsflow(stories_settings, "publish", other_url).returncode == 0
    other = await settled_doc(store, article_id(canonical_url(other_url)))
    assert other["story"]["first"] is True and other["story"]["id"] == other["_id"]
    assert other["translation"].get("reused") is None
    assert len(llm.requests) > sent

    # what the command line shows: the story and the day's LLM usage
    shown = run_newsflow(stories_settings, "show", copy_id[:10])
    assert shown.returncode == 0 and f"story {original_id[:10]}" in shown.stdout, shown.stdout
    status = run_newsflow(stories_settings, "status")
    assert status.returncode == 0 and "LLM usage" in status.stdout, status.stdout
    assert "translation" in status.stdout and "reused 1" in status.stdout
