"""Fixtures of the browser tests: headless Chromium, a page, and the reader over a module's
articles.

``store`` and ``reader`` are built from two fixtures the module defines: ``module_settings``
(its own database and stream prefix on the session's servers, and whatever else it needs) and
``documents`` (the article documents, as the stages leave them, its store starts with). A module
that runs the workers instead overrides ``store`` and ``reader``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from services.reader.server import ReaderThread
from tests.support.browser import CHROMIUM_ARGS, chromium_path, new_page


@pytest.fixture(scope="module")
async def store(
    module_settings: Settings, documents: list[dict[str, Any]]
) -> AsyncIterator[ArticleStore]:
    """The module's database, emptied, indexed and holding (copies of) ``documents``."""
    s = ArticleStore.connect(module_settings)
    await s.drop()
    await s.ensure_indexes()
    await s.import_documents([dict(d) for d in documents])
    yield s
    await s.drop()
    s.close()


@pytest.fixture(scope="module")
def reader(module_settings: Settings, store: ArticleStore) -> Iterator[ReaderThread]:
    """The reader on a real uvicorn (a thread of this process), once the store is ready."""
    with ReaderThread(module_settings) as server:
        yield server


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright  # the modules skip without the wheel

    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A desktop page; ``page.dialogs`` records every dialog (an alert() would be an executed
    injection), each dismissed."""
    pg = await new_page(browser)
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
    yield pg
    await pg.context.close()
