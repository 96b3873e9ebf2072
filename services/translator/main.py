"""Wiring of the translator worker."""

from newsflow.domain.contracts import Status
from newsflow.adapters.providers import translation_provider
from newsflow.runtime.deferred import DeferredSweeper
from newsflow.runtime.worker import StageSpec, Worker
from services.translator.handlers import make_handler


async def open_provider(worker: Worker) -> None:
    worker.resources["provider"] = translation_provider(worker.settings)
    # Deferred translations resume by themselves when the day's budget allows.
    sweeper = DeferredSweeper("translation", worker.settings)
    sweeper.start()
    worker.resources["deferred"] = sweeper


spec = StageSpec(
    service="translator",
    stage=Status.TRANSLATED,
    make_handler=make_handler,
    open_resources=open_provider,
)
