"""Webhook bodies in each format, signatures, idempotency keys and the retry backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from newsflow.stages.alerts import (
    AlertRule,
    RuleSpec,
    Subject,
    backoff_delay,
    idempotency_key,
    render,
    signature,
    signed_headers,
    verify,
)

PAGE = "https://news.example.org/articles/" + "a" * 64
HOSTILE = "Buy <b>now</b> & @everyone <!channel> [click](http://evil.example) *bold*\x00\u2028"


def rule(fmt: str = "json", **fields: object) -> AlertRule:
    extra: dict[str, object] = {"chat_id": "-1001234567890"} if fmt == "telegram" else {}
    spec = RuleSpec.model_validate(
        {
            "url": "https://hooks.example.com/x",
            "symbols": ["BTC"],
            "format": fmt,
            "name": "BTC watch",
            **extra,
            **fields,
        }
    )
    return AlertRule(**spec.model_dump(), id="r1", secret="whsec_x", created_at=datetime.now(UTC))


def subject(**fields: object) -> Subject:
    values: dict[str, object] = {
        "article_id": "a" * 64,
        "short_id": "a" * 10,
        "title": "Bitcoin rallies",
        "original_title": "比特币大涨",
        "url": "https://src.example/1",
        "source": "src.example",
        "site": "Source",
        "language": "zh",
        "category": "zh_crypto",
        "symbols": ("BTC",),
        "keywords": ("bitcoin",),
        "published": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "direction": "bullish",
        "confidence": 0.8,
        "summary": "Inflows rise.",
        "impact_symbols": ("BTC",),
        "votes": {"up": 1, "down": 0, "important": 2, "comments": 0},
    }
    values.update(fields)
    return Subject(**values)  # type: ignore[arg-type]


def body(fmt: str, **fields: object) -> dict[str, object]:
    key = idempotency_key("r1", "a" * 64)
    return json.loads(render(rule(fmt), subject(**fields), page_url=PAGE, key=key).body)  # type: ignore[no-any-return]


def test_generic_json_carries_the_article_rule_and_key() -> None:
    data = body("json")
    assert data["type"] == "article.matched"
    assert data["idempotency_key"] == hashlib.sha256(b"r1:" + b"a" * 64).hexdigest()
    assert data["rule"] == {"id": "r1", "name": "BTC watch", "criteria": ["symbol BTC"]}
    article = data["article"]
    assert isinstance(article, dict)
    assert article["title"] == "Bitcoin rallies" and article["original_title"] == "比特币大涨"
    assert article["page_url"] == PAGE and article["source_url"] == "https://src.example/1"
    assert article["impact"] == {
        "direction": "bullish",
        "confidence": 0.8,
        "summary": "Inflows rise.",
        "symbols": ["BTC"],
    }
    assert article["published"] == "2026-01-02T03:04:05+00:00"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def test_telegram_is_a_send_message_call_whose_html_holds_only_our_tags() -> None:
    data = body("telegram", title=HOSTILE, summary=HOSTILE)
    assert set(data) == {"chat_id", "text", "parse_mode", "disable_web_page_preview"}
    assert data["chat_id"] == -1001234567890 and data["parse_mode"] == "HTML"
    parser = _Tags()
    parser.feed(str(data["text"]))
    assert parser.tags == ["b", "a", "i"]  # the article's <b> stayed text
    assert "Buy <b>now</b> & @everyone" in parser.text
    assert len(parser.text) <= 4096
    assert "\x00" not in parser.text and "\u2028" not in parser.text


def test_telegram_text_stays_under_the_limit_with_a_huge_summary() -> None:
    data = body("telegram", summary="<&>" * 2000)
    parser = _Tags()
    parser.feed(str(data["text"]))
    assert len(parser.text) <= 4096
    assert parser.tags == ["b", "a", "i"]


def test_channel_chat_ids_stay_strings() -> None:
    data = json.loads(
        render(rule("telegram", chat_id="@newsflow_alerts"), subject(), page_url=PAGE, key="k").body
    )
    assert data["chat_id"] == "@newsflow_alerts"


def test_discord_embed_links_the_page_and_mentions_nobody() -> None:
    data = body("discord", title=HOSTILE, summary=HOSTILE)
    assert data["allowed_mentions"] == {"parse": []}
    embeds = data["embeds"]
    assert isinstance(embeds, list) and len(embeds) == 1
    embed = embeds[0]
    assert embed["url"] == PAGE and len(embed["title"]) <= 256
    assert "[click](http" not in embed["description"]  # no masked link from article text
    assert "\\[click\\]\\(http" in embed["description"]
    assert embed["color"] == 0x2EB67D and embed["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert len(str(data["content"])) <= 2000


def test_slack_blocks_escape_the_control_sequences() -> None:
    data = body("slack", title=HOSTILE, summary=HOSTILE)
    blocks = data["blocks"]
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["section", "context"]
    section = blocks[0]["text"]["text"]
    assert section.startswith(
        f"*<{PAGE}|Buy &lt;b&gt;now&lt;/b&gt; &amp; @everyone &lt;!channel&gt;"
    )
    assert "<!channel>" not in section and len(section) <= 3000
    text = data["text"]
    assert isinstance(text, str) and "@everyone &lt;!channel&gt;" in text
    assert "<!channel>" not in text


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    payload = b'{"a":1}'
    expected = hmac.new(b"whsec_x", b"1700000000." + payload, hashlib.sha256).hexdigest()
    assert signature("whsec_x", 1700000000, payload) == "sha256=" + expected
    headers = signed_headers("whsec_x", payload, "key1", now=1700000000.5)
    assert headers == {
        "X-Newsflow-Timestamp": "1700000000",
        "X-Newsflow-Signature": "sha256=" + expected,
        "Idempotency-Key": "key1",
    }


def test_verify_refuses_a_changed_body_a_wrong_secret_and_old_or_future_timestamps() -> None:
    payload = b'{"a":1}'
    sig = signature("whsec_x", 1700000000, payload)
    assert verify("whsec_x", "1700000000", sig, payload, now=1700000100)
    assert not verify("whsec_x", "1700000000", sig, payload + b" ", now=1700000100)
    assert not verify("whsec_y", "1700000000", sig, payload, now=1700000100)
    assert not verify("whsec_x", "1700000000", sig, payload, now=1700000000 + 301)
    assert not verify("whsec_x", "1700000000", sig, payload, now=1700000000 - 301)
    assert not verify("whsec_x", None, sig, payload, now=1700000000)
    assert not verify("whsec_x", "17e8", sig, payload, now=1700000000)


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base=1.0, cap=30.0, jitter=0.0, rng=rng) for n in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(1, base=1.0, cap=30.0, retry_after=12, jitter=0.0) == 12.0
    assert backoff_delay(1, base=1.0, cap=30.0, retry_after=3600, jitter=0.0) == 30.0
    spread = {round(backoff_delay(3, base=1.0, cap=30.0, rng=rng), 3) for _ in range(20)}
    assert all(3.6 <= d <= 4.4 for d in spread) and len(spread) > 1
    with pytest.raises(ValueError):
        backoff_delay(0, base=1.0, cap=30.0)
