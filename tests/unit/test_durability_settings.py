"""The durability settings and the reconciler's pure parts (no servers)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from newsflow.adapters.store import WRITE_CONCERNS, ArticleStore
from newsflow.domain.article import Article
from newsflow.domain.contracts import (
    ArticleTranslated,
    PageFetched,
    Status,
    TextExtracted,
    UrlSubmitted,
)
from newsflow.domain.pipeline import ANALYZER, EXTRACTOR, FETCHER, TRANSLATOR
from newsflow.domain.urls import article_id
from newsflow.runtime.reconcile import resend, waiting_status
from newsflow.settings import Settings

URL = "http://127.0.0.1:9/story"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_writes_are_journaled_unless_asked_otherwise() -> None:
    assert Settings.model_fields["mongo_write_concern"].default == "journaled"
    for kind, document in (
        ("journaled", {"w": 1, "j": True}),
        ("majority", {"w": "majority", "j": True}),
        ("fast", {}),
    ):
        assert WRITE_CONCERNS[kind].document == document
        store = ArticleStore.connect(settings(mongo_write_concern=kind))  # connects lazily
        try:
            assert store._articles.write_concern.document == document
            assert store._pages.write_concern.document == document
        finally:
            store.close()


def test_an_unknown_write_concern_is_refused() -> None:
    with pytest.raises(ValidationError, match="mongo_write_concern"):
        settings(mongo_write_concern="w0")


def test_the_reconciler_waits_longer_than_a_reclaim() -> None:
    with pytest.raises(ValidationError, match="NEWSFLOW_RECONCILE_AFTER"):
        settings(claim_idle_ms=60_000, handler_timeout=30, reconcile_after=60)
    assert (
        settings(claim_idle_ms=60_000, handler_timeout=30, reconcile_after=61).reconcile_after == 61
    )
    assert settings().reconcile_after * 1000 >= 5 * settings().claim_idle_ms  # well above


def test_each_stage_sweeps_the_status_before_it() -> None:
    assert [waiting_status(s) for s in (FETCHER, EXTRACTOR, TRANSLATOR, ANALYZER)] == [
        Status.QUEUED,
        Status.FETCHED,
        Status.EXTRACTED,
        Status.TRANSLATED,
    ]


def test_the_message_sent_again_is_the_one_the_stage_consumes() -> None:
    article = Article.model_validate({"_id": article_id(URL), "url": URL, "generation": 3})
    assert resend(FETCHER, article) == UrlSubmitted(
        url=URL, refresh=True, submitted_by="reconciler"
    )
    for stage, kind in (
        (EXTRACTOR, PageFetched),
        (TRANSLATOR, TextExtracted),
        (ANALYZER, ArticleTranslated),
    ):
        message = resend(stage, article)
        assert type(message) is kind
        assert message == kind(article_id=article.id, generation=3, url=URL)
    # no URL to send: nothing is sent (the reconciler logs it)
    assert resend(EXTRACTOR, Article.model_validate({"_id": article.id})) is None
    assert resend(FETCHER, Article.model_validate({"_id": article.id, "url": "ftp://x/y"})) is None
