"""Similar events' plain logic: terms, BM25 weights, decay, one entry per story, fusion."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.stages.similar_events import (
    MAX_TERMS,
    SYMBOL_WEIGHT,
    Candidate,
    Scored,
    Stats,
    decay,
    event_terms,
    evidence,
    fuse,
    idf,
    lexical_score,
    one_per_story,
    rank_lexical,
    retrieval_terms,
    term_weights,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def test_terms_put_symbols_and_title_first_and_drop_stop_words() -> None:
    terms = event_terms(
        title="Bitcoin ETF inflows hit a record", text="The fund's inflows were large. " * 3,
        symbols=["BTC"], keywords=["spot etf"],
    )  # fmt: skip
    assert terms[:2] == ["$BTC", "spot etf"]
    assert terms[2:6] == ["bitcoin", "etf", "inflows", "hit"]
    assert "the" not in terms and "a" not in terms and "fund" in terms  # "fund's" -> "fund"


def test_terms_are_bounded_and_untranslated_chinese_gives_bigrams() -> None:
    many = " ".join(f"word{n}x" for n in range(500))
    assert len(event_terms(title="", text=many, symbols=[], keywords=[])) == MAX_TERMS
    zh = event_terms(title="特斯拉股价大涨", text="", symbols=[], keywords=[])
    assert "特斯" in zh and "股价" in zh


def test_idf_is_higher_for_rare_terms_and_never_negative() -> None:
    assert idf(1, 10_000) > idf(100, 10_000) > idf(9_999, 10_000) > 0
    assert idf(50, 10) == idf(10, 10) > 0  # clipped


def test_a_shared_symbol_outweighs_a_shared_word_of_equal_rarity() -> None:
    stats = Stats(1000, 40.0)
    weights = term_weights(["$AAPL", "iphone"], {"$AAPL": 10, "iphone": 10}, stats)
    assert weights["$AAPL"] == pytest.approx(SYMBOL_WEIGHT * weights["iphone"])
    assert retrieval_terms(weights, {"$AAPL": 10, "iphone": 10}) == ["$AAPL", "iphone"]
    assert retrieval_terms(weights, {"iphone": 3}) == ["iphone"]  # never seen: no postings


def test_rare_shared_terms_score_higher_than_common_ones() -> None:
    stats = Stats(1000, 40.0)
    dfs = {"stadia": 3, "google": 80, "company": 700, "service": 600}
    # the article's other terms, shared with neither candidate
    dfs |= {f"q{n}": 20 for n in range(10)}
    weights = term_weights(list(dfs), dfs, stats)
    rare = Candidate("rare", ["stadia", "google"] + [f"x{n}" for n in range(38)])
    generic = Candidate("generic", ["company", "service"] + [f"y{n}" for n in range(38)])
    s_rare, shared = lexical_score(weights, rare, stats, when=None, half_life_days=0)
    s_generic, _ = lexical_score(weights, generic, stats, when=None, half_life_days=0)
    assert shared == ["stadia", "google"] and s_rare > 3 * s_generic
    ranked = rank_lexical(weights, [generic, rare], stats, when=None, half_life_days=0)
    assert [s.candidate.id for s in ranked] == ["rare"]  # the generic one is under the floor


def test_time_decay_halves_per_half_life() -> None:
    assert decay(T0, T0 - timedelta(days=30), 30) == pytest.approx(0.5)
    assert decay(T0, T0 - timedelta(days=60), 30) == pytest.approx(0.25)
    assert decay(T0, T0 - timedelta(days=60), 0) == 1.0
    assert decay(T0, None, 30) == 1.0


def test_one_entry_per_story_and_never_the_articles_own_story() -> None:
    def s(aid: str, story: str, score: float) -> Scored:
        return Scored(Candidate(aid, [], story=story, published=T0), score)

    out = one_per_story([s("a", "A", 0.9), s("a2", "A", 0.95), s("b", "B", 0.5),
                         s("mine", "ME", 0.99)], "ME", 6)  # fmt: skip
    assert [x.candidate.id for x in out] == ["a2", "b"]


def test_fusion_keeps_both_kinds_of_evidence() -> None:
    both = Candidate("x", [], story="X")
    lexical = [Scored(both, 0.4, ["stadia"], "lexical"), Scored(Candidate("y", []), 0.3, ["g"])]
    sem = Candidate("x", [], story="X", semantic=0.83)
    semantic = [Scored(sem, 0.83, [], "semantic"), Scored(Candidate("z", [], semantic=0.5), 0.5)]
    fused = fuse(lexical, semantic)
    assert fused[0].candidate.id == "x" and fused[0].method == "both"
    assert evidence(fused[0]) == "shared: stadia; semantic similarity 0.83"
    assert {f.candidate.id for f in fused} == {"x", "y", "z"}
    assert math.isclose(len(fused), 3)
