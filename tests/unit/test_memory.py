"""The workers' heap trimming (glibc's malloc_trim) finds its function and stops when asked."""

from __future__ import annotations

import asyncio
import os
import platform

import pytest

from newsflow.runtime import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_malloc_trim_gives_freed_memory_back() -> None:
    trim = memory.malloc_trim()
    assert trim is not None
    # 200 MB of small blocks in malloc's heap, freed, with a block allocated after them that
    # keeps the heap's top in use: free() alone gives none of it back to the system.
    blocks = [bytearray(1000) for _ in range(200_000)]
    pin = bytearray(1000)
    del blocks
    before = _rss()
    assert trim() == 1
    assert before - _rss() > 100_000_000, "malloc_trim gave less than 100 MB back"
    del pin


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


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
