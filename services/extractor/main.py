"""Wiring of the extractor worker: extraction runs in a pool of child processes."""

import os

from newsflow.domain.pipeline import EXTRACTOR
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings
from newsflow.stages.extraction import ExtractorPool

from .handlers import extract


async def open_pool(settings: Settings) -> ExtractorPool:
    pool = ExtractorPool(settings)
    await pool.start()
    return pool


def pool_concurrency(settings: Settings) -> int:
    """Enough messages in flight to keep every child process busy."""
    processes = settings.extract_processes or os.cpu_count() or 1
    return processes * 2


spec = StageSpec(
    stage=EXTRACTOR, handle=extract, open_resources=open_pool, concurrency=pool_concurrency
)
