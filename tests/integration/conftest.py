"""Fixtures of the reader's integration tests: the app on the session's servers, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from tests.support.apps import reader_client


@pytest.fixture
async def client(settings: Settings, store: ArticleStore) -> AsyncIterator[httpx.AsyncClient]:
    """The reader app on the test's settings (its store ready), called in process."""
    async with reader_client(settings) as c:
        yield c
