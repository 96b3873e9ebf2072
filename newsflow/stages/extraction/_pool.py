"""Extraction in child processes that can be killed.

A page that makes trafilatura run for minutes (hundreds of thousands of siblings, deep
nesting) must not stall the worker: each page runs in a pebble process pool with a hard
timeout; on timeout pebble kills that child and starts a new one while the others keep
serving. Children are recycled after a number of pages so that memory fragmentation of
large pages does not accumulate.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from newsflow.domain.contracts import ExtractionResult
from newsflow.domain.redact import public_error
from newsflow.settings import Settings

from ._extract import extract_page
from ._precheck import precheck

log = logging.getLogger(__name__)

#: Pages a child extracts before it is replaced by a fresh one.
TASKS_PER_CHILD = 200


def _warm_up() -> None:
    # Load the language model once per child, not on the child's first page.
    from ._language import _identifier

    _identifier()


def _seconds(value: float) -> str:
    return f"{value:g} s"


class ExtractorPool:
    """Runs :func:`extract_page` in killable child processes.

    ``settings.extract_processes`` children (0 = one per core), a hard
    ``settings.extract_timeout`` per page, ``settings.extract_max_elements`` for the
    pre-check, which runs in the parent so a refused page is never sent to a child.
    """

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.extract_timeout
        self._max_elements = settings.extract_max_elements
        workers = settings.extract_processes or (os.cpu_count() or 1)
        # forkserver: children start from a clean, single-threaded server process with the
        # extraction modules preloaded, not from a fork of a threaded asyncio parent.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["newsflow.stages.extraction._extract"])
        self._pool = ProcessPool(
            max_workers=workers,
            max_tasks=TASKS_PER_CHILD,
            initializer=_warm_up,
            context=context,
        )
        self._closed = False

    async def start(self) -> None:
        """Start the children now, off the event loop.

        The pool starts its processes on the first page; that takes seconds (the forkserver
        imports the extraction modules), and done inside ``schedule`` on the event loop it
        would stall the worker's Redis reads. A worker calls this at start-up instead.
        """
        await asyncio.to_thread(lambda: self._pool.schedule(_warm_up).result())

    async def extract(self, html: str, url: str | None = None) -> ExtractionResult:
        """Extract a page; never raises for a bad page (status ``failed`` with a reason)."""
        if self._closed:
            raise RuntimeError("ExtractorPool is closed")
        if not isinstance(html, str):
            return ExtractionResult(status="failed", error="not HTML: expected decoded text")
        if reason := await asyncio.to_thread(precheck, html, self._max_elements):
            return ExtractionResult(status="failed", error=reason)
        future = self._pool.schedule(
            extract_page,
            args=(html, url),
            kwargs={"max_elements": self._max_elements, "checked": True},
            timeout=self._timeout,
        )
        try:
            return await asyncio.wrap_future(future)
        except (FutureTimeout, TimeoutError):
            return ExtractionResult(
                status="failed",
                error=f"extraction timed out after {_seconds(self._timeout)}",
            )
        except ProcessExpired as exc:
            return ExtractionResult(
                status="failed",
                error=f"extraction process died (exit code {exc.exitcode})",
            )
        except asyncio.CancelledError:
            future.cancel()  # pebble stops the child running it
            raise
        except CancelledError:
            return ExtractionResult(status="failed", error="extraction was cancelled")
        except Exception as exc:  # a library bug must not crash the worker
            # Its text (paths, internals) goes to the log; the stored reason names its kind.
            log.exception("extraction of %s failed unexpectedly", url)
            return ExtractionResult(
                status="failed", error=f"extraction error ({public_error(exc)})"
            )

    async def aclose(self) -> None:
        """Stop the children: running pages are given a few seconds, then killed."""
        if self._closed:
            return
        self._closed = True
        self._pool.close()
        try:
            await asyncio.to_thread(self._pool.join, 5)
        except TimeoutError:
            self._pool.stop()
            await asyncio.to_thread(self._pool.join)
