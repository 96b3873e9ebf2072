"""Wiring of the extractor worker: extraction runs in a pool of child processes."""

import os

from newsflow.domain.contracts import Status
from newsflow.stages.extraction import ExtractorPool
from newsflow.settings import Settings
from newsflow.runtime.worker import StageSpec, Worker
from services.extractor.handlers import make_handler


async def open_pool(worker: Worker) -> None:
    pool = ExtractorPool(worker.settings)
    await pool.start()
    worker.resources["pool"] = pool



def pool_concurrency(settings: Settings) -> int:
    """Enough messages in flight to keep every child process busy."""
    processes = settings.extract_processes or os.cpu_count() or 1
    return processes * 2


spec = StageSpec(
    service="extractor",
    stage=Status.EXTRACTED,
    make_handler=make_handler,
    open_resources=open_pool,
    concurrency=pool_concurrency,
)
