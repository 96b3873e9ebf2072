"""Stage messages travel as plain stream fields and come back as the same models."""

import pytest
from pydantic import ValidationError

from newsflow.domain.contracts import PageFetched, UrlSubmitted
from newsflow.runtime.delivery import article_of

AID = "ab" * 32


def test_stage_messages_round_trip_as_plain_fields() -> None:
    msg = PageFetched(article_id=AID, generation=3, url="https://example.org/a")
    fields = msg.to_fields()
    assert fields == {
        "schema_version": "1",
        "article_id": AID,
        "generation": "3",
        "url": "https://example.org/a",
    }
    assert PageFetched.model_validate(fields) == msg
    # the dead-letter path finds the article of such an entry (to mark it failed)
    assert article_of(fields) == (AID, 3)


def test_booleans_and_missing_values() -> None:
    fields = UrlSubmitted(url="https://example.org/b", refresh=True).to_fields()
    assert fields["refresh"] == "true" and "article_id" not in fields
    assert UrlSubmitted.model_validate(fields).refresh is True
    assert "url" not in PageFetched(article_id=AID).to_fields()
    assert article_of({"url": "https://example.org/b"}) == (None, None)


def test_values_mongodb_or_an_article_could_not_hold_are_refused() -> None:
    # An outside review: a 40-digit generation passed validation, then could not be written
    # (OverflowError in the driver), so the entry was retried forever, never dead-lettered;
    # a 1 MB submitted_by was kept on the article, 20 times.
    with pytest.raises(ValidationError, match="generation"):
        PageFetched.model_validate({"article_id": AID, "generation": "9" * 40})
    assert PageFetched(article_id=AID, generation=2**63 - 1).generation == 2**63 - 1
    with pytest.raises(ValidationError, match="submitted_by"):
        UrlSubmitted.model_validate({"url": "https://a.example/", "submitted_by": "x" * 201})


def test_a_dead_letter_with_an_impossible_generation_names_no_article() -> None:
    # Its dead letter must not try to fail an article with it: MongoDB's driver refused the
    # number, so the entry stayed pending forever and blocked the streams' trimming.
    fields = {"article_id": AID, "generation": "9" * 40}
    assert article_of(fields) == (None, None)
    assert article_of({**fields, "generation": "0"}) == (None, None)
    assert article_of({**fields, "generation": str(2**63 - 1)}) == (AID, 2**63 - 1)
