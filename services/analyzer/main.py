"""Wiring of the analyzer worker."""

import asyncio

from newsflow.adapters.providers import ChatProvider, impact_provider
from newsflow.domain.pipeline import ANALYZER
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings
from newsflow.stages.analysis import warm_up

from .handlers import analyze


async def open_provider(settings: Settings) -> ChatProvider | None:
    await asyncio.to_thread(warm_up)  # load the Chinese dictionary before the first article
    return impact_provider(settings)


spec = StageSpec(stage=ANALYZER, handle=analyze, open_resources=open_provider)
