"""Wiring of the fetcher worker."""

from newsflow.domain.contracts import Status
from newsflow.stages.fetching import PageFetcher
from newsflow.runtime.worker import StageSpec, Worker
from services.fetcher.handlers import make_handler


async def open_client(worker: Worker) -> None:
    worker.resources["fetcher"] = PageFetcher(worker.settings)


spec = StageSpec(
    service="fetcher",
    stage=Status.FETCHED,
    make_handler=make_handler,
    open_resources=open_client,
)
