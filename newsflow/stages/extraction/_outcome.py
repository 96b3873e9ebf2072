"""What an extraction comes to for the article: only an ``ok`` page goes on."""

from __future__ import annotations

from newsflow.domain.contracts import ExtractionResult
from newsflow.domain.pipeline import Done, Failed, StageOutcome

#: Why an article stops when its fetched page is gone (lost, or of another generation).
PAGE_MISSING = "the fetched page is missing from the store"


def extraction_outcome(result: ExtractionResult) -> StageOutcome:
    """An ``ok`` extraction goes on to translation. Any other status stops the article, with
    the result stored: ``failed`` as ``extraction failed: <error>``, a page that is not an
    article as ``not processed further: page is paywalled (<evidence>)``, counted under its
    status (``paywalled``, ``teaser``...)."""
    if result.status == "ok":
        return Done(result)
    detail = result.error or "; ".join(result.evidence) or result.status
    if result.status == "failed":
        return Failed(f"extraction failed: {detail}", result)
    return Failed(
        f"not processed further: page is {result.status} ({detail})",
        result,
        counter=result.status,
    )
