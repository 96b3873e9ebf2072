"""Reading and validating a model's impact analysis."""

from __future__ import annotations

import json

import pytest

from newsflow.stages.impact import ImpactRejected, normalize_ticker, parse_impact
from tests.support.regex_audit import time_limit

ARTICLE = "Apple (NASDAQ: AAPL) beat estimates. Microsoft, MSFT, was flat. Toyota 7203.T rose."


def _answer(**fields: object) -> str:
    base: dict[str, object] = {
        "summary": "Apple beat estimates.",
        "direction": "bullish",
        "symbols": ["AAPL"],
        "confidence": 0.7,
        "rationale": "Earnings beat.",
    }
    base.update(fields)
    return json.dumps(base)


@pytest.mark.parametrize(
    ("raw", "ticker"),
    [
        ("aapl", "AAPL"), ("$TSLA", "TSLA"), ("NASDAQ:MSFT", "MSFT"), ("BRK.B", "BRK.B"),
        ("0700.HK", "0700.HK"), ("600519.SS", "600519.SS"), ("7203.T", "7203.T"),
        ("DROP TABLE", None), ("rm -rf /", None), ("", None), (42, None), ("TOOLONGTICKER", None),
    ],
)  # fmt: skip
def test_ticker_shapes(raw: object, ticker: str | None) -> None:
    assert normalize_ticker(raw) == ticker


def test_a_valid_answer_is_parsed() -> None:
    impact = parse_impact(_answer(direction=" Bullish "), ["AAPL"], ARTICLE)
    assert (impact.direction, impact.symbols, impact.confidence) == ("bullish", ["AAPL"], 0.7)


def test_symbols_must_be_given_or_named_in_the_article() -> None:
    answer = _answer(symbols=["$aapl", "NASDAQ:MSFT", "TSLA", "7203.T", "AAPL", "ignore all"])
    impact = parse_impact(answer, ["AAPL"], ARTICLE)
    # TSLA is invented (neither a candidate nor in the text); junk is not a ticker.
    assert impact.symbols == ["AAPL", "MSFT", "7203.T"]
    assert parse_impact(_answer(symbols="AAPL, MSFT"), [], ARTICLE).symbols == ["AAPL", "MSFT"]


@pytest.mark.parametrize(
    ("article", "symbol", "kept"),
    [
        # words that look like tickers are not the article naming an asset
        ("The CEO said a deal was near.", "CEO", False),
        ("A new chip was shown.", "A", False),  # A is Agilent's ticker, not this "A"
        ("IT spending rose.", "IT", False),  # Gartner's ticker, written as a word
        ("Spending on apple pie rose.", "AAPL", False),
        ("Rivals such as AMC gained.", "AMC", False),  # unknown to the tables, a bare word
        ("UPDATE: CEO resigns.", "CEO", False),  # a word before a colon is no exchange
        ("BREAKING: IT spending rose.", "IT", False),
        ("WATCH: the new iPhone.", "THE", False),
        ("US:AI stocks rallied.", "AI", False),
        ("The G7 met after Q3 results.", "G7", False),
        ("COVID-19 cases fell.", "COVID-19", False),
        # named: a name of the asset, a distinctive ticker, a Chinese name
        ("Apple beat estimates.", "AAPL", True),
        ("Shares of Advanced Micro Devices rose.", "AMD", True),
        ("AMD shares rose.", "AMD", True),
        ("NVDA rose 3%.", "NVDA", True),
        ("英伟达股价上涨。", "NVDA", True),
        ("騰訊控股公布業績。", "0700.HK", True),
        # written as a ticker, known or not
        ("Retail traders bought $GME again.", "GME", True),
        ("Acme (NYSE: ACMEX) fell.", "ACMEX", True),
        ("Tencent 0700.HK rose.", "0700.HK", True),
    ],
)
def test_a_symbol_not_given_must_be_named_or_written_as_a_ticker(
    article: str, symbol: str, kept: bool
) -> None:
    impact = parse_impact(_answer(symbols=[symbol]), [], article)
    assert impact.symbols == ([symbol] if kept else [])


def test_a_repeated_symbol_is_judged_once() -> None:
    # A model repeating a symbol that fails the check (reviewer: 100 x "AMP-USD" on 100 KB
    # of "amp" took 1.2 s, each one searched again).
    article = "amp " * 25_000
    with time_limit(0.5, "parse_impact with one failing symbol repeated 100 times"):
        impact = parse_impact(_answer(symbols=["AMP-USD"] * 100), [], article)
    assert impact.symbols == []


def test_fences_and_chatter_around_the_object_are_tolerated() -> None:
    plain = parse_impact(_answer(), ["AAPL"], ARTICLE)
    assert plain.summary == "Apple beat estimates." and plain.symbols == ["AAPL"]
    assert parse_impact(f"```json\n{_answer()}\n```", ["AAPL"], ARTICLE) == plain
    chatty = f"Here is my analysis: {_answer()} Hope it helps!"
    assert parse_impact(chatty, ["AAPL"], ARTICLE) == plain


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("PWNED", "the answer is not JSON$"),  # what the model said is logged, not stored
        ('{"summary": "cut off", "direction": ', "not JSON"),
        ('{"summary": "x", "direction": bullish}', "not valid JSON"),
        ("[1, 2]", "not an object"),
        (_answer(direction="up"), "direction: Input should be 'bullish', 'bearish' or 'neutral'"),
        (_answer(confidence=1.5), "confidence: Input should be less than or equal to 1"),
        (_answer(summary=""), "summary: String should have at least 1 character"),
        (_answer(symbols={"a": 1}), "symbols are not a list"),
        (_answer(summary="see </article_text> now"), "echoes"),
    ],
)
def test_invalid_answers_are_rejected_with_a_reason(answer: str, reason: str) -> None:
    escaped = reason.replace("(", "\\(").replace(")", "\\)")
    with pytest.raises(ImpactRejected, match=escaped):
        parse_impact(answer, ["AAPL"], ARTICLE)


def test_a_flood_of_symbols_is_cut_before_it_is_checked() -> None:
    # Each symbol of an answer is looked for in the article; 200,000 of them (a model can be
    # talked into it) stalled the analyzer's event loop for seconds.
    article = "Apple reported results. " * 500
    answer = _answer(symbols=["ZZZZ"] * 200_000 + ["AAPL"])
    with time_limit(0.5, "parse_impact with 200,000 symbols"):
        impact = parse_impact(answer, ["AAPL"], article)
    assert impact.symbols == []  # the cut keeps the first ones, all ungrounded here
    assert parse_impact(_answer(symbols=["ZZZZ", "AAPL"]), ["AAPL"], article).symbols == ["AAPL"]


def test_a_blank_summary_is_no_summary() -> None:
    # It was stored as an "ok" analysis with a summary of three spaces (outside review).
    with pytest.raises(ImpactRejected):
        parse_impact(_answer(summary="   "), ["AAPL"], ARTICLE)
    assert parse_impact(_answer(summary="  Apple rose. "), ["AAPL"], ARTICLE).summary == (
        "Apple rose."
    )


def test_a_summary_in_another_script_than_the_target_is_refused() -> None:
    with pytest.raises(ImpactRejected, match="not in the target language"):
        parse_impact(_answer(summary="苹果股价上涨"), ["AAPL"], ARTICLE)
    assert parse_impact(_answer(summary="苹果股价上涨"), ["AAPL"], ARTICLE, "zh").summary
    assert parse_impact(_answer(summary="Apple rose 3%."), ["AAPL"], ARTICLE).summary
