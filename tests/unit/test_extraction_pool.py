"""ExtractorPool: pages run in killable child processes; bad pages never stop the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psutil
import pytest

from newsflow.settings import Settings
from newsflow.stages.extraction import ExtractorPool
from tests.unit.test_extraction import EN_PARAGRAPHS, article_body, page

NORMAL = page(
    article_body(EN_PARAGRAPHS * 2, "Council approves tram extension"),
    title="Council approves tram extension | Example Times",
)


@pytest.fixture
async def pool() -> AsyncIterator[ExtractorPool]:
    pool = ExtractorPool(Settings(extract_processes=1, extract_timeout=1.5))
    yield pool
    await pool.aclose()


async def test_pool_extracts_a_page(pool: ExtractorPool) -> None:
    result = await pool.extract(NORMAL, "https://example.com/tram")
    assert result.status == "ok"
    assert result.title == "Council approves tram extension"


async def test_slow_page_is_killed_and_the_pool_keeps_serving(pool: ExtractorPool) -> None:
    # Under the element limit but quadratic for trafilatura: takes many seconds to extract.
    slow = "<html><body>" + "<p>word word</p>" * 90_000 + "</body></html>"
    assert (await pool.extract(NORMAL)).status == "ok"  # the child is up
    pids_before = _children()
    result = await pool.extract(slow)
    assert result.status == "failed"
    assert result.error == "extraction timed out after 1.5 s"
    # The child that ran it was killed and replaced; the next page is served normally.
    after = await pool.extract(NORMAL, "https://example.com/tram")
    assert after.status == "ok"
    assert _children() != pids_before


async def test_refusals_do_not_reach_a_child(pool: ExtractorPool) -> None:
    huge = "<html><body>" + "<p>x</p>" * 300_000 + "</body></html>"
    results = await asyncio.gather(
        pool.extract(huge),
        pool.extract(""),
        pool.extract("\x00\x01\x02" * 10_000),
        pool.extract(NORMAL),
    )
    assert [r.status for r in results] == ["failed", "failed", "failed", "ok"]
    assert results[0].error == "page has 300002 elements (limit 100000)"
    assert results[1].error == "empty page"
    assert (results[2].error or "").startswith("not HTML")


def _children() -> set[int]:
    """Pids of this process's descendants (the forkserver and the extraction children)."""
    return {child.pid for child in psutil.Process().children(recursive=True)}
