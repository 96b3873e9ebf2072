"""Similar earlier articles: the store's candidate query on a real SecantusDB server, ranked
by the analysis stage's scoring (what the analyzer does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import SimilarArticle
from newsflow.stages.analysis import CANDIDATES, rank_similar, terms
from newsflow.stages.analysis.similar import score_terms

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
ME = "f" * 64
SYMBOLS = ["BTC", "ETH"]
KEYWORDS = ["etf", "inflows", "sec", "price"]


def doc(
    name: str,
    symbols: list[str],
    keywords: list[str],
    *,
    published: datetime | None = None,
    created: datetime | None = None,
    translated: str | None = None,
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "_id": name,
        "status": "analyzed",
        # submitted when published unless said otherwise
        "created_at": created or published or T0 - timedelta(days=30),
        "extraction": {
            "status": "ok",
            "title": f"original {name}",
            "language": "zh",
            "text": "...",
        },
        "analysis": {
            "status": "ok",
            "symbols": symbols,
            "keywords": keywords,
            "category": "zh_crypto",
        },
    }
    if published is not None:
        d["extraction"]["published"] = published
    if translated is not None:
        d["translation"] = {"status": "translated", "title": translated}
    return d


async def find_similar(
    store: ArticleStore,
    *,
    article_id: str,
    symbols: list[str],
    keywords: list[str],
    before: datetime | None,
    limit: int = 6,
    candidates: int = CANDIDATES,
) -> list[SimilarArticle]:
    """The analyzer's two steps: the store's candidates, then the stage's ranking."""
    found = await store.similar_candidates(
        article_id=article_id,
        symbols=terms(symbols),
        keywords=terms(keywords),
        before=before,
        limit=candidates,
    )
    return rank_similar(found, symbols=symbols, keywords=keywords, limit=limit)


@pytest.fixture
async def articles(store: ArticleStore) -> ArticleStore:
    await store.import_documents(
        [
            # this article itself: earlier than `before` and sharing everything, never returned
            doc(ME, SYMBOLS, KEYWORDS, published=T0 - timedelta(hours=1)),
            doc(
                "a",
                ["BTC", "ETH"],
                ["etf", "inflows"],
                published=T0 - timedelta(days=2),
                translated="Bitcoin and Ether ETFs draw inflows",
            ),
            doc("b", ["BTC"], ["etf"], published=T0 - timedelta(days=3)),
            doc("c", ["ETH"], [], published=T0 - timedelta(days=1)),
            doc("d", [], ["price"], published=T0 - timedelta(days=5)),
            doc("j", ["BTC"], ["etf", "sec"], published=T0 - timedelta(days=6)),
            doc("k", [], ["sec"], published=T0 - timedelta(days=7)),
            # no publication date: its creation time decides
            doc("f", ["BTC"], [], created=T0 - timedelta(days=4)),
            doc("g", ["BTC"], [], created=T0 + timedelta(days=2)),
            # published after `before`, though sharing every term
            doc("e", SYMBOLS, KEYWORDS, published=T0 + timedelta(days=1)),
            # sharing nothing
            doc("h", ["TSLA"], ["cars"], published=T0 - timedelta(days=1)),
        ]
    )
    return store


async def test_earlier_articles_best_first_limited_to_six(
    articles: ArticleStore,
) -> None:
    found = await find_similar(
        articles, article_id=ME, symbols=SYMBOLS, keywords=KEYWORDS, before=T0
    )
    # a 6/8, j 4/8, b 3/8, c and f 2/8 (c is more recent), d and k 1/8 (k is cut by the limit)
    assert [s.id for s in found] == ["a", "j", "b", "c", "f", "d"]
    assert [s.score for s in found] == [0.75, 0.5, 0.375, 0.25, 0.25, 0.125]
    by_id = {s.id: s for s in found}
    assert by_id["a"].title == "Bitcoin and Ether ETFs draw inflows"  # translated title
    assert by_id["b"].title == "original b"
    assert by_id["a"].shared == ["BTC", "ETH", "etf", "inflows"]  # symbols first
    assert by_id["j"].shared == ["BTC", "etf", "sec"]
    assert by_id["a"].published == T0 - timedelta(days=2)
    assert by_id["f"].published == T0 - timedelta(days=4)  # creation time stands in


