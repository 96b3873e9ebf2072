"""A burst of requests waits for Redis connections instead of failing.

redis-py's default pool raises "Too many connections" past 100: 300 requests at once made the
reader answer 503 to two thirds of them (outside review). The pool now makes them wait.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from tests.support.apps import reader_client

pytestmark = pytest.mark.integration


async def test_300_requests_at_once_are_all_answered(
    settings: Settings, store: ArticleStore
) -> None:
    async with reader_client(settings) as client:
        answers = await asyncio.gather(*(client.get("/api/pipeline") for _ in range(300)))
    assert Counter(r.status_code for r in answers) == {200: 300}
