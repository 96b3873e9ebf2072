"""Fixtures of the reader's integration tests: the app on the session's servers, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from services.reader.main import create_app


@pytest.fixture
async def app(settings: Settings, store: ArticleStore) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c
