"""The workers' heap trimming (glibc's malloc_trim) finds its function and stops when asked."""

from __future__ import annotations

import asyncio
import platform

import pytest

from newsflow.runtime import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_malloc_trim_gives_freed_memory_back() -> None:
    trim = memory.malloc_trim()
    assert trim is not None
    blocks = [bytearray(200_000) for _ in range(500)]  # 100 MB in malloc's heap
    del blocks
    assert trim() in (0, 1)


async def test_the_periodic_trim_runs_and_stops_when_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "malloc_trim", lambda: lambda: calls.append(1) or 1)
    task = asyncio.create_task(memory.trim_periodically(every=0.01))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(calls) >= 3
