"""Running a worker app or the reader inside a test's event loop, and waiting for what it does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from faststream import FastStream

from newsflow.settings import Settings
from services.reader.main import create_app


@contextlib.asynccontextmanager
async def running(app: FastStream, stop_timeout: float = 60.0) -> AsyncIterator[None]:
    """Run a worker app in this event loop for the block, and always stop it."""
    task = asyncio.create_task(app.run())
    await asyncio.sleep(0.5)
    try:
        yield
    finally:
        app.exit()
        await asyncio.wait_for(task, stop_timeout)


@contextlib.asynccontextmanager
async def reader_client(
    settings: Settings, *, peer: tuple[str, int] = ("127.0.0.1", 123)
) -> AsyncIterator[httpx.AsyncClient]:
    """The reader app of ``settings``, its lifespan running in this event loop, and an httpx
    client that calls it in process (``http://localhost``) for the block; the app sees the
    requests come from ``peer`` (httpx's default address unless given)."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=peer), base_url="http://localhost"
        ) as client,
    ):
        yield client


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "the condition"
) -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
