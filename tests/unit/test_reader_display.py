"""How the reader words what it shows (services.reader.display, newsflow.domain.sites)."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.domain.article import Article
from newsflow.domain.sites import plausible_site
from services.reader.display import failure_words, length_words, provider_name, time_shown

T = datetime(2026, 11, 1, tzinfo=UTC)


def test_provider_names() -> None:
    assert provider_name("gemini", "gemini-2.5-flash") == "Gemini"
    assert provider_name("api.x.ai", "grok-4") == "Grok"
    assert provider_name("127.0.0.1:8798", "gpt-4o-mini") == "OpenAI"
    assert provider_name("127.0.0.1:8798", "stand-in") == "a local model"
    assert provider_name("llm.internal.example:443", "my-model") == "an OpenAI-compatible service"
    assert provider_name(None, None) == "an OpenAI-compatible service"
    assert provider_name("stand-in", "m") == "stand-in"  # a name already


def test_failure_words() -> None:
    doc = {
        "_id": "a" * 64,
        "status": "failed",
        "failure": {"stage": "fetched", "reason": "HTTP 404 Not Found", "at": T},
    }
    assert failure_words(Article.from_document(doc)) == (
        "failed: HTTP 404 Not Found (while fetching the page)"
    )
    assert failure_words(Article.from_document(doc | {"status": "analyzed"})) is None


def test_lengths() -> None:
    assert length_words(1234, "en") == "1,234 words"
    assert length_words(1234, "zh") == "1,234 characters"
    assert length_words(1, "zh-TW") == "1 character"


def test_time_shown() -> None:
    base = {"_id": "b" * 64, "created_at": T}
    assert time_shown(Article.from_document(base)) == ("received", T)
    dated = base | {"extraction": {"status": "ok", "published": datetime(2005, 1, 1, tzinfo=UTC)}}
    assert time_shown(Article.from_document(dated)) == (
        "published",
        datetime(2005, 1, 1, tzinfo=UTC),
    )


def test_site_names() -> None:
    assert plausible_site("Reuters", "Senate passes", "reuters.com")
    assert not plausible_site("U.S.", "Senate passes", "reuters.com")  # a section
    assert not plausible_site("Modern Marketing", "x", "journals.example.org")  # a topic
    assert not plausible_site("Senate passes the bill", "Senate passes the bill", "x.com")
    assert plausible_site("The Wall Street Journal", "x", "wsj.com")  # initials
    assert plausible_site("华尔街见闻", "x", "wallstreetcn.com")
    # a copyright line, or a list of names, in the site-name slot (reviewer, corpus pages)
    assert not plausible_site("人民网版权所有", "x", "people.com.cn")
    assert not plausible_site(
        "www.yunnan.cn,云南日报网,云南日报报业集团新闻网络信息中心", "x", "yunnan.cn"
    )
    assert plausible_site("人民网", "x", "people.com.cn")
    doc = {
        "_id": "c" * 64,
        "source": "reuters.com",
        "extraction": {"status": "ok", "title": "Senate passes", "site_name": "U.S."},
    }
    assert Article.from_document(doc).site == "reuters.com"
