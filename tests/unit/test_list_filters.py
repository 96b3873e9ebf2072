"""The list's filters and views as MongoDB queries, and the list page's links (no server)."""

from __future__ import annotations

import base64

import pytest

from newsflow.adapters.store import (
    MAX_OFFSET,
    ArticleFilter,
    BadCursor,
    decode_offset,
    encode_offset,
)
from services.reader.views import list_state

DIRECTION = "analysis.impact.impact.direction"
NOTHING = {"_id": {"$in": []}}


@pytest.mark.parametrize(
    ("where", "query"),
    [
        (ArticleFilter(), {}),
        (ArticleFilter(view="bullish"), {"status": "analyzed", DIRECTION: "bullish"}),
        (
            ArticleFilter(view="bearish", symbol=" btc "),
            {"status": "analyzed", "analysis.symbols": "BTC", DIRECTION: "bearish"},
        ),
        (
            ArticleFilter(view="bullish", direction="bullish"),
            {"status": "analyzed", DIRECTION: "bullish"},
        ),
        (ArticleFilter(view="bullish", direction="bearish"), NOTHING),
        (ArticleFilter(view="hot", status="queued"), NOTHING),
        (ArticleFilter(view="hot"), {"status": "analyzed"}),
        (ArticleFilter(view="important"), {"votes.important": {"$gte": 1}}),
        (ArticleFilter(view="important", important=3), {"votes.important": {"$gte": 3}}),
        (
            ArticleFilter(important=2, direction="Neutral"),
            {DIRECTION: "neutral", "votes.important": {"$gte": 2}},
        ),
        (ArticleFilter(source="reuters.com"), {"source": "reuters.com"}),
        # a host in any case, or a source's name as stored (a feed's: "CoinDesk Wire")
        (
            ArticleFilter(source="WWW.Reuters.com"),
            {"source": {"$in": ["WWW.Reuters.com", "reuters.com"]}},
        ),
        # user text is matched as a value, never as an operator or a pattern
        (
            ArticleFilter(symbol="$ne", category=".*"),
            {"analysis.symbols": "$NE", "analysis.category": ".*"},
        ),
    ],
)
def test_filters_and_views_make_these_queries(
    where: ArticleFilter, query: dict[str, object]
) -> None:
    assert where.query() == query


def test_hot_cursors_are_positions_and_refuse_anything_else() -> None:
    assert decode_offset(encode_offset(150)) == 150
    assert decode_offset(encode_offset(MAX_OFFSET)) == MAX_OFFSET
    forged = (encode_offset(10**30), encode_offset(2**62), encode_offset(MAX_OFFSET + 1))
    as_bool = base64.urlsafe_b64encode(b'{"o":true}').decode()
    for bad in ("", "bm90IGpzb24", encode_offset(-1), "eyJ0IjoiMjAyNiJ9", *forged, as_bool):
        with pytest.raises(BadCursor):
            decode_offset(bad)


def test_the_list_page_links_keep_the_filters_across_views() -> None:
    state = list_state("bullish", {"symbol": "BTC", "source": None, "important": 2})
    assert state["query"] == "view=bullish&symbol=BTC&important=2"
    hrefs = {v["name"]: v["href"] for v in state["views"]}
    assert hrefs["latest"] == "/?symbol=BTC&important=2"
    assert hrefs["hot"] == "/?symbol=BTC&important=2&view=hot"
    assert [v["name"] for v in state["views"] if v["current"]] == ["bullish"]
    removals = {f["name"]: f["remove"] for f in state["active"]}
    assert removals == {
        "symbol": "/?important=2&view=bullish",
        "important": "/?symbol=BTC&view=bullish",
    }
    assert (
        list_state("latest", {})["query"] == ""
        and list_state("latest", {})["views"][0]["href"] == "/"
    )
    # values are URL-encoded, never pasted into the link
    assert list_state("latest", {"symbol": "A&B=<x>"})["query"] == "symbol=A%26B%3D%3Cx%3E"
