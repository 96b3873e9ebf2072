"""The extraction stage's logic: main text, metadata and status of a page, no broker.

:func:`extract_page` is pure and synchronous (CPU-bound); :class:`ExtractorPool` runs it in
child processes that are killed on timeout, so one pathological page cannot stall a worker.
:func:`extraction_outcome` says whether the article goes on (only an ``ok`` page does).
"""

from newsflow.stages.extraction._extract import extract_page
from newsflow.stages.extraction._language import count_words, detect_language
from newsflow.stages.extraction._outcome import PAGE_MISSING, extraction_outcome
from newsflow.stages.extraction._pool import ExtractorPool
from newsflow.stages.extraction._precheck import precheck

__all__ = [
    "PAGE_MISSING",
    "ExtractorPool",
    "count_words",
    "detect_language",
    "extract_page",
    "extraction_outcome",
    "precheck",
]