async def test_without_a_time_bound_later_articles_count_too(
    articles: ArticleStore,
) -> None:
    found = await find_similar(
        articles, article_id=ME, symbols=SYMBOLS, keywords=KEYWORDS, before=None, limit=20
    )
    ids = [s.id for s in found]
    assert ids[0] == "e" and found[0].score == 1.0
    assert "g" in ids and ME not in ids and "h" not in ids
    assert len(ids) == 9


async def test_limit_and_candidate_bound(articles: ArticleStore) -> None:
    two = await find_similar(
        articles, article_id=ME, symbols=SYMBOLS, keywords=KEYWORDS, before=T0, limit=2
    )
    assert [s.id for s in two] == ["a", "j"]
    # Only the 3 most recently created matching articles are read and scored: c, a, b.
    bounded = await find_similar(
        articles, article_id=ME, symbols=SYMBOLS, keywords=KEYWORDS, before=T0, candidates=3
    )
    assert [s.id for s in bounded] == ["a", "b", "c"]


async def test_naive_before_is_taken_as_utc(articles: ArticleStore) -> None:
    naive = T0.replace(tzinfo=None)
    found = await find_similar(
        articles, article_id=ME, symbols=SYMBOLS, keywords=KEYWORDS, before=naive
    )
    assert [s.id for s in found] == ["a", "j", "b", "c", "f", "d"]


async def test_keywords_only_and_symbols_only(articles: ArticleStore) -> None:
    by_keyword = await find_similar(
        articles, article_id=ME, symbols=[], keywords=["sec"], before=T0
    )
    assert {s.id for s in by_keyword} == {"j", "k"}
    by_symbol = await find_similar(
        articles, article_id=ME, symbols=["TSLA"], keywords=[], before=T0
    )
    assert [s.id for s in by_symbol] == ["h"] and by_symbol[0].shared == ["TSLA"]


async def test_nothing_to_match(articles: ArticleStore) -> None:
    assert await find_similar(articles, article_id=ME, symbols=[], keywords=[], before=T0) == []
    assert (
        await find_similar(articles, article_id=ME, symbols=["XMR"], keywords=["zebra"], before=T0)
        == []
    )
    assert (
        await find_similar(
            articles, article_id=ME, symbols=SYMBOLS, keywords=KEYWORDS, before=T0, limit=0
        )
        == []
    )


async def test_malformed_stored_analysis_is_skipped_not_a_crash(
    articles: ArticleStore,
) -> None:
    await articles.import_documents(
        [
            {
                "_id": "bad",
                "created_at": T0 - timedelta(days=1),
                "analysis": {"symbols": ["BTC", 7, None], "keywords": "not a list"},
            }
        ]
    )
    found = await find_similar(
        articles, article_id=ME, symbols=["BTC"], keywords=["etf"], before=T0, limit=20
    )
    # read as an article without an analysis: nothing shared, not a result, no error
    assert "bad" not in {s.id for s in found} and {"a", "b", "j"} <= {s.id for s in found}


def test_score_terms_is_a_weighted_jaccard() -> None:
    assert score_terms(["BTC"], ["etf"], ["BTC"], ["etf"]) == (1.0, ["BTC", "etf"])
    assert score_terms(["BTC"], [], ["ETH"], []) == (0.0, [])
    assert score_terms([], [], [], []) == (0.0, [])
    # a shared symbol outweighs a shared keyword
    symbol_only, _ = score_terms(["BTC"], ["etf"], ["BTC"], ["other"])
    keyword_only, _ = score_terms(["BTC"], ["etf"], ["ETH"], ["etf"])
    assert symbol_only > keyword_only
