"""Properties of the text analysis on arbitrary input: no crash, bounded, deterministic."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow.stages.analysis import analyze_text, word_count
from newsflow.stages.analysis.keywords import MAX_KEYWORDS
from newsflow.stages.analysis.symbols import MAX_SYMBOLS

CATEGORY = re.compile(r"^(?:[a-z]{2,3}|und)_(?:crypto|markets|tech|news)$")

# Words the analysis reacts to, mixed with arbitrary text, so the examples reach the
# interesting branches (names, tickers, context words, Chinese, kana).
FRAGMENTS = st.sampled_from(
    [
        "Bitcoin",
        "$BTC",
        "NVDA.O",
        "(NASDAQ: AAPL)",
        "Apple",
        "Apple's",
        "iPhone",
        "Amazon",
        "比特幣",
        "英伟达",
        "苹果",
        "北京东",
        "一百度",
        "Federal Reserve",
        "New York",
        "stocks",
        "の",
        "日本銀行",
        "ETF",
        " ",
        "\n",
        ".",
        "'s",
        "$",
        "-",
        "：",
        "。",
    ]
)
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=30)), max_size=40).map("".join)


@settings(max_examples=80, deadline=None)
@given(
    title=st.one_of(st.none(), TEXT),
    text=TEXT,
    original=st.one_of(st.none(), TEXT),
    language=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["en", "zh-TW"])),
)
def test_analyze_text_is_total_bounded_and_deterministic(
    title: str | None, text: str, original: str | None, language: str | None
) -> None:
    result = analyze_text(
        title=title, text=text, language=language, original_title=None, original_text=original
    )
    assert result == analyze_text(
        title=title, text=text, language=language, original_title=None, original_text=original
    )
    assert result.word_count <= len(text) + len(original or "")  # a word is a character or more
    assert len(result.symbols) == len(set(result.symbols)) <= MAX_SYMBOLS
    assert all(s == s.upper() and s.strip() == s and s for s in result.symbols)
    assert len(result.keywords) == len(set(result.keywords)) <= MAX_KEYWORDS
    assert all(k.strip() == k and k for k in result.keywords)
    assert result.category is not None and CATEGORY.match(result.category)


WORDS = st.text(alphabet=st.sampled_from(list("abcXYZ019比特币日本のカ한국 \n\t.,—")), max_size=40)


@settings(max_examples=100, deadline=None)
@given(a=WORDS, b=WORDS)
def test_word_count_adds_up_over_separate_pieces(a: str, b: str) -> None:
    assert word_count(f"{a} {b}") == word_count(a) + word_count(b)
