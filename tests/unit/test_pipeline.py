"""The declared pipeline: one chain of streams, each stage's status and field, the claim rules."""

from __future__ import annotations

from itertools import pairwise

import pytest

from newsflow.domain.article import Article
from newsflow.domain.contracts import (
    ArticleAnalyzed,
    ArticleTranslated,
    ExtractionResult,
    FetchResult,
    PageFetched,
    StageDone,
    Status,
    TranslationResult,
)
from newsflow.domain.pipeline import (
    ANALYZED,
    ANALYZER,
    CONSUMERS,
    EXTRACTED,
    EXTRACTOR,
    FEEDER,
    FETCHER,
    NOTIFIER,
    RANK,
    SERVICES,
    STAGES,
    TERMINAL,
    TRANSLATOR,
    URLS,
    Done,
    Failed,
    Streams,
    next_message,
    service,
    stage_of,
)
from newsflow.runtime.worker import Claim, decide
from newsflow.stages.extraction import extraction_outcome
from newsflow.stages.fetching import FetchFailed, fetch_outcome
from newsflow.stages.translation import translation_outcome

AID = "ab" * 32


def test_the_stages_form_one_chain_from_urls_to_the_last_stage() -> None:
    assert STAGES[0].consumes == URLS
    for before, after in pairwise(STAGES):
        assert before.emits == after.consumes, (before.name, after.name)
    assert STAGES[-1].emits == ANALYZED and NOTIFIER.consumes == ANALYZED
    # the notifier reads the analyzer's output; the feeder reads no stream (it polls the sources)
    assert (*STAGES, NOTIFIER, FEEDER) == SERVICES
    assert FEEDER.consumes is None and FEEDER not in CONSUMERS
    assert [s.name for s in STAGES] == ["fetcher", "extractor", "translator", "analyzer"]
    assert [s.field for s in STAGES] == ["fetch", "extraction", "translation", "analysis"]
    assert [RANK[s.status] for s in STAGES] == [1, 2, 3, 4] and RANK[Status.QUEUED] == 0
    assert {Status.ANALYZED, Status.FAILED} == TERMINAL
    assert set(CONSUMERS) <= set(SERVICES) and len({s.name for s in SERVICES}) == len(SERVICES)


def test_streams_lookups_and_next_messages() -> None:
    streams = Streams("p")
    assert streams.urls == "p:urls" and streams[EXTRACTED] == "p:extracted"
    assert EXTRACTOR.emits == EXTRACTED
    assert streams.inputs() == {
        "fetcher": "p:urls",
        "extractor": "p:fetched",
        "translator": "p:extracted",
        "analyzer": "p:translated",
        "notifier": "p:analyzed",
    }
    assert service("translator") is TRANSLATOR and stage_of("extracted") is EXTRACTOR
    assert stage_of(Status.FAILED) is None
    with pytest.raises(KeyError, match="declared: fetcher"):
        service("nobody")
    done = StageDone(article_id=AID, generation=2, url="https://a.example/1")
    assert next_message(FETCHER, done) == PageFetched(
        article_id=AID, generation=2, url="https://a.example/1"
    )
    assert next_message(TRANSLATOR, done) == ArticleTranslated(
        article_id=AID, generation=2, url="https://a.example/1"
    )
    assert next_message(ANALYZER, done) == ArticleAnalyzed(
        article_id=AID, generation=2, url="https://a.example/1"
    )


def article(progress: int, generation: int = 1, **fields: object) -> Article:
    return Article.from_document(
        {"_id": AID, "progress": progress, "generation": generation, **fields}
    )


@pytest.mark.parametrize(
    ("found", "generation", "claim"),
    [
        (None, 1, Claim.LOST),  # MongoDB lost the article
        (article(1), 1, Claim.WORK),  # fetched: the extractor's work to do
        (article(0), 1, Claim.LOST),  # behind: the fetch result was lost
        (article(1, generation=1), 2, Claim.LOST),  # behind the message's generation
        (article(1, generation=3), 2, Claim.STALE),  # a refresh came since
        (article(2), 1, Claim.DONE),  # stored already: republish only
        (article(3), 1, Claim.PASSED),  # moved on
        (
            article(1, status="failed", failure={"stage": "extracted", "reason": "x"}),
            1,
            Claim.PASSED,
        ),  # this stage failed it already
        (
            article(
                1,
                status="failed",
                failure={"stage": "extracted", "reason": "x", "dead_letter": True},
            ),
            1,
            Claim.WORK,
        ),  # a retried dead letter: try again
    ],
)
def test_claim_decisions_for_the_extractor(
    found: Article | None, generation: int, claim: Claim
) -> None:
    assert decide(found, generation, EXTRACTOR) is claim


def test_stage_rules_live_in_the_stage_logic() -> None:
    ok = fetch_outcome(FetchFailed("HTTP 404 Not Found", http_status=404))
    assert isinstance(ok, Failed) and ok.reason == "HTTP 404 Not Found"
    assert isinstance(ok.result, FetchResult) and ok.result.http_status == 404
    paywalled = extraction_outcome(ExtractionResult(status="paywalled", evidence=["JSON-LD"]))
    assert isinstance(paywalled, Failed) and paywalled.counter == "paywalled"
    assert paywalled.reason == "not processed further: page is paywalled (JSON-LD)"
    broken = extraction_outcome(ExtractionResult(status="failed", error="no main content"))
    assert isinstance(broken, Failed) and broken.reason == "extraction failed: no main content"
    assert broken.counter == "failed"
    assert isinstance(extraction_outcome(ExtractionResult(status="ok")), Done)
    went_on = translation_outcome(TranslationResult(status="failed", error="provider down"))
    assert isinstance(went_on, Done) and went_on.note == "translation_failed"
    assert translation_outcome(TranslationResult(status="not_needed")) == Done(
        TranslationResult(status="not_needed")
    )
