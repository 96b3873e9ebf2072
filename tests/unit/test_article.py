"""The article model: the values people see, and documents that do not fit."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.domain.article import Article
from newsflow.domain.contracts import Status

T = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
AID = "f" * 64


def doc(**fields: object) -> dict[str, object]:
    return {"_id": AID, "url": "https://a.example/1", "source": "a.example", **fields}


def test_titles_text_and_word_count_of_a_translated_article() -> None:
    a = Article.from_document(
        doc(
            extraction={
                "status": "ok",
                "title": "苹果",
                "text": "苹果大涨",
                "language": "zh",
                "word_count": 4,
                "site_name": "新闻网",
            },
            translation={"status": "translated", "title": "Apple", "text": "Apple rose."},
            analysis={"status": "ok", "word_count": 2, "symbols": ["AAPL"]},
        )
    )
    assert (a.title, a.original_title, a.headline) == ("Apple", "苹果", "Apple")
    assert (a.text, a.original_text) == ("Apple rose.", "苹果大涨")
    assert a.word_count == 4  # the extraction's count of the original, not the analysis's
    assert a.short_id == "f" * 10 and a.site == "新闻网" and a.symbols == ["AAPL"]


def test_untranslated_and_untitled_articles() -> None:
    english = Article.from_document(
        doc(
            extraction={"status": "ok", "title": "Apple rose", "text": "Text.", "word_count": 1},
            translation={"status": "not_needed", "title": None},
        )
    )
    assert (english.title, english.original_title, english.text) == ("Apple rose", None, "Text.")
    failed = Article.from_document(
        doc(
            translation={"status": "failed", "error": "down"},
            extraction={"status": "ok", "title": "Orig"},
        )
    )
    assert (failed.title, failed.original_title) == ("Orig", None)
    queued = Article.from_document(doc())
    assert queued.title == "https://a.example/1" and queued.word_count == 0
    assert queued.site == "a.example" and queued.status is Status.QUEUED


def test_an_item_of_a_feed_shows_its_source_and_keeps_its_page_host() -> None:
    item = Article.from_document(
        doc(
            url="https://www.CoinDesk.com/markets/1",
            source="CoinDesk headlines",
            hints={"source_id": "abc123"},
        )
    )
    assert (item.site, item.host) == ("CoinDesk headlines", "coindesk.com")
    assert Article.from_document(doc()).host == "a.example"


def test_failure_in_words_only_while_failed() -> None:
    failure = {
        "stage": "extracted",
        "reason": "not processed further: page is paywalled (x)",
        "at": T,
    }
    failed = Article.from_document(doc(status="failed", failure=failure))
    assert failed.failure_text == (
        "failed at extraction: not processed further: page is paywalled (x)"
    )
    assert Article.from_document(doc(status="queued", failure=failure)).failure_text is None


def test_fields_that_do_not_fit_are_read_as_absent_and_kept() -> None:
    a = Article.from_document(
        doc(
            fetch={"status": "weird"},
            translation="not a document",
            votes={"up": "many"},
            extraction={"status": "ok", "title": "Kept", "word_count": 3},
            created_at=datetime(2026, 1, 1),  # noqa: DTZ001 - naive: read as UTC
            clusters={"id": "s1"},  # a field a later feature adds rides along
        )
    )
    assert a.fetch is None and a.translation is None and a.votes.up == 0
    assert a.unreadable == {
        "fetch": {"status": "weird"},
        "translation": "not a document",
        "votes": {"up": "many"},
    }
    assert a.title == "Kept" and a.word_count == 3
    assert a.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert a.model_extra == {"clusters": {"id": "s1"}}
    assert a.document()["translation"] == "not a document" and a.document()["_id"] == AID
