"""Wiring of the analyzer worker."""

import asyncio

from newsflow.stages.analysis import warm_up
from newsflow.domain.contracts import Status
from newsflow.adapters.providers import impact_provider
from newsflow.runtime.deferred import DeferredSweeper
from newsflow.runtime.worker import StageSpec, Worker
from services.analyzer.handlers import make_handler


async def open_provider(worker: Worker) -> None:
    worker.resources["provider"] = impact_provider(worker.settings)
    # Deferred impacts resume by themselves when the day's budget allows.
    sweeper = DeferredSweeper("impact", worker.settings)
    sweeper.start()
    worker.resources["deferred"] = sweeper
    await asyncio.to_thread(warm_up)  # load the Chinese dictionary before the first article


spec = StageSpec(
    service="analyzer",
    stage=Status.ANALYZED,
    make_handler=make_handler,
    open_resources=open_provider,
)
