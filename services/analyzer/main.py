"""Wiring of the analyzer worker."""

from newsflow.contracts import Status
from newsflow.providers import impact_provider
from newsflow.worker import StageSpec, Worker
from services.analyzer.handlers import make_handler


async def open_provider(worker: Worker) -> None:
    worker.resources["provider"] = impact_provider(worker.settings)


async def close_provider(worker: Worker) -> None:
    provider = worker.resources.get("provider")
    if provider is not None and hasattr(provider, "aclose"):
        await provider.aclose()


spec = StageSpec(
    service="analyzer",
    stage=Status.ANALYZED,
    make_handler=make_handler,
    open_resources=open_provider,
    close_resources=close_provider,
)
