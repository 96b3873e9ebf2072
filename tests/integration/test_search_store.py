"""Search, publication-time order and per-person votes in the store, on real SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.adapters.store import SEARCH_MAX_CANDIDATES, ArticleFilter, ArticleStore, BadCursor
from newsflow.domain.contracts import ExtractionResult, FetchResult, TranslationResult
from newsflow.domain.pipeline import STAGES
from tests.support.articles import analyzed

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)
STAGE = {s.field: s for s in STAGES}


async def test_stage_results_make_the_terms_and_the_event_time(store: ArticleStore) -> None:
    intake = await store.accept(
        canonical="https://news.example.cn/1",
        submitted_url="https://news.example.cn/1",
        submitted_by="test",
        refresh=False,
        entry_id="1-0",
    )
    aid = intake.article_id
    assert await store.save_stage(aid, 1, STAGE["fetch"], FetchResult(status="ok"))
    published = datetime(2022, 3, 1, tzinfo=UTC)
    ex = ExtractionResult(
        status="ok",
        title="比特币突破十万美元",
        text="投资者欢呼。",
        language="zh",
        published=published,
    )
    assert await store.save_stage(aid, 1, STAGE["extraction"], ex)
    tr = TranslationResult(
        status="translated",
        title="Bitcoin breaks 100,000 dollars",
        text="Investors cheer.",
        target_language="en",
        source_language="zh",
    )
    assert await store.save_stage(aid, 1, STAGE["translation"], tr)
    for query in ("比特币", "欢呼", "bitcoin", "investors cheer", "Bitcoin 比特币"):
        page = await store.search(query)
        assert [a.id for a in page.items] == [aid], query
    assert (await store.search("ethereum")).items == []
    article = await store.article(aid)
    assert article is not None and article.event_at == published
    assert "terms" not in article.document()  # lists and pages never load the terms


async def test_search_filters_pages_and_windows(store: ArticleStore) -> None:
    docs = [
        analyzed(
            f"https://a.example/{i}",
            title=f"Inflation report {i}",
            created=NOW - timedelta(days=i * 40),
            published=NOW - timedelta(days=i * 40),
            symbols=["SPY"] if i % 2 else ["QQQ"],
        )
        for i in range(12)
    ]
    await store.import_documents(docs)
    found = await store.search("inflation report", limit=5)
    assert [a.id for a in found.items] == [d["_id"] for d in docs[:5]]  # newest first
    assert found.next_cursor is not None
    more = await store.search("inflation report", limit=5, cursor=found.next_cursor)
    assert [a.id for a in more.items] == [d["_id"] for d in docs[5:10]]  # older windows too
    spy = await store.search("inflation", ArticleFilter(symbol="SPY"), limit=50)
    assert [a.id for a in spy.items] == [d["_id"] for d in docs[1::2]]
    with pytest.raises(BadCursor):
        await store.search("inflation", cursor="nope")
    assert SEARCH_MAX_CANDIDATES >= 1000


async def test_publication_time_order_and_backfill(store: ArticleStore) -> None:
    old = analyzed("https://b.example/old", created=NOW, published=datetime(2005, 1, 1, tzinfo=UTC))
    new = analyzed(
        "https://b.example/new",
        created=NOW - timedelta(hours=2),
        published=NOW - timedelta(hours=3),
    )
    future = analyzed(
        "https://b.example/future",
        created=NOW - timedelta(hours=1),
        published=NOW + timedelta(days=400),
    )  # bad metadata: not believed
    await store.import_documents([old, new, future])
    page = await store.page(ArticleFilter(sort="published"), limit=2)
    assert [a.id for a in page.items] == [future["_id"], new["_id"]]
    rest = await store.page(ArticleFilter(sort="published"), limit=2, cursor=page.next_cursor)
    assert [a.id for a in rest.items] == [old["_id"]]
    received = await store.page(ArticleFilter(), limit=3)
    assert [a.id for a in received.items] == [old["_id"], future["_id"], new["_id"]]


async def test_votes_once_per_person(store: ArticleStore) -> None:
    doc = analyzed("https://c.example/1")
    await store.import_documents([doc])
    aid = doc["_id"]
    counts, mine = await store.toggle_vote(aid, "p1", "up")
    assert counts.up == 1 and mine == ["up"]
    counts, mine = await store.toggle_vote(aid, "p2", "up")
    assert counts.up == 2
    counts, mine = await store.toggle_vote(aid, "p1", "up")  # taken back
    assert counts.up == 1 and mine == []
    counts, mine = await store.toggle_vote(aid, "p1", "important")
    assert counts.important == 1 and await store.my_votes(aid, "p1") == ["important"]
