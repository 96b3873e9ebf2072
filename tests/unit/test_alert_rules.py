"""Alert rules: what a rule accepts, and which analyzed articles it matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from newsflow.stages.alerts import AlertRule, RuleSpec, Subject, matches, mismatch, redact_url

URL = "https://hooks.example.com/path/secret-token"


def rule(**fields: object) -> AlertRule:
    spec = RuleSpec.model_validate({"url": URL, **fields})
    return AlertRule(**spec.model_dump(), id="r1", secret="s", created_at=datetime.now(UTC))


def subject(**fields: object) -> Subject:
    values: dict[str, object] = {
        "article_id": "a" * 64,
        "short_id": "a" * 10,
        "title": "Bitcoin ETF inflows hit a record",
        "url": "https://www.coindesk.com/markets/1",
        "source": "coindesk.com",
        "site": "CoinDesk",
        "language": "en",
        "category": "en_crypto",
        "symbols": ("BTC",),
        "keywords": ("etf", "inflows"),
        "direction": "bullish",
        "confidence": 0.72,
        "summary": "Record inflows into spot bitcoin ETFs point to demand.",
        "votes": {"up": 0, "down": 0, "important": 0, "comments": 0},
    }
    values.update(fields)
    return Subject(**values)  # type: ignore[arg-type]


def test_symbol_direction_confidence_rule_matches_and_says_why_not() -> None:
    r = rule(symbols=["btc"], direction="bullish", min_confidence=0.6)
    assert r.symbols == ["BTC"]
    assert matches(r, subject())
    assert mismatch(r, subject(symbols=("ETH",))) == "no symbol BTC"
    assert mismatch(r, subject(direction="bearish")) == "direction is bearish"
    assert mismatch(r, subject(confidence=0.59)) == "confidence is 0.59"
    assert mismatch(r, subject(direction=None, confidence=None)) == "direction is not analyzed"


def test_symbols_named_only_by_the_impact_analysis_count() -> None:
    r = rule(symbols=["ETH"])
    assert not matches(r, subject())
    assert matches(r, subject(impact_symbols=("eth",)))


def test_category_by_full_name_or_topic_and_language_by_base_tag() -> None:
    assert matches(rule(categories=["crypto"]), subject())
    assert matches(rule(categories=["en_crypto"]), subject())
    assert mismatch(rule(categories=["stocks"]), subject()) == "category is en_crypto"
    assert matches(rule(languages=["zh"]), subject(language="zh-Hant"))
    assert mismatch(rule(languages=["zh"]), subject()) == "language is en"


def test_source_matches_the_host_and_its_subdomains_only() -> None:
    assert matches(rule(sources=["coindesk.com"]), subject())
    assert matches(rule(sources=["www.CoinDesk.com"]), subject())
    uk = subject(source="uk.coindesk.com", url="https://uk.coindesk.com/a")
    assert matches(rule(sources=["coindesk.com"]), uk)
    other = subject(source="notcoindesk.com", url="https://notcoindesk.com/a")
    assert not matches(rule(sources=["coindesk.com"]), other)
    # An item of a feed is named after the feed: its page's host still matches (it did not).
    fed = subject(source="CoinDesk Markets feed")
    assert matches(rule(sources=["coindesk.com"]), fed)
    assert not matches(rule(sources=["cointelegraph.com"]), fed)


def test_keywords_are_words_not_substrings_and_never_patterns() -> None:
    assert matches(rule(keywords=["ETF"]), subject())  # a keyword
    assert matches(rule(keywords=["record"]), subject(keywords=()))  # a title word
    assert matches(rule(keywords=["spot bitcoin"]), subject(keywords=()))  # a summary phrase
    assert not matches(rule(keywords=["rec"]), subject(keywords=()))
    assert not matches(rule(keywords=["E.F"]), subject(keywords=()))  # "." is no wildcard
    assert not matches(rule(keywords=["(a+)+$"]), subject(keywords=()))


def test_chinese_keywords_match_inside_text() -> None:
    s = subject(title="Nvidia results", original_title="英伟达财报超预期", keywords=())
    assert matches(rule(keywords=["英伟达"]), s)
    assert not matches(rule(keywords=["阿里巴巴"]), s)


def test_important_votes_threshold() -> None:
    r = rule(symbols=["BTC"], min_important=2)
    assert mismatch(r, subject()) == "0 important votes"
    assert matches(r, subject(votes={"important": 2}))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "at least one criterion"),
        ({"symbols": ["BTC"], "url": "ftp://x/y"}, "http:// or https://"),
        ({"symbols": ["BTC"], "format": "telegram"}, "needs chat_id"),
        ({"symbols": ["BTC"], "chat_id": "42"}, "only used by the telegram format"),
        ({"symbols": ["BTC"], "format": "telegram", "chat_id": "x y"}, "chat_id is a number"),
        ({"symbols": ["BT C"]}, "is not a symbol"),
        ({"sources": ["not a host"]}, "is not a host name"),
        ({"symbols": ["BTC"], "min_confidence": 1.5}, "less than or equal to 1"),
        ({"symbols": ["BTC"], "direction": "up"}, "bullish"),
        ({"keywords": ["a\x00b"]}, "control characters"),
        ({"symbols": ["BTC"], "url": "https://h/\x01"}, "control characters"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        RuleSpec.model_validate({"url": URL, **fields})
    assert message in str(info.value)


def test_criteria_in_words() -> None:
    r = rule(symbols=["BTC", "ETH"], direction="bullish", min_confidence=0.6, min_important=3)
    assert r.criteria() == [
        "symbol BTC or ETH",
        "direction bullish",
        "confidence >= 0.6",
        "important votes >= 3",
    ]


def test_redacted_urls_keep_the_host_only() -> None:
    assert (
        redact_url("https://api.telegram.org/bot123:SECRET/sendMessage")
        == "https://api.telegram.org/…"
    )
    assert redact_url("https://discord.com/api/webhooks/1/TOKEN") == "https://discord.com/…"
    assert (
        redact_url("http://user:pw@hooks.example.com:8443/x?k=1")
        == "http://hooks.example.com:8443/…"
    )


def test_the_secret_is_not_in_the_rule_repr() -> None:
    r = AlertRule(**rule(symbols=["BTC"]).model_dump(exclude={"secret"}), secret="whsec_TOPSECRET")
    assert "TOPSECRET" not in repr(r)
