"""Give freed heap memory back to the system now and then (glibc only).

A worker's large, short-lived buffers (a page's bytes, its decoded text, the BSON of the
write that stores it) are allocated in several threads (the decoding thread pool, motor's
executor), so in several glibc arenas. glibc returns an arena's free memory to the system
only from its top, so a worker's resident size kept growing with what it had once held,
while the Python objects it really held stayed flat (``make bench`` soak with
``--malloc-stats``; figures in the README's Benchmark section). ``malloc_trim(0)`` releases
the free pages of every arena; run every :data:`TRIM_EVERY` seconds it costs a few
milliseconds each time.

Elsewhere than glibc (musl, macOS) there is no ``malloc_trim`` and this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger("newsflow.runtime.memory")

#: Seconds between two trims: a burst of fetches fills the arenas within seconds.
TRIM_EVERY = 10.0


def malloc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)`` as a function returning 1 when memory was released, or
    None where the C library has none."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


async def trim_periodically(every: float = TRIM_EVERY) -> None:
    """Trim the heap every ``every`` seconds until cancelled (a worker's background task)."""
    trim = malloc_trim()
    if trim is None:
        log.debug("no malloc_trim in this C library: the heap is left as it is")
        return
    while True:
        await asyncio.sleep(every)
        trim()
