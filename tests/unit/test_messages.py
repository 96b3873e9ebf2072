"""Stage messages travel as plain stream fields and come back as the same models."""

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
