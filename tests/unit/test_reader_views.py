"""Plain logic of the reader and the store: cursors, filters, views, links, comments, the
cross-site check."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.adapters.store import ArticleFilter, BadCursor, cursor_position, encode_cursor
from newsflow.domain.article import Article
from newsflow.domain.votes import InvalidComment, clean_comment
from newsflow.settings import Settings
from services.reader import views
from services.reader.security import (
    allowed_hosts,
    cross_site_reason,
    host_allowed,
    host_name,
    new_session,
    session_valid,
)

T = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_cursor_round_trip_gives_the_position_of_the_last_article() -> None:
    article = Article.from_document({"_id": "ab" * 32, "created_at": T})
    assert cursor_position(encode_cursor(article)) == (T, "ab" * 32)
    naive = Article.from_document({"_id": "cd" * 32, "created_at": T.replace(tzinfo=None)})
    assert cursor_position(encode_cursor(naive)) == (T, "cd" * 32)


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "e30", "eyJ0IjoxfQ", "eyJ0IjoiMjAyNi0xMS0wMSIsImlkIjoxfQ", "a" * 9]
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadCursor, match="next_cursor"):
        cursor_position(cursor)


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1900-01-01T00:00:00+00:00"]
)
def test_cursors_with_times_out_of_range_are_refused(when: str) -> None:
    # They overflowed on their way to UTC: a 500 (outside review).
    raw = json.dumps({"t": when, "id": "ab" * 32}).encode()
    with pytest.raises(BadCursor, match="next_cursor"):
        cursor_position(base64.urlsafe_b64encode(raw).decode())


def test_list_filter_uses_plain_equality() -> None:
    assert ArticleFilter().query() == {}
    q = ArticleFilter(
        status="analyzed", symbol=" btc ", category="zh_news", language="zh", source="Example.ORG"
    ).query()
    assert q == {
        "status": "analyzed",
        "analysis.symbols": "BTC",
        "analysis.category": "zh_news",
        "extraction.language": "zh",
        "source": {"$in": ["Example.ORG", "example.org"]},  # exact values, no pattern
    }
    assert ArticleFilter(symbol="^.*$").query() == {"analysis.symbols": "^.*$"}  # not a regex


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://a.example/x", True),
        ("HTTP://a.example", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<b>", False),
        ("//a.example/x", False),
        ("http:///x", False),
        ("http://[::1", False),
        (None, False),
        ("  https://a.example/ ", True),
    ],
)
def test_only_http_urls_become_links(url: object, ok: bool) -> None:
    assert views.is_http_url(url) is ok


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("zh", "zh"),
        ("zh-Hant", "zh-Hant"),
        ("en-US", "en-US"),
        ('"><x', None),
        ("", None),
        (None, None),
        ("z", None),
    ],
)
def test_lang_tag(value: object, tag: str | None) -> None:
    assert views.lang_tag(value) == tag


def test_export_category() -> None:
    assert views.export_category("zh_news") == "news"
    assert views.export_category("en_crypto") == "crypto"
    assert views.export_category("news") == "news"
    assert views.export_category(None) is None


def analyzed() -> dict[str, object]:
    return {
        "_id": "f" * 64,
        "short_id": "f" * 10,
        "url": "https://a.example/1",
        "source": "a.example",
        "status": "analyzed",
        "generation": 2,
        "created_at": T,
        "times": {
            "queued_at": T,
            "fetched_at": T,
            "extracted_at": T,
            "translated_at": T,
            "analyzed_at": T + timedelta(seconds=5),
        },
        "fetch": {"status": "ok"},
        "extraction": {
            "status": "ok",
            "title": "苹果",
            "text": "第一段。\n\n第二段。",
            "language": "zh",
            "word_count": 6,
            "site_name": "新闻网",
        },
        "translation": {
            "status": "translated",
            "title": "Apple",
            "text": "One.\nTwo.",
            "provider": "openai",
            "model": "m",
            "target_language": "en",
        },
        "analysis": {
            "status": "ok",
            "word_count": 2,
            "symbols": ["AAPL"],
            "category": "zh_markets",
            "similar": [{"id": "e" * 64, "title": "old", "score": "0.5", "shared": ["AAPL"]}],
            "impact": {
                "status": "ok",
                "provider": "openai",
                "model": "m",
                "impact": {
                    "summary": "s",
                    "direction": "bullish",
                    "symbols": [],
                    "confidence": 0.5,
                },
            },
        },
        "votes": {"up": 2},
    }


def test_summary_and_page_view_of_a_translated_article() -> None:
    article = Article.from_document(analyzed())
    s = views.summary(article)
    assert (s["title"], s["original_title"], s["source"]) == ("Apple", "苹果", "新闻网")
    assert s["votes"].model_dump() == {"up": 2, "down": 0, "important": 0, "comments": 0}
    assert s["failure"] is None and s["failure_text"] is None
    v = views.page_view(article)
    assert v["text"] == ["One.", "Two."] and v["original_text"] == ["第一段。", "第二段。"]
    assert (v["original_lang"], v["target_lang"], v["word_count"]) == ("zh", "en", 6)
    assert v["export_category"] == "markets" and v["link"] == "https://a.example/1"
    assert [(x.id, x.title, x.published, x.score, x.shared) for x in v["similar"]] == [
        ("e" * 64, "old", None, 0.5, ["AAPL"])
    ]
    assert v["final"] and not v["impact_pending"]


def test_detail_drops_stage_results_that_do_not_fit_their_model() -> None:
    doc = analyzed()
    doc["fetch"] = {"status": "weird"}
    doc["translation"] = "not a document"
    d = views.detail(Article.from_document(doc))
    assert d["fetch"] is None and d["translation"] is None and d["analysis"] is not None
    assert d["title"] == "苹果"  # without the translation, the original title shows
    assert d["generation"] == 2 and d["times"]["analyzed_at"] == T + timedelta(seconds=5)
    # one similar entry that does not fit makes the analysis unreadable, not the page
    analysis = doc["analysis"]
    assert isinstance(analysis, dict)
    analysis["similar"].append({"title": "no id"})
    v = views.page_view(Article.from_document(doc))
    assert v["impact"] is None and v["similar"] == [] and v["word_count"] == 6


def test_pipeline_status_of_a_failed_article() -> None:
    doc = {
        "_id": "a" * 64,
        "status": "failed",
        "times": {"fetched_at": T},
        "fetch": {"status": "ok"},
        "failure": {"stage": "translated", "reason": "provider down", "at": T},
    }
    stages = views.pipeline_status(Article.from_document(doc))["stages"]
    assert [(s["stage"], s["state"]) for s in stages] == [
        ("fetch", "done"),
        ("extraction", "pending"),
        ("translation", "failed"),
        ("analysis", "skipped"),
    ]
    assert stages[2]["detail"] == "provider down"


def test_comments_are_checked() -> None:
    assert clean_comment("  hi\r\nthere ", 100) == "hi\nthere"
    for bad, reason in [
        ("", "empty"),
        ("  \n ", "empty"),
        ("x" * 11, "longer than 10"),
        ("a\x00b", "control"),
        ("a\x1bb", "control"),
    ]:
        with pytest.raises(InvalidComment, match=reason):
            clean_comment(bad, 10)


def scope(method: str, **headers: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_cross_site_writes_are_recognised() -> None:
    assert cross_site_reason(scope("GET", origin="https://evil.example", host="r")) is None
    assert cross_site_reason(scope("POST", host="r.example:8000")) is None  # curl, scripts
    assert (
        cross_site_reason(scope("POST", origin="http://r.example:8000", host="r.example:8000"))
        is None
    )
    assert cross_site_reason(scope("POST", origin="http://evil.example", host="r.example:8000"))
    assert cross_site_reason(scope("POST", origin="null", host="r.example"))
    assert cross_site_reason(scope("POST", sec_fetch_site="cross-site", host="r"))


def test_sessions_are_per_login_signed_and_expire() -> None:
    now = 1_800_000_000.0
    first, second = new_session("tok", now), new_session("tok", now)
    assert first != second and "tok" not in first.split(".")
    assert session_valid(first, "tok", 3600, now + 3599)
    assert not session_valid(first, "tok", 3600, now + 3600)  # expired
    assert not session_valid(first, "tok2", 3600, now)  # another token: every session ends
    version, issued, nonce, mac = first.split(".")
    assert not session_valid(f"{version}.{int(issued) + 100}.{nonce}.{mac}", "tok", 3600, now)
    assert not session_valid(f"{version}.{issued}.x{nonce}.{mac}", "tok", 3600, now)
    assert not session_valid(first, "tok", 3600, now - 120)  # issued in the future
    for bad in ("", "v1.1.2", "v2.1.2.3", "v1.x.2.3", first + ".x", "v1." + "9" * 300 + ".a.b"):
        assert not session_valid(bad, "tok", 3600, now)


@pytest.mark.parametrize(
    ("header", "name"),
    [("Example.ORG:8000", "example.org"), ("example.org.", "example.org"), ("[::1]:80", "::1"),
     ("[::1]", "::1"), ("::1", "::1"), ("localhost", "localhost"), ("", None), (":80", None),
     ("host:port", None), ("[::1", None), ("[::1]x", None),
     # a name ending like an allowed domain after a path, fragment or user-info (outside review)
     ("evil.com/.example.org", None), ("evil.com#.example.org", None),
     ("evil.com@.example.org", None), ("a b.example.org", None), ("[::1/x]", None)],
)  # fmt: skip
def test_host_names_are_read_port_agnostic(header: str, name: str | None) -> None:
    assert host_name(header) == name


def test_allowed_hosts_always_include_loopback() -> None:
    base = Settings(_env_file=None)
    assert allowed_hosts(base) == frozenset({"localhost", "127.0.0.1", "::1"})
    wide = Settings(
        reader_host="0.0.0.0", reader_allowed_hosts="news.example.org, .example.net", _env_file=None
    )
    hosts = allowed_hosts(wide)
    assert hosts == frozenset({"localhost", "127.0.0.1", "::1", "news.example.org", ".example.net"})
    assert host_allowed("x.example.net:443", hosts) and not host_allowed("xexample.net", hosts)
    assert not host_allowed("evil.com/.example.net", hosts)
    assert allowed_hosts(Settings(reader_allowed_hosts="*", _env_file=None)) is None
    assert host_allowed(None, None) and not host_allowed(None, hosts)


def test_list_extras_keep_filters_order_and_search() -> None:
    from services.reader.views import list_extras, list_state

    listing = list_state("latest", {"symbol": "BTC"})
    extras = list_extras(listing, q="比特币", sort="votes", next_cursor="abc")
    assert extras["self"] == "/?symbol=BTC&sort=votes&q=%E6%AF%94%E7%89%B9%E5%B8%81"
    assert extras["next"] == extras["self"] + "&cursor=abc"
    assert extras["hidden"] == [("sort", "votes"), ("symbol", "BTC")]
    assert extras["clear_search"] == "/?symbol=BTC&sort=votes"
    by_name = {o["name"]: o for o in extras["sorts"]}
    assert by_name["votes"]["current"] and by_name["published"]["href"].startswith(
        "/?symbol=BTC&q="
    )
    assert (
        list_extras(list_state("latest", {}), q="", sort="published", next_cursor=None)["self"]
        == "/"
    )
